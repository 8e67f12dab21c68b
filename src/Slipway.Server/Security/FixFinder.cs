using Slipway.Server.Builds;
using Slipway.Server.Data;
using Slipway.Server.Events;
using Slipway.Server.Hosting;
using Slipway.Server.Security.Sarif;

namespace Slipway.Server.Security;

/// <summary>A finding a scan reported with the checkout at hand: where fixes can be made and checked.</summary>
internal sealed record FixCandidate(Finding Finding, IReadOnlyList<SarifFix> ToolFixes);

/// <summary>
/// Makes the fixes of a scan's findings: the tool's own SARIF <c>fixes</c> and Slipway's codemods, each turned into a
/// unified diff against the scanned commit and kept only if <c>git apply --check</c> accepts it there. Secrets get no
/// fix (its diff would hold the secret). A fix already applied is left alone; an available one is refreshed.
/// </summary>
internal sealed class FixFinder(SlipwayDb db, TimeProvider time)
{
    /// <summary>At most this many findings get fixes per scan: each costs a git process.</summary>
    public const int MaxPerScan = 200;

    public async Task CreateAsync(IReadOnlyList<FixCandidate> candidates, SourceTree source, string baseCommit, CancellationToken ct)
    {
        var scratch = Path.Combine(Path.GetDirectoryName(source.Root)!, $"fixes-{Guid.NewGuid():N}");
        Directory.CreateDirectory(scratch);
        try
        {
            foreach (var candidate in candidates.Take(MaxPerScan))
            {
                foreach (var (codemod, diff, rationale) in Proposals(candidate, source))
                {
                    var patch = Path.Combine(scratch, "fix.diff");
                    await File.WriteAllTextAsync(patch, diff, ct);
                    if (await GitSource.PatchProblemAsync(source.Root, patch, ct) is not null) continue;
                    await StoreAsync(candidate.Finding, codemod, diff, rationale, baseCommit, ct);
                }
            }
            await db.SaveChangesAsync(ct);
            db.ChangeTracker.Clear();
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    private static IEnumerable<(string Codemod, string Diff, string Rationale)> Proposals(FixCandidate candidate, SourceTree source)
    {
        foreach (var fix in candidate.ToolFixes.Take(1))
        {
            if (ToolDiff(fix, source) is { } diff) yield return ("sarif", diff, fix.Description ?? $"The fix that {candidate.Finding.Tool} proposes for {candidate.Finding.RuleId}.");
        }
        if (candidate.Finding.Path is { } path && source.Text(path) is { } text)
        {
            foreach (var (name, after, rationale) in Codemods.For(candidate.Finding, text))
            {
                if (UnifiedDiff.Create(path, text, after) is { } diff) yield return (name, diff, rationale);
            }
        }
    }

    /// <summary>One diff over every file the fix changes; null when any change does not fit the scanned files.</summary>
    private static string? ToolDiff(SarifFix fix, SourceTree source)
    {
        var parts = new List<string>();
        foreach (var change in fix.Changes.GroupBy(c => source.Relative(c.Uri)))
        {
            if (source.Text(change.Key) is not { } before) return null;
            var after = UnifiedDiff.Apply(before, [.. change.SelectMany(c => c.Replacements)]);
            if (after is null || UnifiedDiff.Create(change.Key, before, after) is not { } diff) return null;
            parts.Add(diff);
        }
        return parts.Count == 0 ? null : string.Concat(parts);
    }

    private async Task StoreAsync(Finding finding, string codemod, string diff, string rationale, string baseCommit, CancellationToken ct)
    {
        var now = time.UtcNowMs();
        var existing = await db.Fixes.AsTracking().FirstOrDefaultAsync(f => f.FindingId == finding.Id && f.Codemod == codemod, ct);
        if (existing is not null)
        {
            if (existing.Status == FixStatus.Applied) return;
            existing.Diff = diff;
            existing.Rationale = rationale;
            existing.BaseCommit = baseCommit;
            existing.Error = null;
            existing.UpdatedAt = now;
            return;
        }
        var fix = new Fix
        {
            Id = Ids.New(time), WorkspaceId = finding.WorkspaceId, ProjectId = finding.ProjectId, FindingId = finding.Id, Codemod = codemod,
            Status = FixStatus.Available, Diff = diff, Rationale = rationale, BaseCommit = baseCommit, CreatedAt = now, UpdatedAt = now,
        };
        db.Fixes.Add(fix);
        db.Events.Add(Event.Of(time, fix.WorkspaceId, fix.ProjectId, "fix.created", FixResponse.From(fix)));
    }
}
