using System.Collections.Concurrent;
using System.Threading.Channels;

namespace Slipway.Server.Deployments;

/// <summary>
/// Wakes the deployment worker (the database is the source of truth; a wake-up only says "look again") and holds the
/// cancellation of each running deployment so the cancel endpoint can stop its processes at once.
/// </summary>
internal sealed class DeploymentQueue
{
    private readonly Channel<bool> wakeups = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly ConcurrentDictionary<string, CancellationTokenSource> running = new(StringComparer.Ordinal);

    public void Wake() => wakeups.Writer.TryWrite(true);

    public ValueTask<bool> WaitAsync(CancellationToken ct) => wakeups.Reader.WaitToReadAsync(ct);

    public void Drain()
    {
        while (wakeups.Reader.TryRead(out _))
        {
        }
    }

    public CancellationTokenSource Register(string deploymentId, CancellationToken stopping)
    {
        var source = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        running[deploymentId] = source;
        return source;
    }

    public void Unregister(string deploymentId)
    {
        if (running.TryRemove(deploymentId, out var source)) source.Dispose();
    }

    public void Cancel(string deploymentId)
    {
        if (running.TryGetValue(deploymentId, out var source))
        {
            try
            {
                source.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }
}
