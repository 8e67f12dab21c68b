using System.Text.RegularExpressions;

namespace Slipway.Server.Builds;

/// <summary>
/// Hides env var values (and credentials in URLs) in log lines. Built once per deployment from its variables.
/// Each line costs one ordinal <c>Contains</c> per secret; a replacement only happens on a hit.
/// </summary>
internal sealed partial class SecretMasker
{
    public const string Hidden = "****";
    private const int MinimumLength = 4;
    private readonly string[] secrets;

    public SecretMasker(IEnumerable<string> values)
    {
        // Multi-line values (keys, certificates) reach the log one line at a time, so each line is a secret of its own.
        // Longest first, so a value that contains a shorter one is hidden whole.
        secrets = values
            .SelectMany(v => v.Split('\n'))
            .Select(v => v.TrimEnd('\r'))
            .Where(v => v.Length >= MinimumLength)
            .Distinct(StringComparer.Ordinal)
            .OrderByDescending(v => v.Length)
            .ThenBy(v => v, StringComparer.Ordinal)
            .ToArray();
    }

    public static SecretMasker None { get; } = new([]);

    public static SecretMasker For(IReadOnlyDictionary<string, string> environment) => new(environment.Values);

    public int Count => secrets.Length;

    public string Mask(string line)
    {
        foreach (var secret in secrets)
        {
            if (line.Contains(secret, StringComparison.Ordinal)) line = line.Replace(secret, Hidden, StringComparison.Ordinal);
        }
        return MaskUrlCredentials(line);
    }

    /// <summary>A sink that masks every line before passing it on.</summary>
    public LineSink Wrap(LineSink inner) => (stream, line) => inner(stream, Mask(line));

    /// <summary><c>https://user:token@host/x</c> becomes <c>https://****@host/x</c>.</summary>
    public static string MaskUrlCredentials(string text) =>
        text.Contains("://", StringComparison.Ordinal) && text.Contains('@', StringComparison.Ordinal)
            ? UrlUserInfo().Replace(text, "${scheme}" + Hidden + "@")
            : text;

    public static bool HasUrlCredentials(string text) => UrlUserInfo().IsMatch(text);

    /// <summary>The user-info of a URL (<c>scheme://userinfo@</c>): the one definition, for masking and for sealing (RepoCredentials).</summary>
    [GeneratedRegex(@"(?<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?<userinfo>[^/?#\s]+)@", RegexOptions.CultureInvariant)]
    internal static partial Regex UrlUserInfo();
}
