using Slipway.Server.Security;
using Slipway.Server.Security.Sarif;

namespace Slipway.Server.Tests.Security;

public sealed class MakingDiffsTests
{
    private static Finding At(string tool, string ruleId, string? ruleName, int line) => new()
    {
        Id = "f", WorkspaceId = "w", ProjectId = "p", Identity = "i", Tool = tool, Category = "", RuleId = ruleId, RuleName = ruleName,
        Fingerprint = "x", Level = "warning", Message = "m", FirstScanId = "s", LastScanId = "s", TriageRationale = "r", Path = "a", StartLine = line,
    };

    [Theory]
    [InlineData("Flawfinder", "FF1016", "format/printf", "    printf(input);", "    printf(\"%s\", input);")]
    [InlineData("Flawfinder", "FF1015", "format/fprintf", "  fprintf(stderr, msg->text);", "  fprintf(stderr, \"%s\", msg->text);")]
    [InlineData("ESLint", "security/detect-pseudoRandomBytes", null, "const id = crypto.pseudoRandomBytes(16);", "const id = crypto.randomBytes(16);")]
    [InlineData("ESLint", "security/detect-buffer-noassert", null, "const n = buf.readUInt32LE(offset, true);", "const n = buf.readUInt32LE(offset);")]
    public void Codemod_KnownPattern_RewritesTheLine(string tool, string rule, string? name, string line, string expected)
    {
        var text = $"first\n{line}\nlast\n";

        var (_, after, _) = Assert.Single(Codemods.For(At(tool, rule, name, 2), text));

        Assert.Equal($"first\n{expected}\nlast\n", after);
    }

    [Theory]
    [InlineData("Flawfinder", "FF1016", "format/printf", "    printf(\"%d\", n);")]
    [InlineData("Flawfinder", "FF1016", "format/printf", "    printf(a); printf(b);")]
    [InlineData("ESLint", "security/detect-eval-with-expression", null, "eval(x);")]
    public void Codemod_UnsurePattern_Declines(string tool, string rule, string? name, string line) =>
        Assert.Empty(Codemods.For(At(tool, rule, name, 1), line + "\n"));

    [Fact]
    public void Diff_OfOneChangedLine_HasThreeLinesOfContext()
    {
        var before = string.Concat(Enumerable.Range(1, 10).Select(i => $"line {i}\n"));
        var after = before.Replace("line 5\n", "line five\n", StringComparison.Ordinal);

        var diff = UnifiedDiff.Create("src/a.txt", before, after);

        Assert.Equal("diff --git a/src/a.txt b/src/a.txt\n--- a/src/a.txt\n+++ b/src/a.txt\n@@ -2,7 +2,7 @@\n line 2\n line 3\n line 4\n-line 5\n+line five\n line 6\n line 7\n line 8\n", diff);
    }

    [Fact]
    public void Diff_LastLineWithoutNewline_IsMarked()
    {
        var diff = UnifiedDiff.Create("a", "x\ny", "x\nz");

        Assert.EndsWith("-y\n\\ No newline at end of file\n+z\n\\ No newline at end of file\n", diff, StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_Replacements_FollowSarifRegions()
    {
        const string text = "abc\ndef\nghi\n";
        SarifReplacement Replace(int line, int? start, int? endLine, int? end, string with) => new(new SarifLocation("a", line, start, endLine, end), with);

        Assert.Equal("aXc\ndef\nghi\n", UnifiedDiff.Apply(text, [Replace(1, 2, 1, 3, "X")]));
        Assert.Equal("abc\n\nghi\n", UnifiedDiff.Apply(text, [Replace(2, null, null, null, "")]));
        Assert.Equal("abc\nghi\n", UnifiedDiff.Apply(text, [Replace(2, 1, 3, 1, "")]));
        Assert.Equal("abc\ndef\n", UnifiedDiff.Apply(text, [Replace(3, 1, 4, 1, "")]));
        Assert.Equal("Zabc\ndef\nghi\n", UnifiedDiff.Apply(text, [Replace(1, 1, 1, 1, "Z")]));
        Assert.Null(UnifiedDiff.Apply(text, [Replace(1, 1, 1, 3, "x"), Replace(1, 2, 1, 4, "y")]));
        Assert.Null(UnifiedDiff.Apply(text, [Replace(9, 1, 9, 2, "x")]));
    }
}
