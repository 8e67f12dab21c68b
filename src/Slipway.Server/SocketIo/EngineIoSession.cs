using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;

namespace Slipway.Server.SocketIo;

internal enum EngineIoTransport
{
    Polling,
    WebSocket,
}

/// <summary>
/// One Engine.IO v4 session: the packets queued for the client (one bounded queue, drained by exactly one consumer at a
/// time: a polling GET, or the WebSocket writer once upgraded, so nothing is lost or reordered by the upgrade), the
/// heartbeat, and the close. What the client sends goes to <see cref="Received"/> in order, one packet at a time.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification =
    "Late requests and loops still read Closed after the close; the token source is canceled, not disposed, and the GC takes it.")]
internal sealed class EngineIoSession
{
    private static readonly string[] PollingUpgrades = ["websocket"];
    public const char Separator = '\x1e';
    private readonly Channel<byte[]> outbound;
    private readonly CancellationTokenSource closing = new();
    private readonly SemaphoreSlim inbound = new(1, 1);
    private readonly Lock gate = new();
    private readonly SocketIoOptions options;
    private readonly TimeProvider time;
    private TaskCompletionSource pong = NewSignal();
    private TaskCompletionSource probed = NewSignal();
    private int polling;

    public EngineIoSession(EngineIoTransport transport, SocketIoOptions options, TimeProvider time)
    {
        Transport = transport;
        this.options = options;
        this.time = time;
        Id = NewId();
        outbound = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(Math.Max(16, options.SendBuffer))
        {
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    public string Id { get; }

    public EngineIoTransport Transport { get; private set; }

    /// <summary>A WebSocket probe is under way (or done): polling GETs answer at once with a noop so the client can pause.</summary>
    public bool Upgrading { get; private set; }

    public CancellationToken Closed => closing.Token;

    public bool IsClosed => closing.IsCancellationRequested;

    public string? CloseReason { get; private set; }

    /// <summary>The upper layer's handler for one Engine.IO message (the packet's data, without the type).</summary>
    public Func<string, Task<bool>>? Received { get; set; }

    public event Action<EngineIoSession>? OnClosed;

    public static string NewId() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(15)).Replace('+', '-').Replace('/', '_');

    public string OpenPacket() =>
        "0" + System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["sid"] = Id,
            ["upgrades"] = Transport == EngineIoTransport.Polling ? PollingUpgrades : Array.Empty<string>(),
            ["pingInterval"] = (long)options.PingInterval.TotalMilliseconds,
            ["pingTimeout"] = (long)options.PingTimeout.TotalMilliseconds,
            ["maxPayload"] = options.MaxPayload,
        });

    /// <summary>Queues a message packet; waits while the queue is full. False once the session is closed.</summary>
    public Task<bool> SendMessageAsync(string data, CancellationToken ct) => EnqueueAsync("4" + data, ct);

    /// <summary>Queues a whole message packet already in UTF-8 (<c>4</c> + data; shared by many sessions); waits while the queue is full. False once closed.</summary>
    public Task<bool> SendEncodedMessageAsync(byte[] packet, CancellationToken ct) => EnqueueAsync(packet, ct);

    private Task<bool> EnqueueAsync(string packet, CancellationToken ct) => EnqueueAsync(Encoding.UTF8.GetBytes(packet), ct);

    /// <summary>Packets are queued as UTF-8: the WebSocket writer sends them as they are, polling joins them.</summary>
    private async Task<bool> EnqueueAsync(byte[] packet, CancellationToken ct)
    {
        try
        {
            await outbound.Writer.WriteAsync(packet, ct);
            return true;
        }
        catch (ChannelClosedException)
        {
            return false;
        }
    }

    /// <summary>
    /// Handles one packet from the client. Returns false for anything this server does not accept (malformed, binary,
    /// an upgrade outside the probe): the caller then closes the session.
    /// </summary>
    public async Task<bool> ReceiveAsync(string packet)
    {
        if (packet.Length == 0) return false;
        await inbound.WaitAsync(Closed);
        try
        {
            switch (packet[0])
            {
                case '1':
                    Close("client close");
                    return true;
                case '2':
                    return await EnqueueAsync("3" + packet[1..], Closed);
                case '3':
                    pong.TrySetResult();
                    return true;
                case '4':
                    return Received is not { } received || await received(packet[1..]);
                case '6':
                    return true;
                default:
                    // 'b' (base64 binary), '0', '5' outside the probe, or garbage.
                    return false;
            }
        }
        finally
        {
            inbound.Release();
        }
    }

    /// <summary>Sends a ping every interval and closes the session when a pong does not come back in time.</summary>
    public async Task HeartbeatAsync()
    {
        try
        {
            while (!IsClosed)
            {
                await Task.Delay(options.PingInterval, time, Closed);
                var waiting = NewSignal();
                Interlocked.Exchange(ref pong, waiting);
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Closed);
                timeout.CancelAfter(options.PingTimeout);
                try
                {
                    if (!await EnqueueAsync("2", timeout.Token)) return;
                    await waiting.Task.WaitAsync(timeout.Token);
                }
                catch (OperationCanceledException) when (!IsClosed)
                {
                    Close("ping timeout");
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Closed.
        }
    }

    // ---- polling -----------------------------------------------------------------------------------------------

    /// <summary>
    /// A long-polling GET: waits for packets (or the upgrade probe, or the close) and returns them as one payload.
    /// Null when another GET is already waiting (the client broke the protocol).
    /// </summary>
    public async Task<string?> PollAsync(int maxChars, CancellationToken requestAborted)
    {
        if (Interlocked.Exchange(ref polling, 1) == 1) return null;
        try
        {
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(requestAborted, Closed);
            try
            {
                return await NextPayloadAsync(maxChars, wait.Token, requestAborted);
            }
            finally
            {
                // Releases a wait abandoned for the probe.
                await wait.CancelAsync();
            }
        }
        finally
        {
            Volatile.Write(ref polling, 0);
        }
    }

    private async Task<string> NextPayloadAsync(int maxChars, CancellationToken wait, CancellationToken requestAborted)
    {
        while (!outbound.Reader.TryPeek(out _))
        {
            if (IsClosed) return "1";
            if (Upgrading) return "6";
            try
            {
                var ready = outbound.Reader.WaitToReadAsync(wait).AsTask();
                await Task.WhenAny(ready, probed.Task);
                if (ready.IsCompletedSuccessfully && !ready.Result) return "1";
            }
            catch (OperationCanceledException)
            {
            }
            requestAborted.ThrowIfCancellationRequested();
        }
        var payload = new StringBuilder();
        lock (gate)
        {
            if (Transport != EngineIoTransport.Polling) return "6";
            while (payload.Length < maxChars && outbound.Reader.TryRead(out var packet))
            {
                if (payload.Length > 0) payload.Append(Separator);
                payload.Append(Encoding.UTF8.GetString(packet));
            }
        }
        return payload.ToString();
    }

    // ---- WebSocket upgrade -------------------------------------------------------------------------------------

    /// <summary>The probe succeeded: pending and further polls answer with a noop until the upgrade completes or fails.</summary>
    public bool BeginUpgrade()
    {
        lock (gate)
        {
            if (Upgrading || Transport != EngineIoTransport.Polling || IsClosed) return false;
            Upgrading = true;
            probed.TrySetResult();
            return true;
        }
    }

    public void AbandonUpgrade()
    {
        lock (gate)
        {
            if (Transport != EngineIoTransport.Polling) return;
            Upgrading = false;
            probed = NewSignal();
        }
    }

    public void CompleteUpgrade()
    {
        lock (gate)
        {
            Transport = EngineIoTransport.WebSocket;
            Upgrading = false;
        }
    }

    /// <summary>The WebSocket writer's view of the queue (only once the session is on WebSocket).</summary>
    public ChannelReader<byte[]> Outbound => outbound.Reader;

    // ---- close -------------------------------------------------------------------------------------------------

    public void Close(string reason)
    {
        lock (gate)
        {
            if (IsClosed) return;
            CloseReason = reason;
            outbound.Writer.TryComplete();
        }
        closing.Cancel();
        OnClosed?.Invoke(this);
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
