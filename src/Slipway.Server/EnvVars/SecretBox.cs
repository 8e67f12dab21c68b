using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Slipway.Server.Hosting;

namespace Slipway.Server.EnvVars;

/// <summary>
/// <c>Slipway:Secrets</c>: master keys for env var values. <c>Keys:{id}</c> = base64 of 32 random bytes; <c>ActiveKeyId</c>
/// names the one new values are sealed with (optional when exactly one key is configured). With no keys configured,
/// a key is generated on first start into <c>{DataDirectory}/master.key</c> under the id <c>local</c>.
/// </summary>
internal sealed class SecretsOptions
{
    public const string SectionName = "Slipway:Secrets";

    public Dictionary<string, string> Keys { get; set; } = new(StringComparer.Ordinal);

    public string? ActiveKeyId { get; set; }
}

/// <summary>Raised when a stored value cannot be opened: its key is not configured, or the ciphertext is not this row's.</summary>
internal sealed class SecretUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// AES-256-GCM for env var values. Sealed form: 12-byte random nonce ‖ ciphertext ‖ 16-byte tag; the key id is stored
/// beside it. The associated data binds project, environment and variable name, so a ciphertext copied into another
/// row fails to open instead of leaking into the wrong deployment. Several keys can be loaded at once: new values use
/// the active one, old values open with the key they name, which is what makes rotation a restart plus a re-encrypt pass.
/// </summary>
internal sealed partial class SecretBox
{
    public const string LocalKeyId = "local";
    public const string LocalKeyFile = "master.key";
    public const int KeyBytes = 32;
    private const int NonceBytes = 12;
    private const int TagBytes = 16;
    private static readonly byte[] Context = "slipway/env-var/v1"u8.ToArray();
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly IReadOnlyDictionary<string, byte[]> keys;

    public SecretBox(IReadOnlyDictionary<string, byte[]> keys, string activeKeyId)
    {
        if (!keys.ContainsKey(activeKeyId)) throw new InvalidOperationException($"The active secrets key '{activeKeyId}' is not configured.");
        if (keys.Values.Any(k => k.Length != KeyBytes)) throw new InvalidOperationException($"Every secrets key must be {KeyBytes} bytes.");
        this.keys = keys;
        ActiveKeyId = activeKeyId;
    }

    public string ActiveKeyId { get; }

    public IReadOnlyCollection<string> KeyIds => keys.Keys.ToList();

    [GeneratedRegex(@"^[A-Za-z0-9._-]{1,64}\z")]
    private static partial Regex KeyIdPattern();

    /// <summary>
    /// The keys from configuration, plus <c>master.key</c> as <c>local</c> when that file exists (so values sealed before
    /// the operator configured keys still open and can be re-encrypted); with nothing configured the file is created.
    /// </summary>
    public static SecretBox FromConfiguration(IConfiguration configuration)
    {
        var options = configuration.GetSection(SecretsOptions.SectionName).Get<SecretsOptions>() ?? new SecretsOptions();
        var localPath = Path.Combine(configuration.DataDirectory(), LocalKeyFile);
        var keys = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var (id, text) in options.Keys)
        {
            if (!KeyIdPattern().IsMatch(id))
            {
                throw new InvalidOperationException($"Secrets key id '{id}' must be 1-64 letters, digits, '.', '_' or '-'.");
            }
            keys[id] = DecodeKey(id, text);
        }
        if (keys.Count == 0)
        {
            keys[LocalKeyId] = DataPaths.ReadOrCreateSecret(localPath, KeyBytes);
            return new SecretBox(keys, options.ActiveKeyId is { Length: > 0 } configured ? configured : LocalKeyId);
        }
        if (!keys.ContainsKey(LocalKeyId) && File.Exists(localPath)) keys[LocalKeyId] = DataPaths.ReadOrCreateSecret(localPath, KeyBytes);
        var active = options.ActiveKeyId is { Length: > 0 } id1 ? id1
            : options.Keys.Count == 1 ? options.Keys.Keys.First()
            : throw new InvalidOperationException($"{SecretsOptions.SectionName}:ActiveKeyId is required when several keys are configured.");
        return new SecretBox(keys, active);
    }

    private static byte[] DecodeKey(string id, string text)
    {
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(text.Trim());
        }
        catch (FormatException)
        {
            throw new InvalidOperationException($"Secrets key '{id}' is not valid base64.");
        }
        return bytes.Length == KeyBytes ? bytes : throw new InvalidOperationException($"Secrets key '{id}' must decode to {KeyBytes} bytes.");
    }

    /// <summary>Seals a value with the active key.</summary>
    public (byte[] Sealed, string KeyId) Seal(string value, string projectId, string environmentId, string name)
    {
        var plain = StrictUtf8.GetBytes(value);
        var sealedValue = new byte[NonceBytes + plain.Length + TagBytes];
        var nonce = sealedValue.AsSpan(0, NonceBytes);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(keys[ActiveKeyId], TagBytes);
        aes.Encrypt(nonce, plain, sealedValue.AsSpan(NonceBytes, plain.Length), sealedValue.AsSpan(NonceBytes + plain.Length),
            AssociatedData(projectId, environmentId, name));
        CryptographicOperations.ZeroMemory(plain);
        return (sealedValue, ActiveKeyId);
    }

    /// <summary>Opens a value with the key it names; throws <see cref="SecretUnavailableException"/> (never with the value).</summary>
    public string Open(byte[] sealedValue, string keyId, string projectId, string environmentId, string name)
    {
        if (!keys.TryGetValue(keyId, out var key))
        {
            throw new SecretUnavailableException($"Env var '{name}' is sealed with key '{keyId}', which is not configured.");
        }
        if (sealedValue.Length < NonceBytes + TagBytes) throw new SecretUnavailableException($"Env var '{name}' is not a sealed value.");
        var length = sealedValue.Length - NonceBytes - TagBytes;
        var plain = new byte[length];
        try
        {
            using var aes = new AesGcm(key, TagBytes);
            aes.Decrypt(sealedValue.AsSpan(0, NonceBytes), sealedValue.AsSpan(NonceBytes, length), sealedValue.AsSpan(NonceBytes + length),
                plain, AssociatedData(projectId, environmentId, name));
            return StrictUtf8.GetString(plain);
        }
        catch (CryptographicException ex)
        {
            throw new SecretUnavailableException($"Env var '{name}' does not open with key '{keyId}': wrong key or not this variable's value.", ex);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plain);
        }
    }

    /// <summary>Length-prefixed, so no two (project, environment, name) triples share associated data.</summary>
    private static byte[] AssociatedData(string projectId, string environmentId, string name)
    {
        string[] parts = [projectId, environmentId, name];
        var encoded = parts.Select(Encoding.UTF8.GetBytes).ToList();
        var data = new byte[Context.Length + encoded.Sum(p => 4 + p.Length)];
        Context.CopyTo(data, 0);
        var at = Context.Length;
        foreach (var part in encoded)
        {
            BinaryPrimitives.WriteInt32BigEndian(data.AsSpan(at), part.Length);
            part.CopyTo(data, at + 4);
            at += 4 + part.Length;
        }
        return data;
    }
}
