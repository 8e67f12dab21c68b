namespace Slipway.Server.Deployments;

internal static class DeploymentRegistration
{
    public static WebApplicationBuilder AddDeployments(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<DeploymentQueue>();
        builder.Services.AddSingleton<DeploymentMetrics>();
        builder.Services.AddSingleton<DeploymentReadCache>();
        builder.Services.AddScoped<DeploymentAccess>();
        builder.Services.AddScoped<DeploymentStates>();
        builder.Services.AddScoped<DeploymentQueueing>();
        builder.Services.AddScoped<ProjectTeardown>();
        builder.Services.AddSingleton<ReleaseFiles>();
        builder.Services.AddSingleton<SourcePhase>();
        builder.Services.AddSingleton<BuildPhase>();
        builder.Services.AddSingleton<ReleasePhase>();
        builder.Services.AddSingleton<RoutePhase>();
        builder.Services.AddSingleton<RouteSync>();
        builder.Services.AddHostedService(s => s.GetRequiredService<RouteSync>());
        builder.Services.AddHostedService<DeploymentWorker>();
        return builder;
    }
}
