namespace Slipway.Server.Routing;

internal sealed class RouterOptions
{
    public const string SectionName = "Slipway:Router";

    /// <summary>
    /// Keep an incoming <c>X-Forwarded-For</c> chain (append the client) only when a trusted proxy sits in front of the
    /// router; by default the router is the edge and a client-sent chain would let anyone spoof their address.
    /// </summary>
    public bool TrustForwardedFor { get; set; }

    /// <summary>Where the router listens (separate from the API).</summary>
    public string Urls { get; set; } = "http://127.0.0.1:8000";

    public string BaseDomain { get; set; } = "localhost";

    /// <summary>Scheme of the address users reach the router at (https behind a TLS proxy); used in project URLs.</summary>
    public string PublicScheme { get; set; } = "http";

    /// <summary>Port users reach the router at; 0 (default): the port of <see cref="Urls"/>, or 8000 when that is 0.</summary>
    public int PublicPort
    {
        get => publicPort > 0 ? publicPort
            : Uri.TryCreate(Urls.Split(';')[0].Replace("://*", "://localhost", StringComparison.Ordinal).Replace("://+", "://localhost", StringComparison.Ordinal),
                UriKind.Absolute, out var uri) && uri.Port > 0 ? uri.Port : 8000;
        set => publicPort = value;
    }

    private int publicPort;
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);
    public TimeSpan ResponseHeadersTimeout { get; set; } = TimeSpan.FromSeconds(100);
    public long? MaxRequestBodyBytes { get; set; } = 1L << 30;

    /// <summary>Largest request head (request line and headers) accepted from clients, in bytes (431 beyond).</summary>
    public int MaxRequestHeadersBytes { get; set; } = 64 * 1024;

    /// <summary>How long a client may take to send its request head (Kestrel closes the connection beyond).</summary>
    public TimeSpan RequestHeadersTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long an idle keep-alive client connection stays open.</summary>
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(130);

    /// <summary>How long a pooled connection to an upstream may stay idle before it is closed.</summary>
    public TimeSpan UpstreamIdleTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Static files at least this large and of a text type are compressed (gzip/brotli) when the client accepts it.</summary>
    public long CompressMinBytes { get; set; } = 256;

    /// <summary>
    /// Operator-fixed routes, <c>host → upstream URL or absolute directory</c>, e.g.
    /// <c>Slipway__Router__FixedRoutes__status.example.com=http://127.0.0.1:9000</c>. They are read at start and always
    /// win over the routes computed from deployments.
    /// </summary>
    public Dictionary<string, string> FixedRoutes { get; set; } = new(StringComparer.OrdinalIgnoreCase);
}

/// <summary>
/// Where one host's traffic goes: a running process (<see cref="Upstream"/>) or a static directory. With neither, the
/// host is known but has no live release (the router answers 503).
/// </summary>
internal sealed record RouteTarget(string DeploymentId, Uri? Upstream, string? StaticDirectory)
{
    /// <summary>The project's name, the router's metrics label (<see cref="RouterMetrics"/>); set by <c>RouteSync</c>.</summary>
    public string Project { get; init; } = RouterMetrics.FixedRoute;

    /// <summary>A host that belongs to a project but has nothing live to serve (yet, or any more).</summary>
    public static readonly RouteTarget NoLiveRelease = new("", null, null);
}
