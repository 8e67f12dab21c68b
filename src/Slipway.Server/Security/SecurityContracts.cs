using System.Text.Json;
using Slipway.Server.Hosting;

namespace Slipway.Server.Security;

internal sealed record ScanCounts(int New, int Fixed, int Unchanged);

internal sealed record ScanResponse(string Id, string RepositoryId, ScanSource Source, ScanStatus Status, string? CommitSha, string? Ref,
    string? Branch, string? Category, IReadOnlyList<string> Tools, int Results, ScanCounts Counts, string? Error, string? DeploymentId,
    DateTime CreatedAt, DateTime? StartedAt, DateTime? FinishedAt)
{
    public static ScanResponse From(Scan s) => new(s.Id, s.ProjectId, s.Source, s.Status, s.CommitSha, s.Ref, s.Branch, s.Category,
        JsonSerializer.Deserialize<List<string>>(s.Tools) ?? [], s.Results, new ScanCounts(s.NewCount, s.FixedCount, s.UnchangedCount), s.Error,
        s.DeploymentId, s.CreatedAt, s.StartedAt, s.FinishedAt);
}

internal sealed record RuleResponse(string Id, string? Name, string? Description, string? Help, IReadOnlyList<string> Tags, IReadOnlyList<string> Cwe);

internal sealed record TriageResponse(Classification Classification, TriageSource Source, string Rationale, DateTime UpdatedAt);

/// <summary>
/// A location as stored: repository-relative path, 1-based lines and columns, and the code it points at as the scanned
/// commit had it (read from the checkout for Slipway's own scans, from the SARIF region's snippet for uploads; null when
/// neither is available).
/// </summary>
internal sealed record FindingLocation(string Path, int? StartLine, int? StartColumn, int? EndLine, int? EndColumn, string? Snippet);

internal sealed record FindingChangeResponse(FindingState? From, FindingState To, string Actor, string? ScanId, string? Reason, DateTime At);

internal sealed record FindingResponse(string Id, string RepositoryId, string Tool, string Category, RuleResponse Rule, Severity Severity,
    double? SecuritySeverity, string Level, FindingState State, string Message, FindingLocation? Location, string Fingerprint, string? CommitSha,
    string FirstScanId, string LastScanId, TriageResponse Triage, DismissedReason? DismissedReason, string? DismissedComment,
    DateTime CreatedAt, DateTime UpdatedAt, DateTime? FixedAt)
{
    public static FindingResponse From(Finding f) =>
        From(f, JsonSerializer.Deserialize<List<string>>(f.Tags) ?? [], f.Path is null ? [] : Locations(f));

    /// <summary>The response from what the caller already holds parsed (an ingest), not from the row's JSON columns.</summary>
    public static FindingResponse From(Finding f, IReadOnlyList<string> tags, IReadOnlyList<FindingLocation> locations)
    {
        return new FindingResponse(f.Id, f.ProjectId, f.Tool, f.Category,
            new RuleResponse(f.RuleId, f.RuleName, f.RuleDescription, f.RuleHelp, tags, Cwes(tags)), f.Severity, f.SecuritySeverity, f.Level,
            f.State, f.Message, f.Path is null || locations.Count == 0 ? null : locations[0], f.Fingerprint, f.CommitSha, f.FirstScanId, f.LastScanId,
            new TriageResponse(f.TriageClassification, f.TriageSource, f.TriageRationale, f.TriageUpdatedAt), f.DismissedReason,
            f.DismissedComment, f.CreatedAt, f.UpdatedAt, f.FixedAt);
    }

    public static IReadOnlyList<FindingLocation> Locations(Finding f) =>
        JsonSerializer.Deserialize<List<FindingLocation>>(f.Locations, SlipwayJson.Options) ?? [];

    /// <summary>CWE ids from tags in the forms tools use: <c>external/cwe/cwe-79</c>, <c>CWE-79</c>, <c>cwe:79</c>.</summary>
    private static List<string> Cwes(IEnumerable<string> tags) =>
        tags.Select(t => t.ToLowerInvariant())
            .Select(t => t.StartsWith("external/cwe/cwe-", StringComparison.Ordinal) ? t["external/cwe/cwe-".Length..]
                : t.StartsWith("cwe-", StringComparison.Ordinal) ? t["cwe-".Length..]
                : t.StartsWith("cwe:", StringComparison.Ordinal) ? t["cwe:".Length..]
                : null)
            .Where(n => n is { Length: > 0 } && n.All(char.IsAsciiDigit))
            .Select(n => $"CWE-{int.Parse(n!, System.Globalization.CultureInfo.InvariantCulture)}")
            .Distinct()
            .ToList();
}

/// <summary>The detail view: every location with its snippet, and the history of state changes.</summary>
internal sealed record FindingDetailResponse(string Id, string RepositoryId, string Tool, string Category, RuleResponse Rule, Severity Severity,
    double? SecuritySeverity, string Level, FindingState State, string Message, FindingLocation? Location, IReadOnlyList<FindingLocation> Locations,
    string Fingerprint, string? CommitSha, string FirstScanId, string LastScanId, TriageResponse Triage, DismissedReason? DismissedReason,
    string? DismissedComment, IReadOnlyList<FindingChangeResponse> History, DateTime CreatedAt, DateTime UpdatedAt, DateTime? FixedAt);

internal sealed record UpdateFindingRequest(string? State, string? DismissedReason, string? Comment);
