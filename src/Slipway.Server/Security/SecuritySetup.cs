namespace Slipway.Server.Security;

/// <summary>Security triage: SARIF from scanners and uploads becomes findings that survive rescans.</summary>
internal static class SecuritySetup
{
    public static WebApplicationBuilder AddSecurity(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton(builder.Configuration.GetSection(SecurityOptions.SectionName).Get<SecurityOptions>() ?? new SecurityOptions());
        builder.Services.AddScoped<SarifIngestion>();
        builder.Services.AddScoped<DeploymentGate>();
        builder.Services.AddScoped<FixFinder>();
        builder.Services.AddSingleton<ScannedCommit>();
        builder.Services.AddSingleton<ScannerCatalog>();
        builder.Services.AddSingleton<ScanRunner>();
        builder.Services.AddSingleton<ScanQueue>();
        builder.Services.AddHostedService<ScanWorker>();
        return builder;
    }

    public static IEndpointRouteBuilder MapSecurityEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapRepositoryEndpoints();
        app.MapScanEndpoints();
        app.MapFindingEndpoints();
        app.MapFixEndpoints();
        return app;
    }
}
