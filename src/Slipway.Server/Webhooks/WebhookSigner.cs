using System.Security.Cryptography;
using System.Text;

namespace Slipway.Server.Webhooks;

/// <summary>
/// Standard Webhooks signatures: <c>v1,</c> + base64 HMAC-SHA256 of <c>{id}.{timestamp}.{body}</c>, keyed by the
/// base64-decoded part of a <c>whsec_</c> secret. Several secrets give several space-separated signatures.
/// </summary>
internal static class WebhookSigner
{
    public const string Prefix = "whsec_";

    public static string NewSecret() => Prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    /// <summary>The HMAC key of a <c>whsec_</c> secret (its base64 part, decoded).</summary>
    public static byte[] Key(string secret) => Convert.FromBase64String(secret[Prefix.Length..]);

    public static string Sign(string webhookId, long timestamp, ReadOnlySpan<byte> body, IEnumerable<byte[]> keys)
    {
        var head = Encoding.UTF8.GetBytes($"{webhookId}.{timestamp}.");
        var signatures = new List<string>(2);
        foreach (var key in keys)
        {
            using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key);
            hmac.AppendData(head);
            hmac.AppendData(body);
            signatures.Add("v1," + Convert.ToBase64String(hmac.GetHashAndReset()));
        }
        return string.Join(' ', signatures);
    }
}
