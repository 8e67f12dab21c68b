using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text;
using System.Threading.Channels;
using Slipway.Server.Data;
using Slipway.Server.Hosting;

namespace Slipway.Server.Logs;

/// <summary>
/// Appends log lines to deployments: assigns each line its <c>seq</c> (strictly increasing, no gaps) and persists in
/// batches from one background loop, so a process writing as fast as it can costs one insert per batch, not per line.
/// </summary>
internal sealed partial class LogWriter(IServiceScopeFactory scopes, LogHub hub, TimeProvider time, ILogger<LogWriter> logger) : BackgroundService
{
    public const int MaxMessageLength = 16 * 1024;
    private const int BatchSize = 1000;
    private readonly Channel<LogLine> queue = Channel.CreateUnbounded<LogLine>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<string, StrongBox<long>> sequences = new(StringComparer.Ordinal);
    private long enqueued;
    private long persisted;

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

    /// <summary>Waits until every line appended so far is stored (before a deployment reports a terminal state).</summary>
    public async Task FlushAsync(CancellationToken ct)
    {
        var target = Interlocked.Read(ref enqueued);
        while (Interlocked.Read(ref persisted) < target) await Task.Delay(5, ct);
    }

    public void Forget(string deploymentId) => sequences.TryRemove(deploymentId, out _);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<LogLine>(BatchSize);
        try
        {
            while (await queue.Reader.WaitToReadAsync(stoppingToken))
            {
                while (batch.Count < BatchSize && queue.Reader.TryRead(out var line)) batch.Add(line);
                await WriteAsync(batch, stoppingToken);
                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            while (queue.Reader.TryRead(out var line)) batch.Add(line);
            if (batch.Count > 0) await WriteAsync(batch, CancellationToken.None);
        }
    }

    private async Task WriteAsync(List<LogLine> batch, CancellationToken ct)
    {
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await using var scope = scopes.CreateAsyncScope();
                    var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
                    db.LogLines.AddRange(batch);
                    await db.SaveChangesAsync(ct);
                    return;
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // A deleted deployment (foreign key) or a database that stays down: after a few tries the batch goes,
                    // rather than the writer loop (and with it the server).
                    if (attempt >= 3)
                    {
                        WriteFailed(logger, batch.Count, ex.GetType().Name);
                        return;
                    }
                    await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt), ct);
                }
            }
        }
        finally
        {
            Interlocked.Add(ref persisted, batch.Count);
        }
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
