using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;

namespace Slipway.Server.SocketIo;

/// <summary>
/// The Engine.IO v4 server: handshakes, HTTP long-polling (GET receives, POST sends), WebSocket (direct, or as an
/// upgrade of a polling session), and the session table. Errors are the reference server's JSON (<c>{code, message}</c>).
/// </summary>
internal sealed class EngineIoServer(SocketIoOptions options, TimeProvider time, SocketIoServer sockets, ILogger<EngineIoServer> logger)
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    private readonly ConcurrentDictionary<string, EngineIoSession> sessions = new(StringComparer.Ordinal);

    private enum Error
    {
        TransportUnknown = 0,
        SessionIdUnknown = 1,
        BadHandshakeMethod = 2,
        BadRequest = 3,
        Forbidden = 4,
        UnsupportedProtocolVersion = 5,
    }

    public async Task HandleAsync(HttpContext http)
    {
        var query = http.Request.Query;
        if (query["EIO"].ToString() != "4")
        {
            await ErrorAsync(http, Error.UnsupportedProtocolVersion);
            return;
        }
        var transport = query["transport"].ToString() switch
        {
            "polling" => EngineIoTransport.Polling,
            "websocket" => EngineIoTransport.WebSocket,
            _ => (EngineIoTransport?)null,
        };
        if (transport is null)
        {
            await ErrorAsync(http, Error.TransportUnknown);
            return;
        }
        var sid = query["sid"].ToString();
        if (sid.Length == 0)
        {
            await HandshakeAsync(http, transport.Value);
            return;
        }
        if (!sessions.TryGetValue(sid, out var session))
        {
            await ErrorAsync(http, Error.SessionIdUnknown);
            return;
        }
        if (transport == EngineIoTransport.WebSocket)
        {
            if (!http.WebSockets.IsWebSocketRequest || session.Transport != EngineIoTransport.Polling || session.Upgrading)
            {
                await ErrorAsync(http, Error.BadRequest);
                return;
            }
            var bursts = await Logs.WebSocketBursts.AcceptAsync(http);
            using var socket = bursts.Socket;
            await UpgradeAsync(session, bursts, http.RequestAborted);
            return;
        }
        if (session.Transport != EngineIoTransport.Polling)
        {
            await ErrorAsync(http, Error.BadRequest);
            return;
        }
        if (HttpMethods.IsGet(http.Request.Method)) await PollAsync(http, session);
        else if (HttpMethods.IsPost(http.Request.Method)) await PostAsync(http, session);
        else await ErrorAsync(http, Error.BadRequest);
    }

    public void CloseAll(string reason)
    {
        foreach (var session in sessions.Values) session.Close(reason);
    }

    private async Task HandshakeAsync(HttpContext http, EngineIoTransport transport)
    {
        if (transport == EngineIoTransport.Polling && !HttpMethods.IsGet(http.Request.Method))
        {
            await ErrorAsync(http, Error.BadHandshakeMethod);
            return;
        }
        if (transport == EngineIoTransport.WebSocket && !http.WebSockets.IsWebSocketRequest)
        {
            await ErrorAsync(http, Error.BadRequest);
            return;
        }
        if (sessions.Count >= options.MaxSessions)
        {
            await ErrorAsync(http, Error.Forbidden);
            return;
        }
        var session = new EngineIoSession(transport, options, time);
        sessions[session.Id] = session;
        session.OnClosed += closed =>
        {
            sessions.TryRemove(closed.Id, out _);
            SocketIoLog.SessionClosed(logger, closed.Id, closed.CloseReason ?? "closed");
        };
        sockets.Attach(session);
        _ = session.HeartbeatAsync();
        SocketIoLog.SessionOpened(logger, session.Id, transport);
        if (transport == EngineIoTransport.Polling)
        {
            await WriteTextAsync(http, 200, session.OpenPacket());
            return;
        }
        var bursts = await Logs.WebSocketBursts.AcceptAsync(http);
        using var socket = bursts.Socket;
        try
        {
            await socket.SendAsync(Encoding.UTF8.GetBytes(session.OpenPacket()), WebSocketMessageType.Text, true, http.RequestAborted);
            await RunWebSocketAsync(session, bursts, http.RequestAborted);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
        {
            session.Close("transport error");
        }
    }

    private async Task PollAsync(HttpContext http, EngineIoSession session)
    {
        string? payload;
        try
        {
            payload = await session.PollAsync(options.MaxPayload, http.RequestAborted);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        if (payload is null)
        {
            session.Close("overlapping poll");
            await ErrorAsync(http, Error.BadRequest);
            return;
        }
        await WriteTextAsync(http, 200, payload);
    }

    private async Task PostAsync(HttpContext http, EngineIoSession session)
    {
        var body = await ReadBodyAsync(http.Request.Body, options.MaxPayload, http.RequestAborted);
        if (body is null)
        {
            session.Close("payload too large");
            await WriteJsonErrorAsync(http, 413, Error.BadRequest, "Payload too large");
            return;
        }
        string text;
        try
        {
            text = StrictUtf8.GetString(body);
        }
        catch (DecoderFallbackException)
        {
            session.Close("parse error");
            await ErrorAsync(http, Error.BadRequest);
            return;
        }
        foreach (var packet in text.Split(EngineIoSession.Separator))
        {
            if (!await ReceiveAsync(session, packet))
            {
                session.Close("parse error");
                await ErrorAsync(http, Error.BadRequest);
                return;
            }
        }
        await WriteTextAsync(http, 200, "ok");
    }

    private static async Task<bool> ReceiveAsync(EngineIoSession session, string packet)
    {
        try
        {
            return await session.ReceiveAsync(packet);
        }
        catch (OperationCanceledException)
        {
            // The session closed meanwhile: nothing to answer for.
            return true;
        }
    }

    /// <summary>The polling → WebSocket upgrade: <c>2probe</c>/<c>3probe</c>, the polling side pauses (noop), then <c>5</c>.</summary>
    private async Task UpgradeAsync(EngineIoSession session, Logs.WebSocketBursts bursts, CancellationToken requestAborted)
    {
        var socket = bursts.Socket;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(requestAborted, session.Closed);
        timeout.CancelAfter(options.UpgradeTimeout);
        var upgraded = false;
        try
        {
            if (await ReadMessageAsync(socket, timeout.Token) != "2probe" || !session.BeginUpgrade())
            {
                await CloseQuietlyAsync(socket, WebSocketCloseStatus.ProtocolError);
                return;
            }
            await socket.SendAsync("3probe"u8.ToArray(), WebSocketMessageType.Text, true, timeout.Token);
            if (await ReadMessageAsync(socket, timeout.Token) != "5")
            {
                await CloseQuietlyAsync(socket, WebSocketCloseStatus.ProtocolError);
                return;
            }
            session.CompleteUpgrade();
            upgraded = true;
            SocketIoLog.Upgraded(logger, session.Id);
            await RunWebSocketAsync(session, bursts, requestAborted);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or InvalidDataException)
        {
            if (upgraded) session.Close("transport error");
        }
        finally
        {
            if (!upgraded) session.AbandonUpgrade();
        }
    }

    /// <summary>One writer loop drains the session's queue; this loop reads. Either ending closes the session.</summary>
    private async Task RunWebSocketAsync(EngineIoSession session, Logs.WebSocketBursts bursts, CancellationToken requestAborted)
    {
        var socket = bursts.Socket;
        var closeStatus = WebSocketCloseStatus.NormalClosure;
        var writer = WriteLoopAsync(session, bursts, () => closeStatus);
        using var reading = CancellationTokenSource.CreateLinkedTokenSource(requestAborted);
        // Once closed by the server, the client gets a moment to answer the close frame.
        using var afterClose = session.Closed.Register(() => reading.CancelAfter(TimeSpan.FromSeconds(5)));
        try
        {
            while (true)
            {
                string? message;
                try
                {
                    message = await ReadMessageAsync(socket, reading.Token);
                }
                catch (InvalidDataException e)
                {
                    closeStatus = e.Message switch
                    {
                        "binary" => WebSocketCloseStatus.InvalidMessageType,
                        "payload too large" => WebSocketCloseStatus.MessageTooBig,
                        _ => WebSocketCloseStatus.InvalidPayloadData,
                    };
                    session.Close(e.Message);
                    break;
                }
                if (message is null) break;
                if (!await ReceiveAsync(session, message))
                {
                    session.Close("parse error");
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            session.Close(session.CloseReason ?? "transport close");
            await writer;
        }
    }

    /// <summary>
    /// The only sender once the socket runs (WebSocket allows one send at a time), the close frame included. Whatever is
    /// queued goes out as one write (each packet still its own message), so a busy log costs a write per burst, not per line.
    /// </summary>
    private static async Task WriteLoopAsync(EngineIoSession session, Logs.WebSocketBursts bursts, Func<WebSocketCloseStatus> closeStatus)
    {
        var outbound = session.Outbound;
        try
        {
            while (await outbound.WaitToReadAsync(session.Closed))
            {
                while (bursts.Held < Logs.WebSocketBursts.BurstBytes && outbound.TryRead(out var packet)) await bursts.SendTextAsync(packet, session.Closed);
                await bursts.SendHeldAsync(session.Closed);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
        {
        }
        await CloseQuietlyAsync(bursts.Socket, closeStatus());
    }

    /// <summary>The next text message (null once the client closed); <see cref="InvalidDataException"/> for binary or oversized ones.</summary>
    private async Task<string?> ReadMessageAsync(WebSocket socket, CancellationToken ct)
    {
        var buffer = new byte[16 * 1024];
        using var message = new MemoryStream();
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, ct);
            if (result.MessageType == WebSocketMessageType.Close) return null;
            if (result.MessageType == WebSocketMessageType.Binary) throw new InvalidDataException("binary");
            if (message.Length + result.Count > options.MaxPayload) throw new InvalidDataException("payload too large");
            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage) break;
        }
        try
        {
            return StrictUtf8.GetString(message.GetBuffer(), 0, (int)message.Length);
        }
        catch (DecoderFallbackException)
        {
            throw new InvalidDataException("invalid UTF-8");
        }
    }

    private static async Task CloseQuietlyAsync(WebSocket socket, WebSocketCloseStatus status)
    {
        if (socket.State is not (WebSocketState.Open or WebSocketState.CloseReceived)) return;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await socket.CloseOutputAsync(status, null, timeout.Token);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    /// <summary>Reads at most <paramref name="max"/> bytes; null when the body is larger.</summary>
    private static async Task<byte[]?> ReadBodyAsync(Stream body, int max, CancellationToken ct)
    {
        using var copy = new MemoryStream();
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await body.ReadAsync(buffer, ct)) > 0)
        {
            if (copy.Length + read > max) return null;
            copy.Write(buffer, 0, read);
        }
        return copy.ToArray();
    }

    private static Task WriteTextAsync(HttpContext http, int status, string text)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "text/plain; charset=UTF-8";
        http.Response.Headers.CacheControl = "no-store";
        return http.Response.WriteAsync(text, http.RequestAborted);
    }

    private static Task ErrorAsync(HttpContext http, Error error) =>
        WriteJsonErrorAsync(http, error == Error.Forbidden ? 403 : 400, error, error switch
        {
            Error.TransportUnknown => "Transport unknown",
            Error.SessionIdUnknown => "Session ID unknown",
            Error.BadHandshakeMethod => "Bad handshake method",
            Error.BadRequest => "Bad request",
            Error.Forbidden => "Forbidden",
            Error.UnsupportedProtocolVersion => "Unsupported protocol version",
            _ => "Bad request",
        });

    private static Task WriteJsonErrorAsync(HttpContext http, int status, Error code, string message)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        return http.Response.WriteAsync(
            System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object> { ["code"] = (int)code, ["message"] = message }), http.RequestAborted);
    }
}
