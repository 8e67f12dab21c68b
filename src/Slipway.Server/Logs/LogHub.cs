using System.Collections.Concurrent;
using System.Threading.Channels;

namespace Slipway.Server.Logs;

/// <summary>What a follower receives: a line, a status change, or a note that it fell behind.</summary>
internal sealed record LogEvent(string Type, LogLine? Line = null, string? Status = null, long? From = null);

/// <summary>
/// Live fan-out of log lines and status changes to subscribers. Publishing never waits: each subscriber has a bounded
/// buffer, and one that falls behind is cut off with its overflow point recorded, so a slow reader can never slow a
/// build down (the follower then catches up from the database).
/// </summary>
internal sealed class LogHub(LogOptions options)
{
    private readonly ConcurrentDictionary<string, Subscriber[]> subscribers = new(StringComparer.Ordinal);

    public Subscriber Subscribe(string deploymentId)
    {
        var subscriber = new Subscriber(this, deploymentId, Math.Max(16, options.SubscriberBuffer));
        subscribers.AddOrUpdate(deploymentId, [subscriber], (_, existing) => [.. existing, subscriber]);
        return subscriber;
    }

    public void Publish(LogLine line)
    {
        if (!subscribers.TryGetValue(line.DeploymentId, out var list)) return;
        var evt = new LogEvent("log", line);
        foreach (var subscriber in list) subscriber.Offer(evt, line.Seq);
    }

    public void PublishStatus(string deploymentId, string status)
    {
        if (!subscribers.TryGetValue(deploymentId, out var list)) return;
        var evt = new LogEvent("status", Status: status);
        foreach (var subscriber in list) subscriber.Offer(evt, null);
    }

    private void Remove(Subscriber subscriber)
    {
        while (subscribers.TryGetValue(subscriber.DeploymentId, out var list))
        {
            var rest = list.Where(s => s != subscriber).ToArray();
            var done = rest.Length == 0
                ? subscribers.TryRemove(new KeyValuePair<string, Subscriber[]>(subscriber.DeploymentId, list))
                : subscribers.TryUpdate(subscriber.DeploymentId, rest, list);
            if (done) return;
        }
    }

    internal sealed class Subscriber(LogHub hub, string deploymentId, int capacity) : IDisposable
    {
        private readonly Channel<LogEvent> channel = Channel.CreateBounded<LogEvent>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true, FullMode = BoundedChannelFullMode.Wait,
        });

        public string DeploymentId { get; } = deploymentId;

        /// <summary>The first sequence number this subscriber lost, once its buffer overflowed.</summary>
        public long? OverflowedAt { get; private set; }

        public ChannelReader<LogEvent> Reader => channel.Reader;

        internal void Offer(LogEvent evt, long? seq)
        {
            if (OverflowedAt is not null) return;
            if (!channel.Writer.TryWrite(evt))
            {
                OverflowedAt = seq ?? 0;
                channel.Writer.TryComplete();
            }
        }

        public void Dispose()
        {
            hub.Remove(this);
            channel.Writer.TryComplete();
        }
    }
}
