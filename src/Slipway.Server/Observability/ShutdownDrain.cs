using Slipway.Server.Hosting;

namespace Slipway.Server.Observability;

/// <summary>
/// Runs when shutdown begins and before any service (Kestrel included) stops: <c>/ready</c> turns 503 at once and,
/// when a drain is configured, the server keeps serving for that long so load balancers can take it out of rotation.
/// </summary>
internal sealed class ShutdownDrain(Readiness readiness, ObservabilityOptions options, TimeProvider time, ILogger<ShutdownDrain> logger)
    : IHostedLifecycleService
{
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        readiness.MarkNotReady("shutting down");
        if (options.ShutdownDrainSeconds <= 0) return;
        logger.Draining(options.ShutdownDrainSeconds);
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(options.ShutdownDrainSeconds), time, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // The host's shutdown timeout won: stop now rather than fail the shutdown.
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
