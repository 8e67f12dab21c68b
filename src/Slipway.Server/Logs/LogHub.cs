using System.Runtime.CompilerServices;

namespace Slipway.Server.Logs;

/// <summary>
/// What a follower receives: a line, a status change, <c>gap</c> (it fell behind) or <c>end</c>. A line event keeps only
/// what followers use (seq, stream, level and its JSON, serialized once when it is made and shared by every follower),
/// not the line itself: a followed deployment's ring holds up to <c>SubscriberBuffer</c> of them, and fewer, smaller
/// objects there make every garbage collection during a busy build shorter.
/// </summary>
internal sealed class LogEvent
{
    private byte[]? json;
    private byte[]? socketIoLogMessage;

    private LogEvent(string type, long seq = 0, string? stream = null, string? level = null, byte[]? json = null, string? status = null, long? from = null)
    {
        Type = type;
        Seq = seq;
        Stream = stream;
        Level = level;
        this.json = json;
        Status = status;
        From = from;
    }

    /// <summary>A line event; <paramref name="inRing"/> when a feed's ring keeps it (see <see cref="LogJson.StreamMessage"/>).</summary>
    public static LogEvent ForLine(LogLine line, bool inRing = true) => new("log", line.Seq, line.Stream, line.Level, LogJson.StreamMessage(line, inRing));

    /// <summary>A status change; <see cref="IsTerminal"/> says whether the deployment's log ends with it.</summary>
    public static LogEvent ForStatus(Deployments.DeploymentStatus status) =>
        new("status", status: Hosting.ApiEnums.Text(status)) { IsTerminal = Deployments.Deployment.IsTerminal(status) };

    public static LogEvent End(string status) => new("end", status: status);

    public static LogEvent Gap(long from) => new("gap", from: from);

    /// <summary><c>log</c>, <c>status</c>, <c>gap</c> or <c>end</c>.</summary>
    public string Type { get; }

    public bool IsLine => Type == "log";

    /// <summary>A line's seq, stream and level (0 and null for other events).</summary>
    public long Seq { get; }

    public string? Stream { get; }

    public string? Level { get; }

    public string? Status { get; }

    /// <summary>A status that ends the deployment's log (ready, failed, canceled).</summary>
    public bool IsTerminal { get; private init; }

    public long? From { get; }

    /// <summary>The event as a UTF-8 JSON stream message, the same bytes for every follower.</summary>
    public byte[] Json => json ??= StreamMessage.Of(this).ToUtf8();

    /// <summary>
    /// The whole Engine.IO message a socket sends for this line (<c>42["log",line]</c>, the line in its REST shape: a Socket.IO event on the main
    /// namespace, no ack), built once and sent as is by every socket that follows the line. A race builds it twice, harmlessly.
    /// </summary>
    public byte[] SocketIoLogMessage => socketIoLogMessage ??= IsLine
        ? SocketIo.SocketIoConnection.EngineIoLogMessage(Json)
        : throw new InvalidOperationException("Only a log event has a line.");
}

/// <summary>
/// Live fan-out of log lines and status changes. Each followed deployment has one feed: a ring of its latest events
/// (<c>Slipway:Logs:SubscriberBuffer</c>) that every subscriber reads with its own cursor, in batches. Publishing is an
/// append and at most one wake-up, whatever the number of subscribers, and never waits: a subscriber whose cursor falls
/// out of the ring is cut off (the follower then catches up from the database), so a slow reader can never slow a
/// build down.
/// </summary>
internal sealed class LogHub(LogOptions options)
{
    private readonly Dictionary<string, Feed> feeds = new(StringComparer.Ordinal);
    private readonly Lock subscriptions = new();
    // Read without the lock on every published line; replaced (copy on write) when a feed comes or goes.
    private volatile Dictionary<string, Feed> published = new(StringComparer.Ordinal);

    public Subscriber Subscribe(string deploymentId)
    {
        lock (subscriptions)
        {
            if (!feeds.TryGetValue(deploymentId, out var feed))
            {
                feed = new Feed(Math.Max(16, options.SubscriberBuffer));
                feeds[deploymentId] = feed;
                published = new Dictionary<string, Feed>(feeds, StringComparer.Ordinal);
            }
            feed.Subscribers++;
            return new Subscriber(this, deploymentId, feed, feed.End);
        }
    }

