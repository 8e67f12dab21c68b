using Slipway.Server.Runtime.Sandbox;

namespace Slipway.Server.Runtime;

internal static class RuntimeSetup
{
    public static WebApplicationBuilder AddRuntime(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(RuntimeOptions.SectionName).Get<RuntimeOptions>() ?? new RuntimeOptions();
        builder.Services.AddSingleton(options);
        builder.AddSandbox();
        builder.Services.AddSingleton<PortAllocator>();
        builder.Services.AddSingleton<Supervisor>();
        builder.Services.AddHostedService<StopReleasesOnShutdown>();
        return builder;
    }

    /// <summary>Releases do not outlive the server; start-up recovery starts the live ones again.</summary>
    private sealed class StopReleasesOnShutdown(Supervisor supervisor) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => supervisor.StopAllAsync(cancellationToken);
    }
}
