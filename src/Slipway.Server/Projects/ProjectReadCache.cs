using Slipway.Server.Data;
using Slipway.Server.Hosting;
using Slipway.Server.Routing;

namespace Slipway.Server.Projects;

/// <summary>
/// Projects with their environments and domains, kept in memory for reads (<c>GET /projects/{id}</c>, every page of
/// <c>GET /projects</c> and every authorization check) and dropped by every writer through <see cref="Invalidate"/>.
/// </summary>
internal sealed class ProjectReadCache(TimeProvider time, RouterOptions router, Runtime.RuntimeOptions runtime)
{
    private readonly GenerationCache<string, Snapshot> entries = new(time, maxEntries: 10_000);

    /// <summary>
    /// <paramref name="LiveIsStatic"/>: the project's live release is a static site (served by the router, no process).
    /// <paramref name="Response"/>: what the API answers for it, but for the live status, which is the supervisor's.
    /// </summary>
    internal sealed record Snapshot(Project Project, IReadOnlyList<ProjectEnvironment> Environments, bool LiveIsStatic, ProjectResponse Response);

    public async Task<Snapshot?> GetAsync(SlipwayDb db, string projectId, CancellationToken ct) =>
        (await GetManyAsync(db, [projectId], ct)).GetValueOrDefault(projectId);

    /// <summary>The snapshots of those projects that exist; the ones not cached are loaded together in three queries.</summary>
    public async Task<IReadOnlyDictionary<string, Snapshot>> GetManyAsync(SlipwayDb db, IEnumerable<string> projectIds, CancellationToken ct) =>
        await entries.GetManyAsync(projectIds, async missing =>
        {
            var projects = await db.Projects.Where(p => missing.Contains(p.Id)).Select(p => new
                {
                    Project = p,
                    LiveIsStatic = db.Deployments.Any(d => d.Id == p.LiveDeploymentId && d.StaticDirectory != null),
                })
                .ToListAsync(ct);
            if (projects.Count == 0) return [];
            var environments = (await db.Environments.Where(e => missing.Contains(e.ProjectId)).OrderBy(e => e.Id).ToListAsync(ct))
                .ToLookup(e => e.ProjectId);
            var domains = (await db.Domains.Where(d => missing.Contains(d.ProjectId)).OrderBy(d => d.Id).ToListAsync(ct)).ToLookup(d => d.ProjectId);
            return projects.Select(row =>
            {
                var (project, envs) = (row.Project, environments[row.Project.Id].ToList());
                return (project.Id, new Snapshot(project, envs, row.LiveIsStatic, ProjectEndpoints.Response(project, envs, domains[project.Id], router, runtime.Resources)));
            });
        });

    /// <summary>Called after any write to a project, its environments, its domains or its live release.</summary>
    public void Invalidate(string projectId) => entries.Forget(projectId);
}
