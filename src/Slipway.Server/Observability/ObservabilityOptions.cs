namespace Slipway.Server.Observability;

internal sealed class ObservabilityOptions
{
    public const string SectionName = "Slipway:Observability";

    /// <summary>
    /// How long the server keeps answering after shutdown begins, with <c>/ready</c> already 503, so a load
    /// balancer polling it stops sending traffic before the listener closes. 0 (the default) stops at once.
    /// </summary>
    public double ShutdownDrainSeconds { get; set; }

    /// <summary>Each <c>/health</c> check that takes longer than this counts as unhealthy.</summary>
    public double HealthCheckTimeoutSeconds { get; set; } = 3;
}
