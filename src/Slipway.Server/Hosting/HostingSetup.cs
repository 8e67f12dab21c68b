using Microsoft.Extensions.DependencyInjection.Extensions;
using Slipway.Server.Data;

namespace Slipway.Server.Hosting;

internal sealed class ApiOptions
{
    public const string SectionName = "Slipway:Api";

    /// <summary>Largest JSON request body accepted, in bytes (413 beyond). Upload endpoints set their own limit.</summary>
    public long MaxBodyBytes { get; set; } = 1 << 20;

    /// <summary>
    /// The API's public base URL (e.g. <c>https://deploy.example.com</c>) for URLs handed to other systems, such as a
    /// GitHub webhook's payload URL. Unset: the scheme and host of the request that asks.
    /// </summary>
    public string? PublicUrl { get; set; }
}

internal static class HostingSetup
{
    public const string DefaultUrl = "http://127.0.0.1:8080";

    public static WebApplicationBuilder AddHosting(this WebApplicationBuilder builder)
    {
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }
        var api = builder.Configuration.GetSection(ApiOptions.SectionName).Get<ApiOptions>() ?? new ApiOptions();
        if (api.PublicUrl is { Length: > 0 } publicUrl
            && (!Uri.TryCreate(publicUrl, UriKind.Absolute, out var parsed) || parsed.Scheme is not ("http" or "https") || parsed.Query.Length > 0
                || parsed.Fragment.Length > 0 || parsed.UserInfo.Length > 0))
        {
            throw new InvalidOperationException($"{ApiOptions.SectionName}:PublicUrl must be an absolute http(s) URL without credentials, query or fragment.");
        }
        builder.Services.AddSingleton(api);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = api.MaxBodyBytes;
        });
        // TryAdd: tests register their own clock first to drive expiry and backoff.
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<Readiness>();
        builder.Services.ConfigureHttpJsonOptions(o => SlipwayJson.ConfigureRequests(o.SerializerOptions));
        // The JSON console log format (Logging:Console:FormatterName=json) writes messages as plain as the API does.
        builder.Services.Configure<Microsoft.Extensions.Logging.Console.JsonConsoleFormatterOptions>(o =>
            o.JsonWriterOptions = o.JsonWriterOptions with { Encoder = SlipwayJson.Options.Encoder });
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.AddHostedService<StartupWork>();
        return builder;
    }

    /// <summary>
    /// Builds every endpoint once, in the background, while the host starts (migrations, the router): the first request
    /// then finds the handlers' code compiled instead of compiling it for every endpoint on its own clock. Anything
    /// thrown here is thrown again, where it belongs, when the routing middleware builds the endpoints.
    /// </summary>
    public static void WarmUpEndpoints(this WebApplication app)
    {
        var sources = ((IEndpointRouteBuilder)app).DataSources.ToArray();
        _ = Task.Run(() =>
        {
            try
            {
                foreach (var source in sources) _ = source.Endpoints;
            }
            catch (Exception)
            {
            }
        });
    }

    /// <summary>Migrations before anything else starts; readiness flips when the host has started and back on shutdown.</summary>
    private sealed class StartupWork(MigrationRunner migrations, Readiness readiness, IHostApplicationLifetime lifetime) : IHostedService
    {
        public async Task StartAsync(CancellationToken cancellationToken)
        {
            await migrations.MigrateAsync(cancellationToken);
            lifetime.ApplicationStarted.Register(readiness.MarkReady);
            lifetime.ApplicationStopping.Register(() => readiness.MarkNotReady("shutting down"));
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
