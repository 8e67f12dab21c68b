using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Slipway.Server.Hosting;

namespace Slipway.Server.Logs;

/// <summary>One streamed message: <c>log</c> (a line), <c>status</c>, <c>gap</c> (fell behind; resumes itself) or <c>end</c>.</summary>
internal sealed record StreamMessage(
    string Type, long? Seq = null, string? DeploymentId = null, DateTime? Timestamp = null, string? Level = null, string? Stream = null,
    string? Message = null, string? Status = null, long? From = null)
{
    private static readonly JsonSerializerOptions Json = new(SlipwayJson.Options) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    public static StreamMessage Of(LogEvent evt) => evt.Line is { } l
        ? new StreamMessage("log", l.Seq, l.DeploymentId, l.Timestamp, l.Level, l.Stream, l.Message)
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
            body.Write(StreamMessage.Of(evt).ToUtf8());
            body.Write(NewLine);
        }, ct);
    }

    public static async Task ServerSentEventsAsync(HttpContext http, IAsyncEnumerable<LogEvent> events, CancellationToken ct)
    {
        http.Response.ContentType = "text/event-stream; charset=utf-8";
        http.Response.Headers["X-Accel-Buffering"] = "no";
        http.Response.Headers.CacheControl = "no-store";
        await WriteBatchedAsync(http, events, (evt, body) =>
        {
            var message = StreamMessage.Of(evt);
            var head = message.Seq is { } seq ? $"id: {seq.ToString(CultureInfo.InvariantCulture)}\nevent: {message.Type}\ndata: " : $"event: {message.Type}\ndata: ";
            body.Write(Encoding.UTF8.GetBytes(head));
            body.Write(message.ToUtf8());
            body.Write("\n\n"u8);
        }, ct, keepAlive: ": keep-alive\n\n"u8.ToArray());
    }

    public static async Task WebSocketAsync(WebSocket socket, IAsyncEnumerable<LogEvent> events, CancellationToken ct)
    {
        try
        {
            await foreach (var evt in events.WithCancellation(ct))
            {
                await socket.SendAsync(StreamMessage.Of(evt).ToUtf8(), WebSocketMessageType.Text, endOfMessage: true, ct);
                if (evt.Type == "end") break;
            }
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "end", CancellationToken.None);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
        {
            // The client went away.
        }
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
                if (!next.IsCompleted || buffer.Length > 64 * 1024)
                {
                    await SendAsync();
                    while (await Task.WhenAny(next, Task.Delay(KeepAlive, ct)) != next)
                    {
                        if (keepAlive is null) continue;
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
