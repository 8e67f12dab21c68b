namespace Slipway.Server.Hosting;

/// <summary>Ready only between "migrations ran and background services started" and "shutdown began".</summary>
internal sealed class Readiness
{
    private volatile string? notReadyReason = "starting";

    public bool IsReady => notReadyReason is null;
    public string? Reason => notReadyReason;

    public void MarkReady() => notReadyReason = null;
    public void MarkNotReady(string reason) => notReadyReason = reason;
}
