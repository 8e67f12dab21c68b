using Slipway.Server.Hosting;

namespace Slipway.Server.Deployments;

/// <summary>queued → building → deploying → ready; failed or canceled from any non-terminal state.</summary>
internal enum DeploymentStatus
{
    Queued,
    Building,
    Deploying,
    Ready,
    Failed,
    Canceled,
}

internal enum BuildStatus
{
    Pending,
    Running,
    Succeeded,
    Failed,
    Canceled,
}

internal enum DeploymentTrigger
{
    Manual,
    Api,
    Github,
    Upload,
    Rollback,
    Redeploy,
}

internal sealed class Deployment : IHasId
{
    public required string Id { get; init; }
    /// <summary>The build phase has its own id (the BuildPixel API addresses builds).</summary>
    public required string BuildId { get; init; }
    public required string WorkspaceId { get; init; }
    public required string ProjectId { get; init; }
    public required string EnvironmentId { get; init; }
    public DeploymentStatus Status { get; set; }
    public BuildStatus BuildStatus { get; set; }
    public DeploymentTrigger Trigger { get; init; }
    /// <summary>Empty until the checkout tells the repository's default branch, when neither request, environment nor project named one.</summary>
    public required string Branch { get; set; }
    public string? RequestedCommitSha { get; init; }
    public string? CommitSha { get; set; }
    public string? CommitMessage { get; set; }
    /// <summary>For rollbacks: the deployment whose release is made live again; for redeploys: the one rebuilt.</summary>
    public string? SourceDeploymentId { get; init; }
    /// <summary>For uploaded builds: the upload this deployment distributes (its source instead of a git commit).</summary>
    public string? UploadId { get; init; }
    public string? Framework { get; set; }
    public string? StartCommand { get; set; }
    /// <summary>Relative directory inside the release served as a static site; null for a process.</summary>
    public string? StaticDirectory { get; set; }
    public string? ArtifactSha256 { get; set; }
    public long? ArtifactSize { get; set; }
    /// <summary>True once retention removed the artifact and release: it can no longer be rolled back to.</summary>
    public bool ArtifactCollected { get; set; }
    public string? Error { get; set; }
    /// <summary>Per-phase durations in milliseconds, as a JSON object.</summary>
    public string Timings { get; set; } = "{}";
    public string? CreatedBy { get; init; }
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; set; }
    public DateTime? StartedAt { get; set; }
    public DateTime? BuildStartedAt { get; set; }
    public DateTime? BuildFinishedAt { get; set; }
    public DateTime? FinishedAt { get; set; }

    public static bool IsTerminal(DeploymentStatus status) =>
        status is DeploymentStatus.Ready or DeploymentStatus.Failed or DeploymentStatus.Canceled;
}
