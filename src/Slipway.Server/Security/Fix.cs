using Slipway.Server.Hosting;

namespace Slipway.Server.Security;

internal enum FixStatus
{
    Available,
    Applied,
}

/// <summary>
/// A change that resolves a finding: a unified diff against the scanned commit (checked with <c>git apply --check</c>
/// before it is stored), from the tool's own SARIF <c>fixes</c> or from one of Slipway's codemods.
/// </summary>
internal sealed class Fix : IHasId, IProjectOwned
{
    public required string Id { get; init; }
    public required string WorkspaceId { get; init; }
    public required string ProjectId { get; init; }
    public required string FindingId { get; init; }
    /// <summary><c>sarif</c> for the tool's own fix, else the codemod's name.</summary>
    public required string Codemod { get; init; }
    public FixStatus Status { get; set; }
    public required string Diff { get; set; }
    public required string Rationale { get; set; }
    public required string BaseCommit { get; set; }
    public string? Branch { get; set; }
    public string? CommitSha { get; set; }
    /// <summary>Null until a forge integration opens pull requests.</summary>
    public string? PrUrl { get; set; }
    /// <summary>Why the last attempt to apply failed.</summary>
    public string? Error { get; set; }
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; set; }
    public DateTime? AppliedAt { get; set; }
}

internal sealed record FixResponse(string Id, string RepositoryId, string FindingId, string Codemod, FixStatus Status, string Diff, string Rationale,
    string BaseCommit, string? PrUrl, string? Branch, string? CommitSha, string? Error, DateTime CreatedAt, DateTime UpdatedAt, DateTime? AppliedAt)
{
    public static FixResponse From(Fix f) => new(f.Id, f.ProjectId, f.FindingId, f.Codemod, f.Status, f.Diff, f.Rationale, f.BaseCommit, f.PrUrl,
        f.Branch, f.CommitSha, f.Error, f.CreatedAt, f.UpdatedAt, f.AppliedAt);
}
