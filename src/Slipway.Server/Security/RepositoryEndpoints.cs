using System.Text.Json;
using Slipway.Server.Auth;
using Slipway.Server.Data;
using Slipway.Server.Hosting;
using Slipway.Server.Projects;
using Slipway.Server.Workspaces;

namespace Slipway.Server.Security;

internal sealed record SecuritySettingsResponse(IReadOnlyList<string> Scanners, bool ScanOnDeploy, BlockOn BlockOn);

internal sealed record OpenFindingCounts(int Critical, int High, int Medium, int Low, int Total);

/// <summary>A project seen from the security side: same id, same access rules.</summary>
internal sealed record RepositoryResponse(string Id, string WorkspaceId, string Name, string RepoUrl, string DefaultBranch,
    SecuritySettingsResponse Security, ScanResponse? LastScan, OpenFindingCounts OpenFindings, DateTime CreatedAt);

internal static class RepositoryEndpoints
{
    public static IEndpointRouteBuilder MapRepositoryEndpoints(this IEndpointRouteBuilder app)
    {
        var repositories = app.MapGroup("/api/v1/repositories").WithTags("Security");
        repositories.MapGet("/", ListAsync).RequireScope(Scopes.SecurityRead).WithSummary("List repositories with their last scan and open findings");
        repositories.MapGet("/{id}", GetAsync).RequireScope(Scopes.SecurityRead).WithSummary("Get a repository's security settings and status");
        return app;
    }

    private static async Task<Page<RepositoryResponse>> ListAsync(Caller caller, Access access, SlipwayDb db, PageQuery page, CancellationToken ct)
    {
        var projects = await access.VisibleProjects(caller).ToPageAsync(page, p => p, ct);
        return new Page<RepositoryResponse>(await ResponsesAsync(db, projects.Data, ct), projects.NextCursor);
    }

    private static async Task<RepositoryResponse> GetAsync(string id, Caller caller, Access access, SlipwayDb db, CancellationToken ct)
    {
        var (project, _) = await access.ProjectAsync(caller, id, Need.Read, ct, "id");
        return (await ResponsesAsync(db, [project], ct))[0];
    }

    /// <summary>A page of repositories in three queries whatever its size: settings, last scans, open counts.</summary>
    private static async Task<List<RepositoryResponse>> ResponsesAsync(SlipwayDb db, IReadOnlyList<Project> projects, CancellationToken ct)
    {
        var ids = projects.Select(p => p.Id).ToList();
        var settings = await db.RepositorySettings.Where(s => ids.Contains(s.ProjectId)).ToDictionaryAsync(s => s.ProjectId, ct);
        var lastScanIds = db.Scans.Where(s => ids.Contains(s.ProjectId)).GroupBy(s => s.ProjectId).Select(g => g.Max(s => s.Id));
        var lastScans = await db.Scans.Where(s => lastScanIds.Contains(s.Id)).ToDictionaryAsync(s => s.ProjectId, ct);
        var counts = (await db.Findings.Where(f => ids.Contains(f.ProjectId) && f.State == FindingState.Open)
                .GroupBy(f => new { f.ProjectId, f.Severity })
                .Select(g => new { g.Key.ProjectId, g.Key.Severity, Count = g.Count() })
                .ToListAsync(ct))
            .ToLookup(c => c.ProjectId);
        return projects.Select(p =>
        {
            var open = counts[p.Id].ToDictionary(c => c.Severity, c => c.Count);
            return new RepositoryResponse(p.Id, p.WorkspaceId, p.Name, p.RepoUrl, p.Branch, Settings(settings.GetValueOrDefault(p.Id)),
                lastScans.TryGetValue(p.Id, out var scan) ? ScanResponse.From(scan) : null,
                new OpenFindingCounts(open.GetValueOrDefault(Severity.Critical), open.GetValueOrDefault(Severity.High), open.GetValueOrDefault(Severity.Medium),
                    open.GetValueOrDefault(Severity.Low), open.Values.Sum()),
                p.CreatedAt);
        }).ToList();
    }

    private static SecuritySettingsResponse Settings(RepositorySettings? s) =>
        s is null ? new SecuritySettingsResponse([], false, BlockOn.None)
            : new SecuritySettingsResponse(JsonSerializer.Deserialize<List<string>>(s.Scanners) ?? [], s.ScanOnDeploy, s.BlockOn);
}
