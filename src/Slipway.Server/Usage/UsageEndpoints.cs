using System.Globalization;
using Microsoft.AspNetCore.Mvc;
using Slipway.Server.Auth;
using Slipway.Server.Data;
using Slipway.Server.Deployments;
using Slipway.Server.Hosting;
using Slipway.Server.OpenApi;
using Slipway.Server.Projects;
using Slipway.Server.Webhooks;
using Slipway.Server.Workspaces;

namespace Slipway.Server.Usage;

internal sealed record UsageFigures(
    int Deployments, int Succeeded, int Failed, int Canceled, double BuildMinutes, int ActiveProjects, long LogLines, long LogCharacters,
    int WebhookDeliveries, int WebhookDeliveriesSucceeded, int WebhookDeliveriesDead);

internal sealed record UsageBucket(DateTime Start, DateTime End, UsageFigures Figures);

internal sealed record ProjectUsage(string ProjectId, string Name, long ArtifactStorageBytes, DateTime? LastDeployedAt, UsageFigures Figures);

internal sealed record UsageResponse(
    string WorkspaceId, string? ProjectId, DateTime From, DateTime To, string Granularity, long ArtifactStorageBytes, UsageFigures Totals,
    IReadOnlyList<UsageBucket> Series, IReadOnlyList<ProjectUsage>? Projects);

/// <summary>
/// Usage computed from the records themselves (deployments, log lines, artifacts, webhook deliveries), never from
/// counters, so figures cannot drift from what the API lists. Periods are aligned to whole UTC days or hours.
/// </summary>
internal static class UsageEndpoints
{
    public const int MaxBuckets = 1000;

