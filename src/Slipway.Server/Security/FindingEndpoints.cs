using Microsoft.AspNetCore.Mvc;
using Slipway.Server.Auth;
using Slipway.Server.Data;
using Slipway.Server.Hosting;
using Slipway.Server.Workspaces;

namespace Slipway.Server.Security;

internal static class FindingEndpoints
{
    public static IEndpointRouteBuilder MapFindingEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/repositories/{id}/findings", ListAsync).WithTags("Security").RequireScope(Scopes.SecurityRead)
            .WithSummary("List a repository's findings");
        var findings = app.MapGroup("/api/v1/findings").WithTags("Security");
        findings.MapGet("/{id}", GetAsync).RequireScope(Scopes.SecurityRead).WithSummary("Get a finding with its locations, snippets and history");
        findings.MapPatch("/{id}", UpdateAsync).RequireScope(Scopes.SecurityWrite).WithSummary("Dismiss or reopen a finding");
        return app;
    }

    private static async Task<Page<FindingResponse>> ListAsync(string id, [FromQuery] string? state, [FromQuery] string? severity,
        [FromQuery] string? tool, [FromQuery] string? rule, Caller caller, Access access, SlipwayDb db, PageQuery page, CancellationToken ct)
    {
        var v = new Validator();
        var states = EnumFilter<FindingState>(v, state, "state");
        var severities = EnumFilter<Severity>(v, severity, "severity");
        v.ThrowIfInvalid();
        var (project, _) = await access.ProjectAsync(caller, id, Need.Read, ct, "id");
        var query = db.Findings.Where(f => f.ProjectId == project.Id);
        if (states is not null) query = query.Where(f => states.Contains(f.State));
        if (severities is not null) query = query.Where(f => severities.Contains(f.Severity));
        if (!string.IsNullOrEmpty(tool)) query = query.Where(f => f.Tool == tool);
        if (!string.IsNullOrEmpty(rule)) query = query.Where(f => f.RuleId == rule);
        return await query.ToPageAsync(page, FindingResponse.From, ct);
    }

    private static async Task<FindingDetailResponse> GetAsync(string id, Caller caller, Access access, SlipwayDb db, CancellationToken ct)
    {
        var finding = await VisibleAsync(id, caller, access, db, ct);
        var history = await db.FindingHistory.Where(h => h.FindingId == finding.Id).OrderBy(h => h.Id).ToListAsync(ct);
        var summary = FindingResponse.From(finding);
        var locations = FindingResponse.Locations(finding);
        return new FindingDetailResponse(summary.Id, summary.RepositoryId, summary.Tool, summary.Category, summary.Rule, summary.Severity,
            summary.SecuritySeverity, summary.Level, summary.State, summary.Message, summary.Location, locations, summary.Fingerprint,
            summary.CommitSha, summary.FirstScanId, summary.LastScanId, summary.Triage, summary.DismissedReason, summary.DismissedComment,
            history.Select(h => new FindingChangeResponse(h.FromState, h.ToState, h.Actor, h.ScanId, h.Reason, h.At)).ToList(),
            summary.CreatedAt, summary.UpdatedAt, summary.FixedAt);
    }

    /// <summary>
    /// A person's verdict: <c>dismissed</c> with one of GitHub's reasons (which becomes the triage classification), or
    /// <c>open</c> again (a confirmed true positive). It is kept across rescans: a scan never reopens a dismissal.
    /// </summary>
    private static async Task<FindingResponse> UpdateAsync(string id, UpdateFindingRequest body, Caller caller, Access access, SlipwayDb db,
        SarifIngestion ingestion, TimeProvider time, CancellationToken ct)
    {
        var v = new Validator().Required(body.State, "state");
        FindingState? to = null;
        if (body.State is { Length: > 0 } stateText)
        {
            v.Check(ApiEnums.TryParse<FindingState>(stateText, out to) && to is FindingState.Open or FindingState.Dismissed, "state", "must be dismissed or open");
        }
        DismissedReason? reason = null;
        if (to == FindingState.Dismissed)
        {
            v.Required(body.DismissedReason, "dismissed_reason");
            if (body.DismissedReason is { Length: > 0 } reasonText)
                v.Check(ApiEnums.TryParse(reasonText, out reason), "dismissed_reason", $"must be {ApiEnums.Names<DismissedReason>()}");
        }
        else
        {
            v.Check(body.DismissedReason is null, "dismissed_reason", "is only allowed with state dismissed");
        }
        v.Check(body.Comment is null || body.Comment.Length <= 1000, "comment", "must be at most 1000 characters");
        v.ThrowIfInvalid();

        var visible = await VisibleAsync(id, caller, access, db, ct);
        await access.ProjectAsync(caller, visible.ProjectId, Need.Write, ct);
        var finding = await db.Findings.AsTracking().FirstAsync(f => f.Id == visible.Id, ct);
        var now = time.UtcNowMs();
        var actor = caller.UserId;
        if (to == FindingState.Dismissed)
        {
            finding.DismissedReason = reason;
            finding.DismissedComment = body.Comment;
            finding.DismissedBy = actor;
            SetTriage(finding, reason switch
            {
                DismissedReason.FalsePositive => Classification.FalsePositive,
                DismissedReason.WontFix => Classification.WontFix,
                _ => Classification.UsedInTests,
            }, body.Comment ?? $"Dismissed as {ApiEnums.Text(reason!.Value)}.", now);
        }
        else
        {
            finding.DismissedReason = null;
            finding.DismissedComment = null;
            finding.DismissedBy = null;
            SetTriage(finding, Classification.TruePositive, body.Comment ?? "Confirmed and reopened by a person.", now);
        }
        if (finding.State != to)
        {
            // A fixed finding can be dismissed (it stays dismissed if it comes back) but reopening applies to dismissals only.
            if (to == FindingState.Open && finding.State == FindingState.Fixed)
                throw ApiException.InvalidState($"Finding '{finding.Id}' is fixed; it reopens by itself if a scan reports it again.");
            ingestion.ChangeState(finding, to!.Value, null, actor, body.Comment, now);
        }
        else
        {
            finding.UpdatedAt = now;
        }
        await db.SaveChangesAsync(ct);
        return FindingResponse.From(finding);
    }

    private static void SetTriage(Finding finding, Classification classification, string rationale, DateTime now)
    {
        finding.TriageClassification = classification;
        finding.TriageSource = TriageSource.User;
        finding.TriageRationale = rationale;
        finding.TriageUpdatedAt = now;
    }

    /// <summary>A finding of a project the caller can see; any other id is a 404 that names nothing else.</summary>
    private static async Task<Finding> VisibleAsync(string id, Caller caller, Access access, SlipwayDb db, CancellationToken ct)
    {
        return await access.VisibleAsync(db.Findings, caller, id, "Finding", ct);
    }

    /// <summary>A comma-separated filter of enum values, each spelled as the API spells it.</summary>
    public static List<T>? EnumFilter<T>(Validator v, string? text, string field) where T : struct, Enum
    {
        if (string.IsNullOrEmpty(text)) return null;
        var values = new List<T>();
        foreach (var part in text.Split(','))
        {
            if (ApiEnums.TryParse<T>(part.Trim(), out var value)) values.Add(value!.Value);
            else v.Check(false, field, $"must be {ApiEnums.Names<T>()} (comma-separated for several)");
        }
        return values;
    }
}
