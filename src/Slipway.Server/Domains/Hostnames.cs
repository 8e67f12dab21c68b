using System.Net;
using Slipway.Server.Projects;

namespace Slipway.Server.Domains;

/// <summary>
/// Custom domains are bare, lowercase RFC 1123 hostnames: at least two labels of 1-63 characters (a-z, 0-9, inner '-'),
/// at most 253 in all. Anything else is refused with a message that says what to drop, rather than being "fixed":
/// what is stored is exactly what the user sent, and uppercase is refused like it is for project names.
/// </summary>
internal static class Hostnames
{
    public const int MaxLength = 253;

    /// <summary>Why <paramref name="host"/> is not an acceptable custom domain, or null when it is.</summary>
    public static string? Problem(string host)
    {
        if (host.Any(c => char.IsControl(c) || char.IsWhiteSpace(c))) return "must not contain spaces or control characters";
        if (host.Contains("://", StringComparison.Ordinal)) return "must be a bare hostname without a scheme such as 'https://'";
        if (host.IndexOfAny(['/', '?', '#']) >= 0) return "must be a bare hostname without a path, query or fragment";
        if (host.StartsWith('[') || IPAddress.TryParse(host, out _)) return "must be a hostname, not an IP address";
        if (host.Contains(':', StringComparison.Ordinal)) return "must be a bare hostname without a port";
        if (host.Contains('*', StringComparison.Ordinal)) return "wildcard domains are not supported";
        if (host.EndsWith('.')) return "must not end with a dot";
        if (host.Any(char.IsAsciiLetterUpper)) return "must be lowercase";
        if (host.Any(c => !char.IsAscii(c))) return "must be ASCII: write internationalized names in their punycode form (xn--...)";
        if (host.Length > MaxLength) return $"must be at most {MaxLength} characters";
        var labels = host.Split('.');
        if (labels.Length < 2) return "must have at least two labels, such as app.example.com";
        if (labels.Any(label => !ProjectRules.IsDnsLabel(label)))
        {
            return "each label must be 1-63 lowercase letters, digits or '-', not starting or ending with '-'";
        }
        // An all-numeric last label is how IPv4 shorthand such as 127.1 parses; no top-level domain is numeric.
        if (labels[^1].All(char.IsAsciiDigit)) return "must be a hostname, not an IP address";
        return null;
    }
}
