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

    internal sealed record Snapshot(Project Project, IReadOnlyList<ProjectEnvironment> Environments, IReadOnlyList<Domain> Domains)
    {
        public long LoadedAt { get; init; }
    }

    public async Task<Snapshot?> GetAsync(SlipwayDb db, string projectId, CancellationToken ct)
    {
        if (entries.TryGetValue(projectId, out var cached) && time.GetElapsedTime(cached.LoadedAt) < Lifetime) return cached;
        var before = Interlocked.Read(ref generation);
        var project = await db.Projects.FirstOrDefaultAsync(p => p.Id == projectId, ct);
        if (project is null) return null;
        var snapshot = new Snapshot(project,
            await db.Environments.Where(e => e.ProjectId == projectId).OrderBy(e => e.Id).ToListAsync(ct),
            await db.Domains.Where(d => d.ProjectId == projectId).OrderBy(d => d.Id).ToListAsync(ct)) { LoadedAt = time.GetTimestamp() };
        if (entries.Count >= MaxEntries) entries.Clear();
        if (Interlocked.Read(ref generation) == before) entries[projectId] = snapshot;
        return snapshot;
    }

    /// <summary>Called after any write to a project, its environments, its domains or its live release.</summary>
    public void Invalidate(string projectId)
    {
        Interlocked.Increment(ref generation);
        entries.TryRemove(projectId, out _);
    }
}
