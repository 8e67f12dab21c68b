using Slipway.Server.Hosting;

namespace Slipway.Server.Builds;

internal static class BuildsSetup
{
    /// <summary>Source checkout, shell runner and artifact store for the deployment worker; no endpoints of its own.</summary>
    public static WebApplicationBuilder AddBuilds(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton(builder.Configuration.GetSection(BuildOptions.SectionName).Get<BuildOptions>() ?? new BuildOptions());
        builder.Services.AddSingleton<GitSource>();
        builder.Services.AddSingleton<ShellRunner>();
        builder.Services.AddSingleton(services => new ArtifactStore(
            Path.Combine(builder.Configuration.DataDirectory(), "artifacts"), services.GetRequiredService<ILogger<ArtifactStore>>()));
        return builder;
    }
}
