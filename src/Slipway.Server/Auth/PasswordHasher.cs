using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Slipway.Server.Auth;

/// <summary>PBKDF2-HMAC-SHA256 with a 16-byte salt, stored as <c>pbkdf2-sha256$iterations$salt$hash</c>.</summary>
internal sealed class PasswordHasher(AuthOptions options)
{
    private const string Scheme = "pbkdf2-sha256";

    public string Hash(string password)
    {
        var salt = RandomNumberGenerator.GetBytes(16);
        var hash = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, options.PasswordIterations, HashAlgorithmName.SHA256, 32);
        return string.Join('$', Scheme, options.PasswordIterations.ToString(CultureInfo.InvariantCulture),
            Convert.ToBase64String(salt), Convert.ToBase64String(hash));
    }

    public static bool Verify(string password, string stored)
    {
        var parts = stored.Split('$');
        if (parts.Length != 4 || parts[0] != Scheme || !int.TryParse(parts[1], CultureInfo.InvariantCulture, out var iterations)) return false;
        var expected = Convert.FromBase64String(parts[3]);
        var actual = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), Convert.FromBase64String(parts[2]), iterations,
            HashAlgorithmName.SHA256, expected.Length);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }

    /// <summary>A hash to verify against when the account does not exist, so both failures cost the same time.</summary>
    public string DummyHash => dummyHash ??= Hash(Convert.ToBase64String(RandomNumberGenerator.GetBytes(12)));

    private string? dummyHash;
}
