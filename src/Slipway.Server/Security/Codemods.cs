using System.Text.RegularExpressions;

namespace Slipway.Server.Security;

/// <summary>
/// Slipway's own fixes for findings the presets report, each a mechanical one-line rewrite that keeps the program's
/// meaning (docs/security.md shows each before and after). A codemod that cannot be sure declines (returns null).
/// </summary>
internal static partial class Codemods
{
    private sealed record Codemod(string Name, Func<Finding, bool> Applies, Func<string, string?> Rewrite, string Rationale);

    private static readonly Codemod[] All =
    [
        new("format-string-literal",
            f => f.Tool.Equals("Flawfinder", StringComparison.OrdinalIgnoreCase) && f.RuleName is "format/printf" or "format/fprintf",
            line => Replace(PrintfCall(), line, m => $"{m.Groups["call"].Value}(\"%s\", {m.Groups["arg"].Value})")
                    ?? Replace(FprintfCall(), line, m => $"{m.Groups["call"].Value}({m.Groups["stream"].Value}, \"%s\", {m.Groups["arg"].Value})"),
            "The text was used as the format string, so a '%' in it is read as a directive (CWE-134). Printing it through \"%s\" prints the same text and interprets nothing."),
        new("crypto-random-bytes",
            f => f.RuleId == "security/detect-pseudoRandomBytes",
            line => Replace(PseudoRandom(), line, m => m.Groups["prefix"].Value + "randomBytes("),
            "crypto.pseudoRandomBytes is not cryptographically strong (and deprecated). crypto.randomBytes takes the same arguments and returns strong random bytes."),
        new("buffer-assert",
            f => f.RuleId == "security/detect-buffer-noassert",
            line => Replace(NoAssert(), line, m => m.Groups["call"].Value + ")"),
            "The trailing 'true' (noAssert) switches off the bounds check of the read or write, so an offset past the end reads or writes outside the buffer. Without it Node checks the offset and throws."),
    ];

    /// <summary>Whether any codemod is about this finding's rule (cheap: no file is read).</summary>
    public static bool AnyFor(Finding finding) => All.Any(c => c.Applies(finding));

    /// <summary>Every codemod that rewrites the finding's line: (name, new file text, rationale).</summary>
    public static IEnumerable<(string Name, string After, string Rationale)> For(Finding finding, string text)
    {
        if (finding.StartLine is not { } number) yield break;
        var lines = text.Split('\n');
        if (number > lines.Length) yield break;
        foreach (var codemod in All)
        {
            if (!codemod.Applies(finding) || codemod.Rewrite(lines[number - 1]) is not { } rewritten) continue;
            var copy = (string[])lines.Clone();
            copy[number - 1] = rewritten;
            yield return (codemod.Name, string.Join('\n', copy), codemod.Rationale);
        }
    }

    private static string? Replace(Regex pattern, string line, MatchEvaluator evaluator)
    {
        var matches = pattern.Matches(line);
        return matches.Count == 1 ? pattern.Replace(line, evaluator) : null;
    }

    /// <summary><c>printf(x)</c> with one argument that is not a literal and holds no call or comma.</summary>
    [GeneratedRegex(@"(?<call>\bprintf)\s*\(\s*(?<arg>[A-Za-z_][A-Za-z0-9_\.\->\[\]]*)\s*\)")]
    private static partial Regex PrintfCall();

    [GeneratedRegex(@"(?<call>\bfprintf)\s*\(\s*(?<stream>[A-Za-z_][A-Za-z0-9_\.\->]*)\s*,\s*(?<arg>[A-Za-z_][A-Za-z0-9_\.\->\[\]]*)\s*\)")]
    private static partial Regex FprintfCall();

    [GeneratedRegex(@"(?<prefix>\b[A-Za-z_$][A-Za-z0-9_$]*\s*\.\s*)pseudoRandomBytes\s*\(")]
    private static partial Regex PseudoRandom();

    [GeneratedRegex(@"(?<call>\.(?:read|write)(?:U?Int(?:8|16LE|16BE|32LE|32BE)|Float(?:LE|BE)|Double(?:LE|BE))\s*\([^()]*?)\s*,\s*true\s*\)")]
    private static partial Regex NoAssert();
}
