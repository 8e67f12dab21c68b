using Slipway.Server;
using Slipway.Server.ApiKeys;
using Slipway.Server.Auth;
using Slipway.Server.Builds;
using Slipway.Server.Dashboard;
using Slipway.Server.Data;
using Slipway.Server.Deployments;
using Slipway.Server.Domains;
using Slipway.Server.EnvVars;
using Slipway.Server.GitHub;
using Slipway.Server.Hosting;
using Slipway.Server.Logs;
using Slipway.Server.Observability;
using Slipway.Server.OpenApi;
using Slipway.Server.Projects;
using Slipway.Server.RateLimiting;
using Slipway.Server.Routing;
using Slipway.Server.Runtime;
using Slipway.Server.Security;
using Slipway.Server.SocketIo;
using Slipway.Server.Uploads;
using Slipway.Server.Usage;
using Slipway.Server.Webhooks;
using Slipway.Server.Workspaces;

if (args.Any(a => a is "--help" or "-h" or "-?"))
{
    // Before anything is built: asking for help creates no data directory and opens no port.
    Console.WriteLine(SlipwayApp.Usage);
    return 0;
}
var migrateOnly = args.Contains("--migrate-only");
var reencryptSecrets = args.Contains("--reencrypt-secrets");
var app = SlipwayApp.Create(args.Where(a => a is not ("--migrate-only" or "--reencrypt-secrets")).ToArray());
if (migrateOnly || reencryptSecrets)
{
    var applied = await app.Services.GetRequiredService<MigrationRunner>().MigrateAsync(CancellationToken.None);
    Console.WriteLine($"Applied {applied} migration(s).");
    await app.Services.GetRequiredService<RepoCredentials>().SealPlaintextAsync(CancellationToken.None);
    if (!reencryptSecrets) return 0;
    var failed = 0;
    foreach (var (what, pass) in new (string, Func<CancellationToken, Task<ReencryptResult>>)[]
             {
                 ("env var value(s)", app.Services.GetRequiredService<EnvVarSecrets>().ReencryptAllAsync),
                 ("GitHub webhook secret(s)", app.Services.GetRequiredService<GitHubSecrets>().ReencryptAllAsync),
                 ("webhook endpoint secret(s)", app.Services.GetRequiredService<WebhookDirectory>().ReencryptAllAsync),
                 ("repository credential(s)", app.Services.GetRequiredService<RepoCredentials>().ReencryptAllAsync),
             })
    {
        var result = await pass(CancellationToken.None);
        Console.WriteLine($"Re-encrypted {result.Reencrypted} {what}; {result.Failed} could not be opened.");
        failed += result.Failed;
    }
    return failed == 0 ? 0 : 1;
}
if (ListenCheck.Problem(app) is { } taken)
{
    Console.Error.WriteLine(taken);
    return 1;
}
await app.RunAsync();
return 0;

namespace Slipway.Server
{
    /// <summary>The table of contents: every feature registers itself and maps its endpoints here.</summary>
    public static class SlipwayApp
    {
        public const string Usage = """
            Usage: dotnet Slipway.Server.dll [options]

            Starts the Slipway server: the API (and the dashboard) on http://127.0.0.1:8080, the router on
            http://127.0.0.1:8000, SQLite and every file under ./.slipway.

            Options:
              --urls <url>           where the API listens (or ASPNETCORE_URLS)
              --migrate-only         apply the database migrations and exit
              --reencrypt-secrets    re-seal every stored secret under the active master key and exit
              -h, --help             show this text

            Every setting is also an environment variable (':' written '__'), for example
              Slipway__DataDirectory=/var/lib/slipway     Slipway__Router__Urls=http://0.0.0.0:80
              Slipway__Database__Provider=postgres        Slipway__Projects__AllowLocalRepositories=true
            docs/operations.md lists them all.
            """;

        public static WebApplication Create(string[] args, Action<WebApplicationBuilder>? configure = null)
        {
            // Configuration is read once at start-up. Reloading it on change would watch the content root, which (with the
            // default ./.slipway data directory under it) sees a file event for every database write. A caller's own
            // --hostBuilder:reloadConfigOnChange comes later in the list and wins.
            var builder = WebApplication.CreateBuilder(["--hostBuilder:reloadConfigOnChange=false", .. args]);
            configure?.Invoke(builder);

            builder.AddHosting();
            builder.AddObservability();
            builder.AddSlipwayData();
            builder.AddAuth();
            builder.AddApiKeys();
            builder.AddRateLimits();
            builder.AddProjects();
            builder.AddEnvVars();
            builder.AddLogs();
            builder.AddBuilds();
            builder.AddRuntime();
            builder.AddSlipwayRouter();
            builder.AddDeployments();
            builder.AddUploads();
            builder.AddWebhooks();
            builder.AddSocketIo();
            builder.AddGitHub();
            builder.AddSecurity();
            builder.AddOpenApiDocument();
            builder.AddDashboard();

            var app = builder.Build();

            app.UseRequestIds();
            app.UseObservability();
            app.UseApiErrors();
            app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = WebSocketBursts.KeepAliveInterval });
            app.UseRouting();
            app.UseSlipwayAuthentication();
            app.UseRateLimits();
            app.UseRequiredScopes();
            app.UseIdempotency();

            app.MapObservabilityEndpoints();
            app.MapOpenApiDocument();
            app.MapAuthEndpoints();
            app.MapWorkspaceEndpoints();
            app.MapApiKeyEndpoints();
            app.MapProjectEndpoints();
            app.MapEnvironmentEndpoints();
            app.MapEnvVarEndpoints();
            app.MapDomainEndpoints();
            app.MapDeploymentEndpoints();
            app.MapUploadEndpoints();
            app.MapGitHubEndpoints();
            app.MapBuildEndpoints();
            app.MapLogEndpoints();
            app.MapWebhookEndpoints();
            app.MapSecurityEndpoints();
            app.MapUsageEndpoints();
            app.MapSocketIo();
            app.MapDashboard();
            app.WarmUpEndpoints();
            return app;
        }
    }
}
