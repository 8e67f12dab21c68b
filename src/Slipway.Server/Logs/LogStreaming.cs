using System.Buffers.Text;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Slipway.Server.Hosting;

namespace Slipway.Server.Logs;

/// <summary>One streamed message: <c>log</c> (a line), <c>status</c>, <c>gap</c> (fell behind; resumes itself) or <c>end</c>.</summary>
internal sealed record StreamMessage(
    string Type, string? Id = null, long? Seq = null, string? DeploymentId = null, DateTime? Timestamp = null, DateTime? CreatedAt = null,
    string? Level = null, string? Stream = null,
    string? Message = null, string? Status = null, long? From = null)
{
    private static readonly JsonSerializerOptions Json = new(SlipwayJson.Options) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    /// <summary>A status, gap or end event (a line's message is <see cref="LogJson.StreamMessage"/>).</summary>
    public static StreamMessage Of(LogEvent evt) => evt.IsLine
        ? throw new InvalidOperationException("A line's stream message is written by LogJson.")
        : new StreamMessage(evt.Type, Status: evt.Status, From: evt.From);

    public byte[] ToUtf8() => JsonSerializer.SerializeToUtf8Bytes(this, Json);
}

/// <summary>The same follow, written three ways: NDJSON, Server-Sent Events and WebSocket messages.</summary>
internal static class LogStreaming
{
    private static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(15);
    private static readonly byte[] NewLine = "\n"u8.ToArray();

    public static async Task NdjsonAsync(HttpContext http, IAsyncEnumerable<LogEvent> events, CancellationToken ct)
    {
        http.Response.ContentType = "application/x-ndjson; charset=utf-8";
        http.Response.Headers["X-Accel-Buffering"] = "no";
        http.Response.Headers.CacheControl = "no-store";
        await WriteBatchedAsync(http, events, (evt, body) =>
        {
            body.Write(evt.Json);
            body.Write(NewLine);
        }, ct);
    }

    /// <summary>
    /// Plain lines for <c>curl -N</c> (<c>format=text</c>): <c>2026-05-10T14:23:45.123Z build   npm install</c> per line, a
    /// <c>-- status: building</c> line per status change, and <c>-- deployment ready</c> (or failed, canceled) at the end.
    /// </summary>
    public static async Task TextAsync(HttpContext http, IAsyncEnumerable<LogEvent> events, CancellationToken ct)
    {
        http.Response.ContentType = "text/plain; charset=utf-8";
        http.Response.Headers["X-Accel-Buffering"] = "no";
        http.Response.Headers.CacheControl = "no-store";
        await WriteBatchedAsync(http, events, (evt, body) =>
        {
            string? text = evt.Type switch
            {
                "log" => LineText(evt.Json),
                "status" => $"-- status: {evt.Status}",
                "end" => $"-- deployment {evt.Status}",
                _ => null,
            };
            if (text is null) return;
            body.Write(Encoding.UTF8.GetBytes(text));
            body.Write(NewLine);
        }, ct);
    }

    private static string LineText(byte[] json)
    {
        using var line = JsonDocument.Parse(json);
        var root = line.RootElement;
        return $"{root.GetProperty("timestamp").GetString()} {root.GetProperty("stream").GetString(),-7} {root.GetProperty("message").GetString()}";
    }

    public static async Task ServerSentEventsAsync(HttpContext http, IAsyncEnumerable<LogEvent> events, CancellationToken ct)
    {
        http.Response.ContentType = "text/event-stream; charset=utf-8";
        http.Response.Headers["X-Accel-Buffering"] = "no";
        http.Response.Headers.CacheControl = "no-store";
        await WriteBatchedAsync(http, events, (evt, body) =>
        {
            if (evt.IsLine)
            {
                Span<byte> id = stackalloc byte[20];
                Utf8Formatter.TryFormat(evt.Seq, id, out var written);
                body.Write("id: "u8);
                body.Write(id[..written]);
                body.Write("\n"u8);
            }
            body.Write("event: "u8);
            body.Write(evt.Type == "log" ? "log"u8 : Encoding.UTF8.GetBytes(evt.Type));
            body.Write("\ndata: "u8);
            body.Write(evt.Json);
            body.Write("\n\n"u8);
        }, ct, keepAlive: ": keep-alive\n\n"u8.ToArray());
    }

