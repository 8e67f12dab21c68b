using Slipway.Server.Hosting;
using Slipway.Server.Runtime.Cgroups;
using Slipway.Server.Runtime.Sandbox;

namespace Slipway.Server.Runtime;

internal static class RuntimeSetup
{
    public static WebApplicationBuilder AddRuntime(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(RuntimeOptions.SectionName).Get<RuntimeOptions>() ?? new RuntimeOptions();
        builder.Services.AddSingleton(options);
        builder.AddSandbox();
        builder.Services.AddSingleton(services => new Confinement(options, services.GetRequiredService<SandboxOptions>(), builder.Configuration.DataDirectory(),
            services.GetRequiredService<ILogger<Confinement>>()));
        // Before anything starts a process: refuse to run without cgroups, stop what a killed server left running.
        builder.Services.AddHostedService<ConfinementStartup>();
        builder.Services.AddSingleton<PortAllocator>();
        builder.Services.AddSingleton<Supervisor>();
        builder.Services.AddHostedService<StopReleasesOnShutdown>();
        return builder;
    }

    /// <summary>Releases do not outlive the server; start-up recovery starts the live ones again.</summary>
    private sealed class StopReleasesOnShutdown(Supervisor supervisor, Confinement confinement) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public async Task StopAsync(CancellationToken cancellationToken)
        {
            await supervisor.StopAllAsync(cancellationToken);
            confinement.RemoveRoot();
        }
    }

    private sealed class ConfinementStartup(Confinement confinement) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => confinement.StartAsync();

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
