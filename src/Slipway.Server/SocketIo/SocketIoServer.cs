using System.Text.Json;
using Slipway.Server.Hosting;

namespace Slipway.Server.SocketIo;

/// <summary>Puts a Socket.IO connection on every Engine.IO session.</summary>
internal sealed class SocketIoServer(LogSockets logs, SocketIoOptions options, TimeProvider time, ILogger<SocketIoServer> logger)
{
    public void Attach(EngineIoSession session)
    {
        var connection = new SocketIoConnection(session, logs, logger);
        session.Received = connection.ReceiveAsync;
        session.OnClosed += _ => connection.Close();
        _ = CloseUnlessConnectedAsync(session, connection);
    }

    /// <summary>A session that never joins the main namespace does not stay open.</summary>
    private async Task CloseUnlessConnectedAsync(EngineIoSession session, SocketIoConnection connection)
    {
        try
        {
            await Task.Delay(options.ConnectTimeout, time, session.Closed);
            if (!connection.IsConnected) session.Close("connect timeout");
        }
        catch (OperationCanceledException)
        {
        }
    }
}

/// <summary>
/// The Socket.IO v5 side of one session: the main namespace only (auth in its CONNECT), events with optional acks, and
/// emits. Everything it sends goes through the session's single queue.
/// </summary>
internal sealed class SocketIoConnection(EngineIoSession session, LogSockets logs, ILogger logger)
{
    private const string MainNamespace = "/";
    private LogSocket? socket;

    public bool IsConnected => Volatile.Read(ref socket) is not null;

    /// <summary>One Engine.IO message from the client; false when it is not a packet we accept (the session then closes).</summary>
    public async Task<bool> ReceiveAsync(string text)
    {
        var packet = SocketIoPacket.Parse(text);
        if (packet is null) return false;
        var ct = session.Closed;
        if (packet.Namespace != MainNamespace)
        {
            if (packet.Type == SocketIoPacketType.Connect)
            {
                await SendAsync(SocketIoPacket.Encode(SocketIoPacketType.ConnectError, packet.Namespace, null,
                    Json(new ConnectError("Invalid namespace", new ErrorDetail("not_found", $"Only the main namespace '/' exists; '{packet.Namespace}' does not.")))), ct);
            }
            return true;
        }
        switch (packet.Type)
        {
            case SocketIoPacketType.Connect:
                await ConnectAsync(packet, ct);
                return true;
            case SocketIoPacketType.Disconnect:
                Interlocked.Exchange(ref socket, null)?.Close();
                return true;
            case SocketIoPacketType.Event:
                if (socket is { } connected) await OnEventAsync(connected, packet, ct);
                return true;
            case SocketIoPacketType.Ack:
                // The server asks for no acks: nothing to match.
                return true;
            default:
                return false;
        }
    }

    private async Task ConnectAsync(SocketIoPacket packet, CancellationToken ct)
    {
        if (socket is not null)
        {
            await SendAsync(SocketIoPacket.Encode(SocketIoPacketType.ConnectError, MainNamespace, null,
                Json(new ConnectError("already connected", new ErrorDetail("conflict", "This connection already joined the main namespace.")))), ct);
            return;
        }
        var token = packet.Data is { } auth && auth.TryGetProperty("token", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        var outcome = await logs.AuthenticateAsync(token, ct);
        if (outcome.Error is { } error)
        {
            SocketIoLog.Refused(logger, session.Id, error.Code);
            await SendAsync(SocketIoPacket.Encode(SocketIoPacketType.ConnectError, MainNamespace, null, Json(new ConnectError("unauthorized", error))), ct);
            return;
        }
        var opened = logs.Open(outcome.Caller!, this);
        Volatile.Write(ref socket, opened);
        await SendAsync(SocketIoPacket.Encode(SocketIoPacketType.Connect, MainNamespace, null, Json(new Connected(opened.Id))), ct);
    }

    private async Task OnEventAsync(LogSocket connected, SocketIoPacket packet, CancellationToken ct)
    {
        var args = packet.Data!.Value;
        var name = args[0].GetString()!;
        var argument = args.GetArrayLength() > 1 ? args[1] : (JsonElement?)null;
        var result = await connected.OnEventAsync(name, argument, ct);
        if (packet.AckId is { } id)
        {
            await SendAsync(SocketIoPacket.Encode(SocketIoPacketType.Ack, MainNamespace, id, Json(new[] { result.Ack })), ct);
        }
        result.AfterAck?.Invoke();
    }

    /// <summary>Emits an event on the main namespace; waits while the session's queue is full. False once closed.</summary>
    public Task<bool> EmitAsync(string name, object payload, CancellationToken ct) =>
        SendAsync(SocketIoPacket.Encode(SocketIoPacketType.Event, MainNamespace, null, Json(new[] { name, payload })), ct);

    /// <summary>
    /// Queues an event already encoded as a whole Engine.IO message (<see cref="EngineIoLogMessage"/>; a log line's is
    /// built once and shared by every socket that follows it); waits while the session's queue is full. False once closed.
    /// </summary>
    public Task<bool> EmitEncodedAsync(byte[] message, CancellationToken ct) => session.SendEncodedMessageAsync(message, ct);

    /// <summary>
    /// The UTF-8 Engine.IO message of a <c>log</c> event on the main namespace without ack, around a line's stream message
    /// (<see cref="Logs.LogJson.LineTailOf"/>): <c>4</c> (message) <c>2</c> (EVENT) <c>["log",{</c> the line's fields <c>]</c>.
    /// </summary>
    public static byte[] EngineIoLogMessage(ReadOnlySpan<byte> lineStreamMessage)
    {
        ReadOnlySpan<byte> head = "42[\"log\",{"u8;
        var tail = Logs.LogJson.LineTailOf(lineStreamMessage);
        var message = GC.AllocateUninitializedArray<byte>(head.Length + tail.Length + 1, pinned: true); // kept as long as the line (Logs.LogJson.OldAtOnce)
        head.CopyTo(message);
        tail.CopyTo(message.AsSpan(head.Length));
        message[^1] = (byte)']';
        return message;
    }

    private Task<bool> SendAsync(string packet, CancellationToken ct) => session.SendMessageAsync(packet, ct);

    public void Close() => Interlocked.Exchange(ref socket, null)?.Close();

    private static string Json(object value) => JsonSerializer.Serialize(value, value.GetType(), SlipwayJson.Options);

    private sealed record Connected(string Sid);

    private sealed record ConnectError(string Message, ErrorDetail Data);
}

/// <summary>An error as acks and CONNECT_ERROR carry it: the REST error's code and message.</summary>
internal sealed record ErrorDetail(string Code, string Message);

/// <summary>What an event handler answers (the ack's argument) and what it starts once the ack is queued.</summary>
internal sealed record EventResult(object Ack, Action? AfterAck = null);
