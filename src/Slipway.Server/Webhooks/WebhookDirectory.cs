using System.Collections.Concurrent;
using System.Text.Json;
using Slipway.Server.Data;
using Slipway.Server.EnvVars;

namespace Slipway.Server.Webhooks;

/// <summary>What a delivery needs of its endpoint, secrets already opened.</summary>
internal sealed record EndpointSnapshot(string Id, string Url, bool Enabled, string? DisabledReason, string Secret, string? PreviousSecret,
    DateTime? PreviousSecretExpiresAt)
{
    /// <summary>The secrets that sign now: the current one, plus the previous one during a rotation overlap.</summary>
    public IEnumerable<string> SigningSecrets(DateTime now) =>
        PreviousSecret is not null && PreviousSecretExpiresAt > now ? [Secret, PreviousSecret] : [Secret];
}

/// <summary>
/// Endpoints as deliveries see them, cached so that thousands of attempts a second cost no query and no decryption.
/// Every change through the API (or the worker disabling an endpoint) invalidates its entry. Also the one place that
/// seals and opens signing secrets: bound to the endpoint id, so a secret copied to another row does not open.
/// </summary>
internal sealed class WebhookDirectory(IServiceScopeFactory scopes, SecretBox box)
{
    private readonly ConcurrentDictionary<string, EndpointSnapshot> cache = new(StringComparer.Ordinal);

    public async Task<EndpointSnapshot?> GetAsync(string endpointId, CancellationToken ct)
    {
        if (cache.TryGetValue(endpointId, out var snapshot)) return snapshot;
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
        var endpoint = await db.WebhookEndpoints.FirstOrDefaultAsync(w => w.Id == endpointId, ct);
        if (endpoint is null) return null;
        snapshot = new EndpointSnapshot(endpoint.Id, endpoint.Url, endpoint.Enabled, endpoint.DisabledReason,
            Open(endpoint.SecretSealed, endpoint.SecretKeyId, endpoint.Id),
            endpoint.PreviousSecretSealed is { } previous ? Open(previous, endpoint.PreviousSecretKeyId!, endpoint.Id) : null,
            endpoint.PreviousSecretExpiresAt);
        cache[endpointId] = snapshot;
        return snapshot;
    }

    public void Invalidate(string endpointId) => cache.TryRemove(endpointId, out _);

    public (byte[] Sealed, string KeyId) Seal(string secret, string endpointId) => box.Seal(secret, "webhook", endpointId, "signing-secret");

    private string Open(byte[] sealedSecret, string keyId, string endpointId) => box.Open(sealedSecret, keyId, "webhook", endpointId, "signing-secret");

    /// <summary>
    /// Re-seals every signing secret (current and previous) not sealed with the active master key, for a key rotation
    /// (<c>--reencrypt-secrets</c>). A secret whose key is gone is counted, left alone, and never logged.
    /// </summary>
    public async Task<ReencryptResult> ReencryptAllAsync(CancellationToken ct)
    {
        var active = box.ActiveKeyId;
        var reencrypted = 0;
        var failed = 0;
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
        var stale = await db.WebhookEndpoints.AsTracking()
            .Where(w => w.SecretKeyId != active || (w.PreviousSecretKeyId != null && w.PreviousSecretKeyId != active)).ToListAsync(ct);
        foreach (var endpoint in stale)
        {
            try
            {
                if (endpoint.SecretKeyId != active) (endpoint.SecretSealed, endpoint.SecretKeyId) = Seal(Open(endpoint.SecretSealed, endpoint.SecretKeyId, endpoint.Id), endpoint.Id);
                if (endpoint.PreviousSecretSealed is { } previous && endpoint.PreviousSecretKeyId != active)
                {
                    (endpoint.PreviousSecretSealed, endpoint.PreviousSecretKeyId) = Seal(Open(previous, endpoint.PreviousSecretKeyId!, endpoint.Id), endpoint.Id);
                }
                reencrypted++;
            }
            catch (SecretUnavailableException)
            {
                db.Entry(endpoint).State = EntityState.Unchanged;
                failed++;
            }
        }
        await db.SaveChangesAsync(ct);
        foreach (var endpoint in stale) Invalidate(endpoint.Id);
        return new ReencryptResult(reencrypted, failed);
    }

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
