namespace Slipway.Server.Logs;

/// <summary>One line of a deployment's log; <c>seq</c> is strictly increasing per deployment, without gaps.</summary>
internal sealed class LogLine
{
    public required string DeploymentId { get; init; }
    public long Seq { get; init; }
    public DateTime Timestamp { get; init; }
    public required string Level { get; init; }
    public required string Stream { get; init; }
    public required string Message { get; init; }
}