    public static IEndpointRouteBuilder MapUsageEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/usage", WorkspaceUsageAsync).RequireScope(Scopes.UsageRead).WithTags("Usage").ProducesErrors();
        app.MapGet("/api/v1/projects/{projectId}/usage", ProjectUsageAsync).RequireScope(Scopes.UsageRead).WithTags("Usage").ProducesErrors();
        return app;
    }

    private static async Task<UsageResponse> WorkspaceUsageAsync([FromQuery(Name = "workspace_id")] string? workspaceId, [FromQuery] string? from,
        [FromQuery] string? to, [FromQuery] string? granularity, Caller caller, Access access, SlipwayDb db, TimeProvider time, CancellationToken ct)
    {
        var period = Period.Parse(from, to, granularity, time);
        if (workspaceId is not null && !Ids.IsValid(workspaceId)) throw ApiException.NotFound("Workspace", workspaceId);
        if (caller.KeyProjectId is not null) throw ApiException.Forbidden("This API key is restricted to one project; ask for that project's usage.");
        var id = workspaceId ?? caller.KeyWorkspaceId ?? await ProjectEndpoints.PersonalWorkspaceAsync(db, caller, ct);
        await access.RequireRoleAsync(caller, id, Need.Read, ct);
        return await ComputeAsync(db, id, null, period, ct);
    }

    private static async Task<UsageResponse> ProjectUsageAsync(string projectId, [FromQuery] string? from, [FromQuery] string? to,
        [FromQuery] string? granularity, Caller caller, Access access, SlipwayDb db, TimeProvider time, CancellationToken ct)
    {
        var period = Period.Parse(from, to, granularity, time);
        var (project, _) = await access.ProjectAsync(caller, projectId, Need.Read, ct);
        return await ComputeAsync(db, project.WorkspaceId, project.Id, period, ct);
    }

    private static async Task<UsageResponse> ComputeAsync(SlipwayDb db, string workspaceId, string? projectId, Period period, CancellationToken ct)
    {
        var deploymentsOfScope = db.Deployments.Where(d => d.WorkspaceId == workspaceId && (projectId == null || d.ProjectId == projectId));
        var deployments = await deploymentsOfScope.Where(d => d.CreatedAt >= period.From && d.CreatedAt < period.To)
            .Select(d => new { d.ProjectId, d.Status, d.CreatedAt, d.BuildStartedAt, d.BuildFinishedAt }).ToListAsync(ct);
        // Stored artifacts now: content-addressed, so one archive kept by two deployments counts once.
        var artifacts = (await deploymentsOfScope.Where(d => d.ArtifactSha256 != null && d.ArtifactSize != null && !d.ArtifactCollected)
                .Select(d => new { d.ProjectId, d.ArtifactSha256, d.ArtifactSize }).ToListAsync(ct))
            .DistinctBy(a => (a.ProjectId, a.ArtifactSha256)).ToList();
        var logs = await (from l in db.LogLines
                          join d in deploymentsOfScope on l.DeploymentId equals d.Id
                          where l.Timestamp >= period.From && l.Timestamp < period.To
                          group l by new { d.ProjectId, l.Timestamp.Date, l.Timestamp.Hour } into g
                          select new { g.Key.ProjectId, g.Key.Date, g.Key.Hour, Lines = g.LongCount(), Characters = g.Sum(l => (long)l.Message.Length) })
            .ToListAsync(ct);
        // Grouped in SQL like the log lines: deliveries can run to millions in a period.
        var deliveries = await db.WebhookDeliveries
            .Where(w => w.WorkspaceId == workspaceId && (projectId == null || w.ProjectId == projectId) && w.CreatedAt >= period.From && w.CreatedAt < period.To)
            .GroupBy(w => new { w.ProjectId, w.Status, w.CreatedAt.Date, w.CreatedAt.Hour })
            .Select(g => new { g.Key.ProjectId, g.Key.Status, g.Key.Date, g.Key.Hour, Count = g.Count() }).ToListAsync(ct);

        // One pass over each list: every row goes to its bucket, the totals and its project.
        var series = period.Buckets().Select(b => new Tally(b.Start, b.End)).ToList();
        var totals = new Tally(period.From, period.To);
        var byProject = new Dictionary<string, Tally>(StringComparer.Ordinal);
        IEnumerable<Tally> TalliesOf(DateTime at, string? project)
        {
            yield return totals;
            yield return series[period.BucketOf(at)];
            if (projectId is null && project is not null)
            {
                yield return byProject.TryGetValue(project, out var tally) ? tally : byProject[project] = new Tally(period.From, period.To);
            }
        }
        foreach (var d in deployments)
        {
            var minutes = d.BuildStartedAt is { } started && d.BuildFinishedAt is { } finished ? (finished - started).TotalMinutes : 0;
            foreach (var t in TalliesOf(d.CreatedAt, d.ProjectId)) t.AddDeployment(d.ProjectId, d.Status, minutes);
        }
        foreach (var l in logs)
        {
            foreach (var t in TalliesOf(l.Date.AddHours(period.Hourly ? l.Hour : 0), l.ProjectId)) t.AddLogs(l.Lines, l.Characters);
        }
        foreach (var w in deliveries)
        {
            foreach (var t in TalliesOf(w.Date.AddHours(period.Hourly ? w.Hour : 0), w.ProjectId)) t.AddDeliveries(w.Status, w.Count);
        }

        List<ProjectUsage>? projects = null;
        if (projectId is null)
        {
            var lastDeployed = await deploymentsOfScope.GroupBy(d => d.ProjectId).Select(g => new { g.Key, Last = g.Max(d => d.CreatedAt) })
                .ToDictionaryAsync(x => x.Key, x => (DateTime?)x.Last, ct);
            projects = (await db.Projects.Where(p => p.WorkspaceId == workspaceId).OrderBy(p => p.Name).Select(p => new { p.Id, p.Name }).ToListAsync(ct))
                .Select(p => new ProjectUsage(p.Id, p.Name, artifacts.Where(a => a.ProjectId == p.Id).Sum(a => a.ArtifactSize!.Value),
                    lastDeployed.GetValueOrDefault(p.Id), (byProject.GetValueOrDefault(p.Id) ?? new Tally(period.From, period.To)).Figures()))
                .ToList();
        }
        return new UsageResponse(workspaceId, projectId, period.From, period.To, period.Hourly ? "hour" : "day", artifacts.Sum(a => a.ArtifactSize!.Value),
            totals.Figures(), series.Select(t => new UsageBucket(t.Start, t.End, t.Figures())).ToList(), projects);
    }

    /// <summary>Figures being summed for one bucket, the whole period, or one project.</summary>
    private sealed class Tally(DateTime start, DateTime end)
    {
        private readonly HashSet<string> projects = new(StringComparer.Ordinal);
        private int deployments, succeeded, failed, canceled, deliveries, deliveriesSucceeded, deliveriesDead;
        private double buildMinutes;
        private long logLines, logCharacters;

        public DateTime Start { get; } = start;
        public DateTime End { get; } = end;

        public void AddDeployment(string projectId, DeploymentStatus status, double minutes)
        {
            deployments++;
            if (status == DeploymentStatus.Ready) succeeded++;
            if (status == DeploymentStatus.Failed) failed++;
            if (status == DeploymentStatus.Canceled) canceled++;
            buildMinutes += minutes;
            projects.Add(projectId);
        }

        public void AddLogs(long lines, long characters) => (logLines, logCharacters) = (logLines + lines, logCharacters + characters);

        public void AddDeliveries(DeliveryStatus status, int count)
        {
            deliveries += count;
            if (status == DeliveryStatus.Succeeded) deliveriesSucceeded += count;
            if (status == DeliveryStatus.Dead) deliveriesDead += count;
        }

        public UsageFigures Figures() => new(deployments, succeeded, failed, canceled, Math.Round(buildMinutes, 3), projects.Count, logLines,
            logCharacters, deliveries, deliveriesSucceeded, deliveriesDead);
    }

    private sealed record Period(DateTime From, DateTime To, bool Hourly)
    {
        private TimeSpan Step => Hourly ? TimeSpan.FromHours(1) : TimeSpan.FromDays(1);

        /// <summary>The index of the bucket holding <paramref name="at"/> (which lies in the period).</summary>
        public int BucketOf(DateTime at) => (int)((at - From).Ticks / Step.Ticks);

        public IEnumerable<(DateTime Start, DateTime End)> Buckets()
        {
            for (var start = From; start < To; start += Step) yield return (start, start + Step);
        }

        /// <summary>Defaults: the last 30 days by day. <c>from</c> is rounded down and <c>to</c> up to whole buckets.</summary>
        public static Period Parse(string? fromText, string? toText, string? granularity, TimeProvider time)
        {
            var v = new Validator();
            var hourly = granularity switch
            {
                null or "day" => false,
                "hour" => true,
                _ => v.Check(false, "granularity", "must be day or hour").IsValid,
            };
            var to = Timestamp(toText, "to", v) ?? time.GetUtcNow().UtcDateTime;
            var from = Timestamp(fromText, "from", v) ?? to.AddDays(-30);
            v.ThrowIfInvalid();
            var step = hourly ? TimeSpan.TicksPerHour : TimeSpan.TicksPerDay;
            var start = new DateTime(from.Ticks - (from.Ticks % step), DateTimeKind.Utc);
            var end = new DateTime(to.Ticks % step == 0 ? to.Ticks : to.Ticks - (to.Ticks % step) + step, DateTimeKind.Utc);
            v.Check(start < end, "to", "must be after from");
            v.Check(start >= end || (end - start).Ticks / step <= MaxBuckets, "from",
                $"the period spans more than {MaxBuckets} {(hourly ? "hours" : "days")}; narrow it or use a coarser granularity");
            v.ThrowIfInvalid();
            return new Period(start, end, hourly);
        }

        private static DateTime? Timestamp(string? text, string field, Validator v)
        {
            if (text is null) return null;
            if (text.Length <= 64 && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture,
                    DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed) && parsed.Year is >= 2000 and <= 9000)
                return parsed.UtcDateTime;
            v.Check(false, field, "must be an ISO 8601 timestamp, e.g. 2026-11-01T00:00:00Z");
            return null;
        }
    }
}
