using System.Buffers.Binary;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http.Features;

namespace Slipway.Server.Logs;

/// <summary>
/// A server WebSocket whose messages can be collected and written as one write. <c>WebSocket.SendAsync</c> writes and
/// flushes each message on its own, through a semaphore and two async hops: at a hundred thousand lines a second to ten
/// followers that cost more than storing the lines. Each line stays its own message (clients see no
/// difference); only the writes to the connection are batched, per burst, like the NDJSON and SSE streams.
/// </summary>
internal sealed class WebSocketBursts
{
    /// <summary>
    /// How often a server WebSocket sends a keep-alive (an unsolicited pong frame): app.UseWebSockets in Program.cs
    /// uses it, and so do the sockets accepted here, which bypass that middleware's options.
    /// </summary>
    internal static readonly TimeSpan KeepAliveInterval = TimeSpan.FromSeconds(20);

    /// <summary>How much a stream collects before it writes even though more is at hand (every log stream, Socket.IO too).</summary>
    internal const int BurstBytes = 64 * 1024;

    private WebSocketBursts(WebSocket socket, BurstStream? stream)
    {
        Socket = socket;
        this.stream = stream;
    }

    private readonly BurstStream? stream;

    public WebSocket Socket { get; }

    /// <summary>
    /// Accepts the upgrade. HTTP/1.1 gets the handshake done here (what <c>AcceptWebSocketAsync</c> does), so that the
    /// socket sits on a stream that can hold writes; anything else (HTTP/2 extended CONNECT) gets a plain socket. Like the
    /// middleware without compression enabled, offered extensions (permessage-deflate) are declined by not answering them.
    /// </summary>
    public static async Task<WebSocketBursts> AcceptAsync(HttpContext http)
    {
        var upgrade = http.Features.Get<IHttpUpgradeFeature>();
        var key = http.Request.Headers.SecWebSocketKey.ToString();
        if (upgrade is not { IsUpgradableRequest: true } || key.Length == 0)
        {
            return new WebSocketBursts(await http.WebSockets.AcceptWebSocketAsync(), null);
        }
        http.Response.Headers.Connection = "Upgrade";
        http.Response.Headers.Upgrade = "websocket";
#pragma warning disable CA5350 // RFC 6455 fixes SHA-1 for the accept key; it protects nothing.
        http.Response.Headers.SecWebSocketAccept =
            Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
#pragma warning restore CA5350
        var stream = new BurstStream(await upgrade.UpgradeAsync());
        var socket = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = KeepAliveInterval });
        return new WebSocketBursts(socket, stream);
    }

    /// <summary>Bytes collected and not yet written.</summary>
    public int Held => stream?.Held ?? 0;

    /// <summary>
    /// Sends <paramref name="json"/> as one text message. On a socket accepted here the frame (server frames are
    /// unmasked: a 2-10 byte header, then the payload) goes straight into the held bytes, with no per-message trip
    /// through the socket's send path; <see cref="SendHeldAsync"/> writes them.
    /// </summary>
    public ValueTask SendTextAsync(byte[] json, CancellationToken ct)
    {
        if (stream is null) return Socket.SendAsync(new ReadOnlyMemory<byte>(json), WebSocketMessageType.Text, endOfMessage: true, ct);
        stream.HoldTextFrame(json);
        return ValueTask.CompletedTask;
    }

    /// <summary>Writes what was collected as one write.</summary>
    public Task SendHeldAsync(CancellationToken ct) => stream?.ReleaseAsync(ct) ?? Task.CompletedTask;

    /// <summary>
    /// Passes reads through. Held frames and the socket's own writes (keep-alives and the close, which may come from its
    /// timer) are whole frames, so they may interleave between messages but never inside one; the gate keeps writes
    /// to the connection one at a time.
    /// </summary>
    private sealed class BurstStream(Stream inner) : Stream
    {
        private readonly SemaphoreSlim gate = new(1, 1);
        private readonly Lock swap = new();
        private MemoryStream held = new();
        private MemoryStream spare = new();

        public int Held
        {
            get
            {
                lock (swap) return (int)held.Length;
            }
        }

        public void HoldTextFrame(ReadOnlySpan<byte> payload)
        {
            Span<byte> header = stackalloc byte[10];
            header[0] = 0x81; // FIN, text
            int length;
            if (payload.Length < 126)
            {
                header[1] = (byte)payload.Length;
                length = 2;
            }
            else if (payload.Length <= ushort.MaxValue)
            {
                header[1] = 126;
                BinaryPrimitives.WriteUInt16BigEndian(header[2..], (ushort)payload.Length);
                length = 4;
            }
            else
            {
                header[1] = 127;
                BinaryPrimitives.WriteUInt64BigEndian(header[2..], (ulong)payload.Length);
                length = 10;
            }
            lock (swap)
            {
                held.Write(header[..length]);
                held.Write(payload);
            }
        }

        public async Task ReleaseAsync(CancellationToken ct)
        {
            await gate.WaitAsync(ct);
            try
            {
                MemoryStream sending;
                lock (swap)
                {
                    if (held.Length == 0) return;
                    sending = held;
                    held = spare;
                    spare = sending;
                }
                await inner.WriteAsync(sending.GetBuffer().AsMemory(0, (int)sending.Length), ct);
                await inner.FlushAsync(ct);
                sending.SetLength(0);
            }
            finally
            {
                gate.Release();
            }
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await gate.WaitAsync(cancellationToken);
            try
            {
                await inner.WriteAsync(buffer, cancellationToken);
            }
            finally
            {
                gate.Release();
            }
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count).GetAwaiter().GetResult();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override void Flush() => inner.Flush();

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            inner.ReadAsync(buffer, offset, count, cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync();
            await base.DisposeAsync();
        }
    }
}
