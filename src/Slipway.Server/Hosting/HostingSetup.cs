using Microsoft.Extensions.DependencyInjection.Extensions;
using Slipway.Server.Data;

namespace Slipway.Server.Hosting;

internal sealed class ApiOptions
{
    public const string SectionName = "Slipway:Api";

    /// <summary>Largest JSON request body accepted, in bytes (413 beyond). Upload endpoints set their own limit.</summary>
    public long MaxBodyBytes { get; set; } = 1 << 20;

    /// <summary>Public base URL of the router, used to build project URLs (<c>http://{name}.{domain}:8000</c>).</summary>
    public string RouterBaseDomain { get; set; } = "localhost";
    public string RouterPublicScheme { get; set; } = "http";
    public int RouterPublicPort { get; set; } = 8000;
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
        // Project URLs follow the router's own settings unless the public address is configured separately
        // (e.g. a TLS proxy on 443 in front of the router).
        if (builder.Configuration["Slipway:Api:RouterBaseDomain"] is null && builder.Configuration["Slipway:Router:BaseDomain"] is { Length: > 0 } baseDomain)
        {
            api.RouterBaseDomain = baseDomain;
        }
        if (builder.Configuration["Slipway:Api:RouterPublicPort"] is null
            && builder.Configuration["Slipway:Router:Urls"]?.Split(';')[0] is { Length: > 0 } routerUrl
            && Uri.TryCreate(routerUrl.Replace("://*", "://localhost", StringComparison.Ordinal).Replace("://+", "://localhost", StringComparison.Ordinal), UriKind.Absolute, out var routerUri)
            && routerUri.Port > 0)
        {
            api.RouterPublicPort = routerUri.Port;
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
        builder.Services.ConfigureHttpJsonOptions(o => SlipwayJson.Configure(o.SerializerOptions));
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.AddHostedService<StartupWork>();
        return builder;
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
