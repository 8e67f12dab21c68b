using Slipway.Server.Hosting;

namespace Slipway.Server.Security;

internal enum FindingState
{
    Open,
    Fixed,
    Dismissed,
}

internal enum Severity
{
    Low,
    Medium,
    High,
    Critical,
}

/// <summary>The level at or above which a new open finding fails a deployment; <c>none</c> never does.</summary>
internal enum BlockOn
{
    None,
    Low,
    Medium,
    High,
    Critical,
}

internal enum Classification
{
    TruePositive,
    FalsePositive,
    WontFix,
    UsedInTests,
    NeedsReview,
}

internal enum TriageSource
{
    Auto,
    User,
}

/// <summary>GitHub's reasons for dismissing an alert.</summary>
internal enum DismissedReason
{
    FalsePositive,
    WontFix,
    UsedInTests,
}

/// <summary>
/// One problem a tool reports in a repository, the same row across scans: its identity is tool + category + rule +
/// fingerprint (<see cref="Identity"/> hashes them), so moving code keeps it, and a later complete analysis of the same
/// tool and category without it marks it fixed.
/// </summary>
internal sealed class Finding : IHasId, IProjectOwned
{
    public required string Id { get; init; }
    public required string WorkspaceId { get; init; }
    public required string ProjectId { get; init; }
    public required string Identity { get; init; }
    public required string Tool { get; init; }
    public required string Category { get; init; }
    public required string RuleId { get; init; }
    public required string Fingerprint { get; init; }
    public FindingState State { get; set; }
    public Severity Severity { get; set; }
    /// <summary>SARIF level: error, warning, note or none.</summary>
    public required string Level { get; set; }
    public double? SecuritySeverity { get; set; }
    public string? RuleName { get; set; }
    public string? RuleDescription { get; set; }
    public string? RuleHelp { get; set; }
    /// <summary>JSON array of the rule's tags (CWE ids among them).</summary>
    public string Tags { get; set; } = "[]";
    public required string Message { get; set; }
    /// <summary>The primary location's file and line, for filters and the gate's messages.</summary>
    public string? Path { get; set; }
    public int? StartLine { get; set; }
    /// <summary>JSON array of every location as the last scan reported it.</summary>
    public string Locations { get; set; } = "[]";
    public string? CommitSha { get; set; }
    public required string FirstScanId { get; init; }
    public required string LastScanId { get; set; }
    public Classification TriageClassification { get; set; }
    public TriageSource TriageSource { get; set; }
    public required string TriageRationale { get; set; }
    public DateTime TriageUpdatedAt { get; set; }
    public DismissedReason? DismissedReason { get; set; }
    public string? DismissedComment { get; set; }
    public string? DismissedBy { get; set; }
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; set; }
    public DateTime? FixedAt { get; set; }
}

/// <summary>One change of a finding's state, by a scan or by a person.</summary>
internal sealed class FindingChange : IHasId
{
    public required string Id { get; init; }
    public required string FindingId { get; init; }
    public string? ScanId { get; init; }
    public FindingState? FromState { get; init; }
    public FindingState ToState { get; init; }
    /// <summary><c>scan</c>, or the user id of whoever changed it.</summary>
    public required string Actor { get; init; }
    public string? Reason { get; init; }
    public DateTime At { get; init; }
}

/// <summary>A repository's security settings; a project without a row has the defaults.</summary>
internal sealed class RepositorySettings
{
    public required string ProjectId { get; init; }
    /// <summary>JSON array of scanner preset names (or operator-defined scanner names).</summary>
    public string Scanners { get; set; } = "[]";

    /// <summary>The chosen scanner names (empty: every installed one).</summary>
    public List<string> ScannerNames() => System.Text.Json.JsonSerializer.Deserialize<List<string>>(Scanners) ?? [];
    public bool ScanOnDeploy { get; set; }
    public BlockOn BlockOn { get; set; }
    public DateTime UpdatedAt { get; set; }
}
