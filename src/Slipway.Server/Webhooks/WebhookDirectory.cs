using System.Collections.Concurrent;
using System.Text.Json;
using Slipway.Server.Data;
using Slipway.Server.EnvVars;

namespace Slipway.Server.Webhooks;

/// <summary>What a delivery needs of its endpoint, secrets already opened and decoded to HMAC keys.</summary>
internal sealed record EndpointSnapshot(string Id, string Url, bool Enabled, string? DisabledReason, byte[] Key, byte[]? PreviousKey,
    DateTime? PreviousSecretExpiresAt)
{
    /// <summary>The keys that sign now: the current one, plus the previous one during a rotation overlap.</summary>
    public IEnumerable<byte[]> SigningKeys(DateTime now) =>
        PreviousKey is not null && PreviousSecretExpiresAt > now ? [Key, PreviousKey] : [Key];
}

/// <summary>
/// Endpoints as deliveries see them, cached so that thousands of attempts a second cost no query and no decryption.
/// Every change through the API (or the worker disabling an endpoint) invalidates its entry. Also the one place that
/// seals and opens signing secrets: bound to the endpoint id, so a secret copied to another row does not open.
/// </summary>
internal sealed partial class WebhookDirectory(IServiceScopeFactory scopes, SecretBox box, ILogger<WebhookDirectory> logger)
{
    private readonly ConcurrentDictionary<string, EndpointSnapshot> cache = new(StringComparer.Ordinal);
    private readonly Lock gate = new();
    // Bumped by every invalidation: a snapshot read from the database before one is not cached after it (it may hold
    // what the change replaced, and would then stay until the next change).
    private long generation;

    public async Task<EndpointSnapshot?> GetAsync(string endpointId, CancellationToken ct)
    {
        if (cache.TryGetValue(endpointId, out var snapshot)) return snapshot;
        var readAt = Interlocked.Read(ref generation);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
        var endpoint = await db.WebhookEndpoints.FirstOrDefaultAsync(w => w.Id == endpointId, ct);
        if (endpoint is null) return null;
        snapshot = new EndpointSnapshot(endpoint.Id, endpoint.Url, endpoint.Enabled, endpoint.DisabledReason,
            WebhookSigner.Key(Open(endpoint.SecretSealed, endpoint.SecretKeyId, endpoint.Id)),
            endpoint.PreviousSecretSealed is { } previous ? WebhookSigner.Key(Open(previous, endpoint.PreviousSecretKeyId!, endpoint.Id)) : null,
            endpoint.PreviousSecretExpiresAt);
        lock (gate)
        {
            if (generation == readAt) cache[endpointId] = snapshot;
        }
        return snapshot;
    }

    public void Invalidate(string endpointId)
    {
        lock (gate)
        {
            generation++;
            cache.TryRemove(endpointId, out _);
        }
    }

    public (byte[] Sealed, string KeyId) Seal(string secret, string endpointId) => box.Seal(secret, "webhook", endpointId, "signing-secret");

    private string Open(byte[] sealedSecret, string keyId, string endpointId) => box.Open(sealedSecret, keyId, "webhook", endpointId, "signing-secret");

    /// <summary>
    /// Re-seals every signing secret (current and previous) not under the active key (see <see cref="SecretReencryption"/>):
    /// a row is written only if both secrets are still what was read, so a rotation meanwhile is never undone.
    /// </summary>
    public async Task<ReencryptResult> ReencryptAllAsync(CancellationToken ct)
    {
        var active = box.ActiveKeyId;
        return await SecretReencryption.RunAsync(scopes,
            db => db.WebhookEndpoints.Where(w => w.SecretKeyId != active || (w.PreviousSecretKeyId != null && w.PreviousSecretKeyId != active)),
            async (db, w, token) =>
            {
                var (current, currentKeyId) = w.SecretKeyId == active ? (w.SecretSealed, w.SecretKeyId) : Seal(Open(w.SecretSealed, w.SecretKeyId, w.Id), w.Id);
                var (previous, previousKeyId) = w.PreviousSecretSealed is { } sealedPrevious && w.PreviousSecretKeyId != active
                    ? Seal(Open(sealedPrevious, w.PreviousSecretKeyId!, w.Id), w.Id)
                    : (w.PreviousSecretSealed, w.PreviousSecretKeyId);
                var (old, oldKeyId, oldPrevious) = (w.SecretSealed, w.SecretKeyId, w.PreviousSecretSealed);
                var written = await db.WebhookEndpoints
                    .Where(e => e.Id == w.Id && e.SecretKeyId == oldKeyId && e.SecretSealed == old && e.PreviousSecretSealed == oldPrevious)
                    .ExecuteUpdateAsync(s => s.SetProperty(e => e.SecretSealed, current).SetProperty(e => e.SecretKeyId, currentKeyId)
                        .SetProperty(e => e.PreviousSecretSealed, previous).SetProperty(e => e.PreviousSecretKeyId, previousKeyId), token);
                Invalidate(w.Id);
                return written;
            },
            w => ReencryptFailed(logger, w.Id), ct);
    }

    [LoggerMessage(EventId = 7003, Level = LogLevel.Warning, Message = "Webhook endpoint {EndpointId}: a signing secret does not open with its key; left as it is")]
    private static partial void ReencryptFailed(ILogger logger, string endpointId);

    /// <summary>An endpoint's subscribed types, parsed once per fan-out round.</summary>
    public static string[] Patterns(string eventsJson) => JsonSerializer.Deserialize<string[]>(eventsJson) ?? [];

    /// <summary>Whether an endpoint subscribed to <paramref name="patterns"/> wants an event of this type (<c>*</c> and <c>category.*</c> match many).</summary>
    public static bool Wants(string[] patterns, string type)
    {
        foreach (var pattern in patterns)
        {
            if (pattern == "*" || pattern == type) return true;
            if (pattern.EndsWith(".*", StringComparison.Ordinal) && type.StartsWith(pattern[..^1], StringComparison.Ordinal)) return true;
        }
        return false;
    }
}
