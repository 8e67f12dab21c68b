using System.Collections.Concurrent;
using Slipway.Server.Data;
using Slipway.Server.Domains;

namespace Slipway.Server.Projects;

/// <summary>
/// Projects with their environments and domains, kept in memory for reads (the hot <c>GET /projects/{id}</c> path
/// and every authorization check) and dropped by every writer through <see cref="Invalidate"/>. A load that races an
/// invalidation is not stored (generation check), so a read after a write always sees the write. One process only:
/// see docs/operations.md for several servers on one database.
/// </summary>
internal sealed class ProjectReadCache(TimeProvider time)
{
    private const int MaxEntries = 10_000;
    /// <summary>Bounds how stale a read can be when another process wrote (one process per database is the design).</summary>
    private static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(30);
    private readonly ConcurrentDictionary<string, Snapshot> entries = new(StringComparer.Ordinal);
    private long generation;

    /// <summary><paramref name="LiveIsStatic"/>: the project's live release is a static site (served by the router, no process).</summary>
    internal sealed record Snapshot(Project Project, IReadOnlyList<ProjectEnvironment> Environments, IReadOnlyList<Domain> Domains, bool LiveIsStatic)
    {
        public long LoadedAt { get; init; }
    }

    public async Task<Snapshot?> GetAsync(SlipwayDb db, string projectId, CancellationToken ct) =>
        (await GetManyAsync(db, [projectId], ct)).GetValueOrDefault(projectId);

    /// <summary>The snapshots of those projects that exist; the ones not cached are loaded together in three queries.</summary>
    public async Task<IReadOnlyDictionary<string, Snapshot>> GetManyAsync(SlipwayDb db, IReadOnlyCollection<string> projectIds, CancellationToken ct)
    {
        var found = new Dictionary<string, Snapshot>(projectIds.Count, StringComparer.Ordinal);
        var missing = new List<string>();
        foreach (var id in projectIds)
        {
            if (entries.TryGetValue(id, out var cached) && time.GetElapsedTime(cached.LoadedAt) < Lifetime) found[id] = cached;
            else if (!found.ContainsKey(id)) missing.Add(id);
        }
        if (missing.Count == 0) return found;
        var before = Interlocked.Read(ref generation);
        var projects = await db.Projects.Where(p => missing.Contains(p.Id)).Select(p => new
            {
                Project = p,
                LiveIsStatic = db.Deployments.Any(d => d.Id == p.LiveDeploymentId && d.StaticDirectory != null),
            })
            .ToListAsync(ct);
        if (projects.Count == 0) return found;
        var environments = (await db.Environments.Where(e => missing.Contains(e.ProjectId)).OrderBy(e => e.Id).ToListAsync(ct)).ToLookup(e => e.ProjectId);
        var domains = (await db.Domains.Where(d => missing.Contains(d.ProjectId)).OrderBy(d => d.Id).ToListAsync(ct)).ToLookup(d => d.ProjectId);
        var now = time.GetTimestamp();
        if (entries.Count + projects.Count > MaxEntries) entries.Clear();
        var current = Interlocked.Read(ref generation) == before;
        foreach (var row in projects)
        {
            var id = row.Project.Id;
            var snapshot = new Snapshot(row.Project, environments[id].ToList(), domains[id].ToList(), row.LiveIsStatic) { LoadedAt = now };
            if (current) entries[id] = snapshot;
            found[id] = snapshot;
        }
        return found;
    }

    /// <summary>Called after any write to a project, its environments, its domains or its live release.</summary>
    public void Invalidate(string projectId)
    {
        Interlocked.Increment(ref generation);
        entries.TryRemove(projectId, out _);
    }
}
