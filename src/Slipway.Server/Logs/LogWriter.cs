using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text;
using System.Threading.Channels;
using Slipway.Server.Data;
using Slipway.Server.Hosting;

namespace Slipway.Server.Logs;

/// <summary>
/// Appends log lines to deployments: assigns each line its <c>seq</c> (strictly increasing, no gaps), publishes it to
/// the hub at once, and persists in batches of up to 5,000 from one background loop through the provider's bulk path
/// (<see cref="LogBulkInsert"/>), so a process writing as fast as it can costs one transaction or COPY per batch.
/// </summary>
internal sealed partial class LogWriter(IServiceScopeFactory scopes, LogHub hub, TimeProvider time, ILogger<LogWriter> logger) : BackgroundService
{
    public const int MaxMessageLength = 16 * 1024;
    private const int BatchSize = 5000;
    private const int MaxPending = 5_000;
    private readonly Channel<LogLine> queue = Channel.CreateUnbounded<LogLine>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<string, StrongBox<long>> sequences = new(StringComparer.Ordinal);
    private long enqueued;
    private long persisted;
    private volatile bool stopped;

    /// <summary>Lines appended since the server started (for <c>/metrics</c>).</summary>
    public long Appended => Interlocked.Read(ref enqueued);

    /// <summary>Prepares a deployment for appending (continues after the lines already stored).</summary>
    public async Task OpenAsync(string deploymentId, CancellationToken ct)
    {
        if (sequences.ContainsKey(deploymentId)) return;
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
        var last = await db.LogLines.Where(l => l.DeploymentId == deploymentId).MaxAsync(l => (long?)l.Seq, ct) ?? 0;
        sequences.TryAdd(deploymentId, new StrongBox<long>(last));
    }

    public void Append(string deploymentId, string stream, string level, string message)
    {
        if (Interlocked.Read(ref enqueued) - Interlocked.Read(ref persisted) > MaxPending) WaitForStorage();
        var box = sequences.GetOrAdd(deploymentId, _ => new StrongBox<long>(0));
        var text = Clean(message);
        lock (box)
        {
            var line = new LogLine
            {
                DeploymentId = deploymentId, Seq = ++box.Value, Timestamp = time.UtcNowMs(), Level = level, Stream = stream, Message = text,
            };
            Interlocked.Increment(ref enqueued);
            queue.Writer.TryWrite(line);
            hub.Publish(line);
        }
    }

    /// <summary>
    /// Backpressure: while storage is more than <see cref="MaxPending"/> lines behind, the caller (a build's output
    /// reader) waits, so its pipe fills and the process writing as fast as it can is paced to what the database takes,
    /// instead of the queue growing without bound. Bounded in time, so a stopped writer cannot hang a caller. The bound
    /// is one batch: the storage loop runs at a lower CPU priority, so when the CPU is short storage falls behind first
    /// and, through this wait, takes the build's pipe reader with it, and live followers are served before new lines.
    /// </summary>
    private void WaitForStorage()
    {
        var deadline = Environment.TickCount64 + 2_000;
        while (!stopped && Interlocked.Read(ref enqueued) - Interlocked.Read(ref persisted) > MaxPending && Environment.TickCount64 < deadline)
        {
            Thread.Sleep(1);
        }
    }

    /// <summary>Waits until every line appended so far is stored (before a deployment reports a terminal state).</summary>
    public async Task FlushAsync(CancellationToken ct)
    {
        var target = Interlocked.Read(ref enqueued);
        while (Interlocked.Read(ref persisted) < target) await Task.Delay(5, ct);
    }

    public void Forget(string deploymentId) => sequences.TryRemove(deploymentId, out _);

