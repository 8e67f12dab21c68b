namespace Slipway.Server.Security.Sarif;

/// <summary>GitHub code scanning's published limits, which Slipway applies too.</summary>
/// <summary>A run's results come before its tool (or its automationDetails): it cannot be read in one pass.</summary>
internal sealed class SarifOutOfOrderException() : Exception("a run's results come before its tool or automationDetails");

internal sealed record SarifLimits(int MaxRuns = 20, int MaxResultsPerRun = 25_000, int MaxLocationsPerResult = 1_000, int MaxValueBytes = 16 * 1024 * 1024);

/// <summary>What the first pass learns about one run: its tool and rules, where results resolve their rule.</summary>
internal sealed record SarifRun(int Index, string ToolName, string? ToolVersion, string? AutomationId, IReadOnlyList<SarifRule> Rules, int ResultCount)
{
    public SarifRule? Rule(string? id, int? index) =>
        index is { } i && i >= 0 && i < Rules.Count ? Rules[i]
        : id is null ? null
        : Rules.FirstOrDefault(r => r.Id == id) ?? Rules.FirstOrDefault(r => id.StartsWith(r.Id + "/", StringComparison.Ordinal));
}

internal sealed record SarifRule(string Id, string? Name, string? ShortDescription, string? Help, IReadOnlyList<string> Tags,
    double? SecuritySeverity, string? DefaultLevel);

internal sealed record SarifResult(int Run, int Index, string RuleId, string? Level, string Message, IReadOnlyList<SarifLocation> Locations,
    IReadOnlyDictionary<string, string> PartialFingerprints, IReadOnlyList<SarifFix> Fixes, double? SecuritySeverity);

/// <summary>A place in a file; lines and columns are 1-based as SARIF counts them, null where the tool gave none.</summary>
internal sealed record SarifLocation(string Uri, int? StartLine, int? StartColumn, int? EndLine, int? EndColumn, string? Snippet = null);

internal sealed record SarifFix(string? Description, IReadOnlyList<SarifFileChange> Changes);

internal sealed record SarifFileChange(string Uri, IReadOnlyList<SarifReplacement> Replacements);

/// <summary>Replaces <see cref="Deleted"/> (possibly empty: an insertion) by <see cref="Inserted"/>.</summary>
internal sealed record SarifReplacement(SarifLocation Deleted, string Inserted);

/// <summary>A well-formed document that is not acceptable SARIF: 422 <c>rejected</c>, naming what is wrong and where.</summary>
internal sealed class SarifRejectedException(string message) : Exception(message);

/// <summary>Over one of the limits: 413 <c>payload_too_large</c>.</summary>
internal sealed class SarifTooLargeException(string message) : Exception(message);
