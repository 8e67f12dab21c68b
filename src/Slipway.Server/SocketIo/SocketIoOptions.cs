namespace Slipway.Server.SocketIo;

/// <summary>Engine.IO / Socket.IO limits and timings (<c>Slipway:SocketIo</c>); the defaults are the reference server's.</summary>
internal sealed class SocketIoOptions
{
    public const string SectionName = "Slipway:SocketIo";

    /// <summary>How often the server pings (Engine.IO heartbeat).</summary>
    public TimeSpan PingInterval { get; set; } = TimeSpan.FromSeconds(25);

    /// <summary>How long a ping may go unanswered before the session is closed.</summary>
    public TimeSpan PingTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>The largest payload a client may send at once (one polling POST body or one WebSocket message), in bytes.</summary>
    public int MaxPayload { get; set; } = 1_000_000;

    /// <summary>A session that has not joined a namespace by then is closed.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(45);

    /// <summary>How long a polling client has, after the WebSocket probe, to complete the upgrade.</summary>
    public TimeSpan UpgradeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Packets queued for one session before its senders wait (a log follower then falls behind and catches up).</summary>
    public int SendBuffer { get; set; } = 1024;

    /// <summary>Live subscriptions one socket may hold.</summary>
    public int MaxSubscriptions { get; set; } = 20;

    /// <summary>Open sessions across the server; handshakes beyond it are refused (403).</summary>
    public int MaxSessions { get; set; } = 10_000;
}