    /// <summary>One message per event, written to the connection once per burst (see <see cref="WebSocketBursts"/>).</summary>
    public static async Task WebSocketAsync(WebSocketBursts bursts, IAsyncEnumerable<LogEvent> events, CancellationToken ct)
    {
        var socket = bursts.Socket;
        try
        {
            await using (var enumerator = events.GetAsyncEnumerator(ct))
            {
                var next = enumerator.MoveNextAsync().AsTask();
                while (true)
                {
                    if (!next.IsCompleted && bursts.Held > 0 && !await CoalesceAsync(next, ct)) await bursts.SendHeldAsync(ct);
                    if (bursts.Held > WebSocketBursts.BurstBytes) await bursts.SendHeldAsync(ct);
                    if (!await next) break;
                    var evt = enumerator.Current;
                    await bursts.SendTextAsync(evt.Json, ct);
                    if (evt.Type == "end") break;
                    next = enumerator.MoveNextAsync().AsTask();
                }
            }
            await bursts.SendHeldAsync(ct);
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "end", CancellationToken.None);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
        {
            // The client went away.
        }
    }

    /// <summary>
    /// A build's output reaches the hub a few lines at a time; with something written and nothing more at hand, a
    /// stream waits this long for the next event before it writes. At 100,000 lines a second that turns a write per
    /// handful of lines into one per few hundred, for at most 2 ms of added latency.
    /// </summary>
    private static readonly TimeSpan CoalesceWindow = TimeSpan.FromMilliseconds(2);

    /// <summary>True when <paramref name="next"/> completed within the coalescing window.</summary>
    private static Task<bool> CoalesceAsync(Task<bool> next, CancellationToken ct) => CompletesWithinAsync(next, CoalesceWindow, ct);

    /// <summary>
    /// True when <paramref name="next"/> completed within <paramref name="window"/>, false when the time ran out (throws
    /// when <paramref name="ct"/> is canceled). The timer and the cancellation registration go away as soon as either
    /// fires, unlike a <c>Task.Delay</c> raced with <c>Task.WhenAny</c>, which stays scheduled for its whole time; and the
    /// time-out costs no exception.
    /// </summary>
    private static async Task<bool> CompletesWithinAsync(Task<bool> next, TimeSpan window, CancellationToken ct)
    {
        await ((Task)next).WaitAsync(window, ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        ct.ThrowIfCancellationRequested();
        return next.IsCompleted;
    }

    /// <summary>
    /// Writes events as they come and flushes once per burst (whatever is immediately available), so a fast build costs
    /// one flush per batch and a quiet one still shows each line at once. Idle streams get a keep-alive.
    /// </summary>
    private static async Task WriteBatchedAsync(HttpContext http, IAsyncEnumerable<LogEvent> events, Action<LogEvent, Stream> write,
        CancellationToken ct, byte[]? keepAlive = null)
    {
        await http.Response.StartAsync(ct);
        var body = http.Response.Body;
        var buffer = new MemoryStream();
        async Task SendAsync()
        {
            if (buffer.Length == 0) return;
            await body.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), ct);
            await body.FlushAsync(ct);
            buffer.SetLength(0);
        }

        await using var enumerator = events.GetAsyncEnumerator(ct);
        try
        {
            var next = enumerator.MoveNextAsync().AsTask();
            while (true)
            {
                if (!next.IsCompleted && buffer.Length > 0 && buffer.Length <= WebSocketBursts.BurstBytes) await CoalesceAsync(next, ct);
                if (!next.IsCompleted || buffer.Length > WebSocketBursts.BurstBytes)
                {
                    await SendAsync();
                    // Without a keep-alive the await below simply waits; with one, a comment goes out every idle period.
                    while (keepAlive is not null && !await CompletesWithinAsync(next, KeepAlive, ct))
                    {
                        await body.WriteAsync(keepAlive, ct);
                        await body.FlushAsync(ct);
                    }
                }
                if (!await next) break;
                write(enumerator.Current, buffer);
                if (enumerator.Current.Type == "end") break;
                next = enumerator.MoveNextAsync().AsTask();
            }
            await SendAsync();
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The client went away.
        }
    }
}
