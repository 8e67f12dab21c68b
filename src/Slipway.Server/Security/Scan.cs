using Slipway.Server.Hosting;

namespace Slipway.Server.Security;

internal enum ScanStatus
{
    Queued,
    Running,
    Completed,
    Failed,
}

/// <summary>Where a scan's SARIF came from: uploaded through the API, or produced by Slipway running scanners.</summary>
internal enum ScanSource
{
    Upload,
    Scanner,
    Deployment,
}

/// <summary>One ingestion of SARIF for a repository: an upload, or a run of the repository's scanners.</summary>
internal sealed class Scan : IHasId, IProjectOwned
{
    public required string Id { get; init; }
    public required string WorkspaceId { get; init; }
    public required string ProjectId { get; init; }
    public ScanSource Source { get; init; }
    public ScanStatus Status { get; set; }
    public string? CommitSha { get; set; }
    public string? Ref { get; set; }
    public string? Branch { get; set; }
    /// <summary>The category the caller asked for; each run's own category is in its analyses.</summary>
    public string? Category { get; set; }
    /// <summary>JSON array of the tool names whose results the scan held.</summary>
    public string Tools { get; set; } = "[]";
    public string? Error { get; set; }
    public int Results { get; set; }
    public int NewCount { get; set; }
    public int FixedCount { get; set; }
    public int UnchangedCount { get; set; }
    public string? DeploymentId { get; set; }
    public DateTime CreatedAt { get; init; }
    public DateTime? StartedAt { get; set; }
    public DateTime? FinishedAt { get; set; }
}