    /// <summary>
    /// The storage loop runs on a thread of its own: the bulk insert is synchronous underneath (SQLite) and takes a
    /// batch's time, and on a thread-pool thread it would starve the streams that followers read.
    /// </summary>
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            Runtime.BackgroundPriority.Apply();
            try
            {
                StoreUntilStopped(stoppingToken);
                done.TrySetResult();
            }
            catch (Exception e)
            {
                done.TrySetException(e);
            }
        }) { IsBackground = true, Name = "slipway log writer" };
        thread.Start();
        return done.Task;
    }

    private void StoreUntilStopped(CancellationToken stoppingToken)
    {
        var batch = new List<LogLine>(BatchSize);
        try
        {
            while (queue.Reader.WaitToReadAsync(stoppingToken).AsTask().GetAwaiter().GetResult())
            {
                while (batch.Count < BatchSize && queue.Reader.TryRead(out var line)) batch.Add(line);
                Write(batch, stoppingToken);
                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            while (queue.Reader.TryRead(out var line)) batch.Add(line);
            if (batch.Count > 0) Write(batch, CancellationToken.None);
        }
        finally
        {
            stopped = true;
        }
    }

    private void Write(List<LogLine> batch, CancellationToken ct)
    {
        var count = batch.Count;
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    using var scope = scopes.CreateScope();
                    var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
                    LogBulkInsert.Insert(db, batch);
                    return;
                }
                catch (Exception ex) when (ex is not OperationCanceledException && LogBulkInsert.IsMissingDeployment(ex) && attempt < 3)
                {
                    // A batch is stored whole or not at all (a COPY fails as one), so one deleted deployment would cost
                    // the lines of every other deployment in it: drop only the lines whose deployment is gone, and retry.
                    var dropped = DropOrphans(batch);
                    if (dropped > 0) WriteFailed(logger, dropped, "their deployment was deleted");
                    if (batch.Count == 0) return;
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // A database that stays down: after a few tries the batch goes, rather than the writer loop (and
                    // with it the server).
                    if (attempt >= 3)
                    {
                        WriteFailed(logger, batch.Count, ex.GetType().Name);
                        return;
                    }
                    ct.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(200 * attempt));
                    ct.ThrowIfCancellationRequested();
                }
            }
        }
        finally
        {
            Interlocked.Add(ref persisted, count);
        }
    }

    /// <summary>Removes the lines of deployments that no longer exist from the batch; returns how many went.</summary>
    private int DropOrphans(List<LogLine> batch)
    {
        var ids = batch.Select(l => l.DeploymentId).Distinct(StringComparer.Ordinal).ToList();
        HashSet<string> existing;
        try
        {
            using var scope = scopes.CreateScope();
            var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
            existing = db.Deployments.Where(d => ids.Contains(d.Id)).Select(d => d.Id).ToList().ToHashSet(StringComparer.Ordinal);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return 0; // The next attempt (or the last one's drop) decides.
        }
        var removed = batch.RemoveAll(l => !existing.Contains(l.DeploymentId));
        foreach (var id in ids.Where(id => !existing.Contains(id))) Forget(id);
        return removed;
    }

    /// <summary>Valid UTF-16 (lone surrogates replaced), no NULs, at most 16 KiB with a visible marker when cut.</summary>
    private static string Clean(string message)
    {
        var cut = message.Length > MaxMessageLength;
        var text = cut ? message[..MaxMessageLength] : message;
        if (text.Contains('\0', StringComparison.Ordinal)) text = text.Replace('\0', '\uFFFD');
        if (!IsWellFormed(text))
        {
            var builder = new StringBuilder(text.Length);
            foreach (var rune in text.EnumerateRunes()) builder.Append(rune.Value == Rune.ReplacementChar.Value ? "\uFFFD" : rune.ToString());
            text = builder.ToString();
        }
        return cut ? $"{text}… [truncated {message.Length - MaxMessageLength} characters]" : text;
    }

    private static bool IsWellFormed(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) i++;
            else if (char.IsSurrogate(text[i])) return false;
        }
        return true;
    }

    [LoggerMessage(EventId = 5001, Level = LogLevel.Warning, Message = "Dropped {Count} log lines: {Reason}")]
    private static partial void WriteFailed(ILogger logger, int count, string reason);
}
