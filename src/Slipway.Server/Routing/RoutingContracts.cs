namespace Slipway.Server.Routing;

internal sealed class RouterOptions
{
    public const string SectionName = "Slipway:Router";

    /// <summary>Where the router listens (separate from the API).</summary>
    public string Urls { get; set; } = "http://127.0.0.1:8000";

    public string BaseDomain { get; set; } = "localhost";
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);
    public TimeSpan ResponseHeadersTimeout { get; set; } = TimeSpan.FromSeconds(100);
    public long? MaxRequestBodyBytes { get; set; } = 1L << 30;
}

/// <summary>Where one host's traffic goes: a running process (<see cref="Upstream"/>) or a static directory.</summary>
internal sealed record RouteTarget(string DeploymentId, Uri? Upstream, string? StaticDirectory);
