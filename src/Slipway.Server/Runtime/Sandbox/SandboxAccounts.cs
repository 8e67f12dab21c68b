using System.Collections.Concurrent;
using Slipway.Server.Data;
using Slipway.Server.Hosting;

namespace Slipway.Server.Runtime.Sandbox;

/// <summary>Which uid a project's sandboxed processes run as (table <c>sandbox_accounts</c>).</summary>
internal sealed class SandboxAccount
{
    public required string ProjectId { get; init; }
    public long Uid { get; init; }
    public DateTime CreatedAt { get; init; }
}

/// <summary>
/// Hands each project the lowest free uid of the configured range, once; the row keeps it across restarts (and its
/// files their owner). A deleted project's row goes with it, so its uid can be handed out again. One server per
/// database is assumed (as for the other caches): a lock orders allocations, the unique index catches the rest.
/// </summary>
internal sealed class SandboxAccounts(SandboxOptions options, TimeProvider time) : IDisposable
{
    private readonly SemaphoreSlim allocating = new(1, 1);
    private readonly ConcurrentDictionary<string, SandboxIdentity> known = new(StringComparer.Ordinal);

    public async Task<SandboxIdentity> IdentityAsync(SlipwayDb db, string projectId, CancellationToken ct)
    {
        if (known.TryGetValue(projectId, out var identity)) return identity;
        await allocating.WaitAsync(ct);
        try
        {
            var uid = await db.Set<SandboxAccount>().Where(a => a.ProjectId == projectId).Select(a => (long?)a.Uid).FirstOrDefaultAsync(ct)
                      ?? await AllocateAsync(db, projectId, ct);
            return known[projectId] = new SandboxIdentity(uid);
        }
        finally
        {
            allocating.Release();
        }
    }

    public void Dispose() => allocating.Dispose();

    private async Task<long> AllocateAsync(SlipwayDb db, string projectId, CancellationToken ct)
    {
        var first = options.SandboxUidBase;
        var end = options.SandboxUidBase + options.SandboxUidCount;
        var taken = await db.Set<SandboxAccount>().Where(a => a.Uid >= first && a.Uid < end).OrderBy(a => a.Uid).Select(a => a.Uid).ToListAsync(ct);
        var uid = first;
        foreach (var used in taken)
        {
            if (used != uid) break;
            uid++;
        }
        if (uid >= end)
        {
            throw new SandboxUnavailableException(
                $"Every sandbox uid from {first} to {end - 1} is taken; raise Slipway:Runtime:SandboxUidCount.");
        }
        var account = new SandboxAccount { ProjectId = projectId, Uid = uid, CreatedAt = time.UtcNowMs() };
        db.Add(account);
        try
        {
            await db.SaveChangesAsync(ct);
        }
        finally
        {
            // The caller's context goes on with its own work: this row must not be saved (or retried) with it.
            db.Entry(account).State = EntityState.Detached;
        }
        return uid;
    }
}

/// <summary>The project cannot be given a sandbox identity; the message is safe to show.</summary>
internal sealed class SandboxUnavailableException(string message) : Exception(message);
