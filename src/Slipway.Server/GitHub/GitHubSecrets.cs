using System.Security.Cryptography;
using System.Text;
using Slipway.Server.EnvVars;

namespace Slipway.Server.GitHub;

/// <summary>
/// Webhook secrets: made from 32 random bytes (64 hex characters, what GitHub's own docs suggest generating),
/// sealed with the env var master keys and bound to (project, hook) so a ciphertext copied to another row does not
/// open. A singleton with its own scopes for the re-encrypt pass after a master key rotation.
/// </summary>
internal sealed class GitHubSecrets(IServiceScopeFactory scopes, SecretBox box, ILogger<GitHubSecrets> logger)
{
    /// <summary>The first part of the associated data: no env var row can have it (theirs start with a project id).</summary>
    private const string Purpose = "github-webhook";

    public static string NewSecret() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    public (byte[] Sealed, string KeyId) Seal(string secret, string projectId, string hookId) => box.Seal(secret, Purpose, projectId, hookId);

    /// <summary>Throws <see cref="SecretUnavailableException"/> when the key that sealed it is gone.</summary>
    public string Open(GitHubIntegration hook) => box.Open(hook.SecretSealed, hook.KeyId, Purpose, hook.ProjectId, hook.Id);

    /// <summary><c>sha256=</c> and the lowercase hex HMAC-SHA256 of the body: the <c>X-Hub-Signature-256</c> GitHub sends.</summary>
    public static string Sign(string secret, ReadOnlySpan<byte> body) => "sha256=" + Convert.ToHexStringLower(Hmac(secret, body));

    /// <summary>
    /// True when <paramref name="header"/> is <c>sha256=</c> followed by the 64 hex digits of the body's HMAC under the
    /// secret. The digests are compared in constant time; a malformed header is simply not a match.
    /// </summary>
    public static bool Verify(string secret, ReadOnlySpan<byte> body, string? header)
    {
        const string prefix = "sha256=";
        if (header is null || header.Length != prefix.Length + 64 || !header.StartsWith(prefix, StringComparison.Ordinal)) return false;
        Span<byte> given = stackalloc byte[32];
        if (Convert.FromHexString(header.AsSpan(prefix.Length), given, out _, out var written) != System.Buffers.OperationStatus.Done
            || written != 32)
        {
            return false;
        }
        var expected = Hmac(secret, body);
        try
        {
            return CryptographicOperations.FixedTimeEquals(expected, given);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(expected);
        }
    }

    private static byte[] Hmac(string secret, ReadOnlySpan<byte> body)
    {
        var key = Encoding.UTF8.GetBytes(secret);
        try
        {
            return HMACSHA256.HashData(key, body);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    /// <summary>Re-seals every secret not yet under the active key (see <see cref="SecretReencryption"/>); failures are logged by hook id.</summary>
    public async Task<ReencryptResult> ReencryptAllAsync(CancellationToken ct)
    {
        var active = box.ActiveKeyId;
        var result = await SecretReencryption.RunAsync(scopes, db => db.GitHubIntegrations.Where(h => h.KeyId != active), async (db, hook, token) =>
        {
            var (sealedSecret, keyId) = Seal(Open(hook), hook.ProjectId, hook.Id);
            var (old, oldKeyId) = (hook.SecretSealed, hook.KeyId);
            return await db.GitHubIntegrations.Where(h => h.Id == hook.Id && h.KeyId == oldKeyId && h.SecretSealed == old)
                .ExecuteUpdateAsync(s => s.SetProperty(h => h.SecretSealed, sealedSecret).SetProperty(h => h.KeyId, keyId), token);
        }, hook => GitHubLog.ReencryptFailed(logger, hook.Id, hook.KeyId), ct);
        GitHubLog.Reencrypted(logger, result.Reencrypted, active, result.Failed);
        return result;
    }
}
