using System.Text.Json;
using Slipway.Server.Auth;
using Slipway.Server.Data;
using Slipway.Server.Hosting;
using Slipway.Server.Projects;
using Slipway.Server.Workspaces;

namespace Slipway.Server.Security;

internal sealed record SecuritySettingsResponse(IReadOnlyList<string> Scanners, bool ScanOnDeploy, BlockOn BlockOn);

internal sealed record SecuritySettingsRequest(List<string?>? Scanners, bool? ScanOnDeploy, string? BlockOn);

internal sealed record UpdateRepositoryRequest(SecuritySettingsRequest? Security);

internal sealed record OpenFindingCounts(int Critical, int High, int Medium, int Low, int Total);

/// <summary>A project seen from the security side: same id, same access rules.</summary>
internal sealed record RepositoryResponse(string Id, string WorkspaceId, string Name, string RepoUrl, string? DefaultBranch,
    SecuritySettingsResponse Security, ScanResponse? LastScan, OpenFindingCounts OpenFindings, DateTime CreatedAt);

internal static class RepositoryEndpoints
{
    public static IEndpointRouteBuilder MapRepositoryEndpoints(this IEndpointRouteBuilder app)
    {
        var repositories = app.MapGroup("/api/v1/repositories").WithTags("Security");
        repositories.MapGet("/", ListAsync).RequireScope(Scopes.SecurityRead).WithSummary("List repositories with their last scan and open findings");
        repositories.MapPatch("/{id}", UpdateAsync).RequireScope(Scopes.SecurityWrite)
            .WithSummary("Change a repository's security settings: scanners, scan_on_deploy, block_on");
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

    /// <summary>
    /// Settings only (the name and URL are the project's, changed through <c>PATCH /projects/{id}</c>). Scanners must
    /// exist on this server; an empty list means "every installed scanner".
    /// </summary>
    private static async Task<RepositoryResponse> UpdateAsync(string id, UpdateRepositoryRequest body, Caller caller, Access access, SlipwayDb db,
        ScannerCatalog catalog, TimeProvider time, CancellationToken ct)
    {
        var v = new Validator();
        var scanners = body.Security?.Scanners;
        if (scanners is not null)
        {
            v.Check(scanners.Count <= 20 && scanners.Distinct().Count() == scanners.Count, "security.scanners", "must be at most 20 distinct names");
            foreach (var name in scanners)
            {
                var scanner = name is null ? null : catalog.Find(name);
                if (scanner is null) v.Check(false, "security.scanners", $"'{name}' is not a scanner of this server ({string.Join(", ", catalog.All.Select(s => s.Name))})");
                else if (!scanner.Installed) v.Check(false, "security.scanners", $"'{name}' is not installed on this server: {scanner.Missing}");
            }
        }
        BlockOn? blockOn = null;
        if (body.Security?.BlockOn is { } text) v.Check(ApiEnums.TryParse(text, out blockOn), "security.block_on", $"must be {ApiEnums.Names<BlockOn>()}");
        v.Check(body.Security is not null, "security", "is required");
        v.ThrowIfInvalid();
        var (project, _) = await access.ProjectAsync(caller, id, Need.Write, ct, "id");
        var settings = await db.RepositorySettings.AsTracking().FirstOrDefaultAsync(s => s.ProjectId == project.Id, ct);
        if (settings is null)
        {
            settings = new RepositorySettings { ProjectId = project.Id };
            db.RepositorySettings.Add(settings);
        }
        if (scanners is not null) settings.Scanners = JsonSerializer.Serialize(scanners);
        if (body.Security!.ScanOnDeploy is { } onDeploy) settings.ScanOnDeploy = onDeploy;
        if (blockOn is { } level) settings.BlockOn = level;
        settings.UpdatedAt = time.UtcNowMs();
        await db.SaveUniqueAsync("The settings were changed at the same time; try again.", ct);
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
            return new RepositoryResponse(p.Id, p.WorkspaceId, p.Name, p.RepoUrl, ProjectRules.Blank(p.Branch), Settings(settings.GetValueOrDefault(p.Id)),
                lastScans.TryGetValue(p.Id, out var scan) ? ScanResponse.From(scan) : null,
                new OpenFindingCounts(open.GetValueOrDefault(Severity.Critical), open.GetValueOrDefault(Severity.High), open.GetValueOrDefault(Severity.Medium),
                    open.GetValueOrDefault(Severity.Low), open.Values.Sum()),
                p.CreatedAt);
        }).ToList();
    }

    private static SecuritySettingsResponse Settings(RepositorySettings? s) =>
        s is null ? new SecuritySettingsResponse([], false, BlockOn.None)
            : new SecuritySettingsResponse(s.ScannerNames(), s.ScanOnDeploy, s.BlockOn);
}