    public void Publish(LogLine line)
    {
        if (published.TryGetValue(line.DeploymentId, out var feed)) feed.Append(LogEvent.ForLine(line));
    }

    public void PublishStatus(string deploymentId, Deployments.DeploymentStatus status)
    {
        if (published.TryGetValue(deploymentId, out var feed)) feed.Append(LogEvent.ForStatus(status));
    }

    private void Remove(string deploymentId, Feed feed)
    {
        lock (subscriptions)
        {
            if (--feed.Subscribers > 0 || !feeds.Remove(deploymentId)) return;
            published = new Dictionary<string, Feed>(feeds, StringComparer.Ordinal);
        }
    }

    /// <summary>
    /// A ring of the latest events of one deployment; <see cref="End"/> counts every event ever appended. Writers (a
    /// build's pipe readers, status changes) take a lock among themselves; readers take none while there is something to
    /// read. A pipe reader runs at a lower CPU priority, and a reader that had to wait for it to be scheduled again while
    /// it held a shared lock would stall every follower of a busy build.
    /// </summary>
    internal sealed class Feed(int capacity)
    {
        private readonly LogEvent[] ring = new LogEvent[capacity];
        private readonly Lock writers = new();
        private long end;
        private TaskCompletionSource? waiting;

        public int Subscribers { get; set; }

        public long End => Volatile.Read(ref end);

        public void Append(LogEvent evt)
        {
            TaskCompletionSource? wake;
            lock (writers)
            {
                // The slot first, then the count: a reader that sees the count sees the event.
                Volatile.Write(ref ring[end % ring.Length], evt);
                Volatile.Write(ref end, end + 1);
                wake = waiting;
                waiting = null;
            }
            wake?.TrySetResult();
        }

        /// <summary>
        /// Copies up to <paramref name="max"/> events from <paramref name="cursor"/> on; false when the events at the
        /// cursor were already overwritten (also when the writers lapped this reader while it copied).
        /// </summary>
        public bool Read(ref long cursor, List<LogEvent> into, int max)
        {
            var from = cursor;
            var available = Volatile.Read(ref end);
            if (available - from >= ring.Length) return false;
            var to = Math.Min(available, from + max);
            var count = into.Count;
            for (var i = from; i < to; i++) into.Add(Volatile.Read(ref ring[i % ring.Length]));
            // Slot `from` is rewritten by event `from + capacity`, which a writer may be storing before it counts it:
            // the copy is good only while fewer than `capacity` events exist past `from`.
            if (Volatile.Read(ref end) - from >= ring.Length)
            {
                into.RemoveRange(count, into.Count - count);
                return false;
            }
            cursor = to;
            return true;
        }

        /// <summary>Completes once an event after <paramref name="cursor"/> exists.</summary>
        public Task WaitAsync(long cursor)
        {
            if (Volatile.Read(ref end) > cursor) return Task.CompletedTask;
            lock (writers)
            {
                if (end > cursor) return Task.CompletedTask;
                waiting ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                return waiting.Task;
            }
        }
    }

    internal sealed class Subscriber : IDisposable
    {
        private const int Batch = 1024;
        private readonly LogHub hub;
        private readonly Feed feed;
        private long cursor;
        private int disposed;

        internal Subscriber(LogHub hub, string deploymentId, Feed feed, long cursor)
        {
            this.hub = hub;
            this.feed = feed;
            this.cursor = cursor;
            DeploymentId = deploymentId;
        }

        public string DeploymentId { get; }

        /// <summary>Every event published after <see cref="LogHub.Subscribe"/>, in order; ends when this subscriber overflows.</summary>
        public async IAsyncEnumerable<LogEvent> ReadAllAsync([EnumeratorCancellation] CancellationToken ct)
        {
            var batch = new List<LogEvent>(Batch);
            while (Volatile.Read(ref disposed) == 0)
            {
                // Fell out of the ring and lost events: end, so that the follower catches up from the database.
                if (!feed.Read(ref cursor, batch, Batch)) yield break;
                if (batch.Count == 0)
                {
                    await feed.WaitAsync(cursor).WaitAsync(ct);
                    continue;
                }
                foreach (var evt in batch) yield return evt;
                batch.Clear();
            }
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 0) hub.Remove(DeploymentId, feed);
        }
    }
}
