using System.Collections.Concurrent;
using Slipway.Server.Workspaces;

namespace Slipway.Server.Auth;

/// <summary>
/// What every authenticated request asks the database again and again: a user's token version, admin flag and
/// rate-limit tier (per token), and the caller's role in a workspace (per caller). Every writer of users, members or
/// tiers calls <see cref="Forget"/>, so a password change, a role change or a removal is effective at once; a load
/// that races a <see cref="Forget"/> is not stored (generation check). One process only, like the other caches:
/// <see cref="Lifetime"/> bounds staleness when another process (the CLI) writes.
/// </summary>
internal sealed class CallerCache(TimeProvider time)
{
    private const int MaxEntries = 100_000;
    private static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(30);
    private readonly ConcurrentDictionary<string, Entry<UserState?>> users = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string UserId, string WorkspaceId), Entry<WorkspaceRole?>> roles = new();
    private long generation;

    internal sealed record UserState(int TokenVersion, bool IsAdmin, bool Disabled, RateLimitTier Tier);

    private sealed record Entry<T>(T Value, long LoadedAt);

    public ValueTask<UserState?> UserAsync(string userId, Func<Task<UserState?>> load) => GetAsync(users, userId, load);

    public ValueTask<WorkspaceRole?> RoleAsync(string userId, string workspaceId, Func<Task<WorkspaceRole?>> load) =>
        GetAsync(roles, (userId, workspaceId), load);

    /// <summary>Called after any change to a user's password, token version or disabled state, a membership, a role or a tier.</summary>
    public void Forget()
    {
        Interlocked.Increment(ref generation);
        users.Clear();
        roles.Clear();
    }

    private async ValueTask<T> GetAsync<TKey, T>(ConcurrentDictionary<TKey, Entry<T>> entries, TKey key, Func<Task<T>> load) where TKey : notnull
    {
        if (entries.TryGetValue(key, out var cached) && time.GetElapsedTime(cached.LoadedAt) < Lifetime) return cached.Value;
        var before = Interlocked.Read(ref generation);
        var value = await load();
        if (entries.Count >= MaxEntries) entries.Clear();
        if (Interlocked.Read(ref generation) != before) return value;
        entries[key] = new Entry<T>(value, time.GetTimestamp());
        // A Forget() between the check and the store must not leave the old state cached: check again, after storing.
        if (Interlocked.Read(ref generation) != before) entries.TryRemove(key, out _);
        return value;
    }
}
