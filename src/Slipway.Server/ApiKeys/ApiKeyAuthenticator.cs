using System.Security.Cryptography;
using System.Text;
using Slipway.Server.Auth;
using Slipway.Server.Data;
using Slipway.Server.Hosting;

namespace Slipway.Server.ApiKeys;

/// <summary>
/// Turns an <c>slp_</c> key into a <see cref="Caller"/>. Valid keys are cached by hash (30 s, <see cref="GenerationCache{TKey, TValue}"/>)
/// so the hot path is one dictionary lookup; every change to keys clears the cache, and a load that raced the change is
/// not kept, so revocation is effective at once (within this server process; see docs/operations.md for multi-server setups).
/// </summary>
internal sealed class ApiKeyAuthenticator(IServiceScopeFactory scopes, TimeProvider time)
{
    public const string Prefix = "slp_";
    private static readonly TimeSpan LastUsedResolution = TimeSpan.FromMinutes(1);
    private readonly GenerationCache<string, Entry> cache = new(time, maxEntries: 100_000);

    private sealed record Entry(Caller Caller, DateTime? LastUsedAt);

    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    public static string NewKey() => Prefix + System.Buffers.Text.Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));

    /// <summary>Called after any key is created, revoked or deleted (directly or with its project or member), and after a tier change, and after a user is disabled or enabled.</summary>
    public void Forget() => cache.Clear();

    public async Task<Caller?> AuthenticateAsync(string key, CancellationToken ct)
    {
        if (key.Length is < 36 or > 128) return null;
        var hash = Hash(key);
        var now = time.GetUtcNow().UtcDateTime;
        // Read before the lookup: a revocation from here on keeps this load, and the last-used update, out of the cache.
        var before = cache.Generation;
        if (!cache.TryGet(hash, out var entry))
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
            // With the workspace's tier, which sizes the key's rate-limit bucket.
            var found = await (from k in db.ApiKeys
                               join w in db.Workspaces on k.WorkspaceId equals w.Id
                               where k.KeyHash == hash && k.RevokedAt == null
                                     && db.Users.Any(u => u.Id == k.CreatedBy && u.DisabledAt == null)
                               select new { Key = k, w.Tier }).FirstOrDefaultAsync(ct);
            if (found is null) return null;
            var row = found.Key;
            // Keys never carry instance-administrator power, whoever minted them.
            entry = new Entry(new Caller(row.CreatedBy, IsInstanceAdmin: false, row.Id, row.WorkspaceId, row.ProjectId,
                row.Scopes.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal), row.ExpiresAt, found.Tier),
                row.LastUsedAt);
            cache.Store(hash, entry, before);
        }
        if (entry.Caller.KeyExpiresAt is { } expires && expires <= now) return null;
        if (entry.LastUsedAt is null || now - entry.LastUsedAt > LastUsedResolution)
        {
            // last_used_at is kept to the minute: one write per key per minute, not one per request.
            cache.Store(hash, entry with { LastUsedAt = now }, before);
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
            var id = entry.Caller.ApiKeyId;
            await db.ApiKeys.Where(k => k.Id == id).ExecuteUpdateAsync(s => s.SetProperty(k => k.LastUsedAt, now), ct);
        }
        return entry.Caller;
    }
}
