using System.Text;
using Slipway.Server.Security.Sarif;

namespace Slipway.Server.Tests.Security.Sarif;

public sealed class FingerprintingLinesTests
{
    private static IReadOnlyList<string> Hashes(string text) => LineFingerprints.Compute(new StringReader(text));

    [Fact]
    public void Compute_AnyText_MatchesTheClosedFormOfTheRollingHash()
    {
        var random = new Random(20261203);
        const string alphabet = "ab c\t\r\n=;{}é";
        for (var round = 0; round < 200; round++)
        {
            var text = new string(Enumerable.Range(0, random.Next(0, 400)).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray());
            Assert.Equal(ClosedForm(text), Hashes(text));
        }
    }

    [Fact]
    public void Compute_CodeMovedDownTenLines_KeepsEveryMovedLinesHash()
    {
        var body = string.Concat(Enumerable.Range(0, 40).Select(i => $"const value{i} = compute({i});\n"));
        var header = string.Concat(Enumerable.Range(0, 10).Select(i => $"// added comment {i}\n"));

        var before = Hashes(body);
        var after = Hashes(header + body);

        for (var line = 0; line < 40; line++) Assert.Equal(before[line], after[line + 10]);
    }

    [Fact]
    public void Compute_IndentationAndLineEndings_DoNotChangeTheHashes()
    {
        var plain = "if (x) {\ncall(x);\n}\n";
        var reformatted = "if (x) {\r\n        call(x);\r\n\t}\r\n";

        Assert.Equal(Hashes(plain), Hashes(reformatted));
    }

    [Fact]
    public void Compute_RepeatedIdenticalContext_CountsTheRepeats()
    {
        var hashes = Hashes(string.Concat(Enumerable.Repeat("x = 1;\n", 300)));

        Assert.Equal(hashes[0].Split(':')[0], hashes[1].Split(':')[0]);
        Assert.EndsWith(":1", hashes[0], StringComparison.Ordinal);
        Assert.EndsWith(":2", hashes[1], StringComparison.Ordinal);
        Assert.EndsWith(":3", hashes[2], StringComparison.Ordinal);
    }

    [Fact]
    public void Compute_EditWithinTheNextHundredCharacters_ChangesTheLine_AndAnEditFurtherDown_DoesNot()
    {
        var lines = Enumerable.Range(0, 30).Select(i => $"statement_number_{i:D2}();").ToList();
        var original = Hashes(string.Join('\n', lines) + "\n");
        lines[1] = "statement_number_01_changed();";
        lines[25] = "statement_number_25_changed();";
        var edited = Hashes(string.Join('\n', lines) + "\n");

        Assert.NotEqual(original[0], edited[0]);
        Assert.Equal(original[10], edited[10]);
        Assert.NotEqual(original[25], edited[25]);
    }

    [Fact]
    public void Compute_File_ReadsUtf8()
    {
        var path = Path.Combine(Path.GetTempPath(), $"slipway-fp-{Guid.NewGuid():N}.js");
        const string text = "const café = 'é';\nuse(café);\n";
        File.WriteAllText(path, text, new UTF8Encoding(false));
        try
        {
            Assert.Equal(Hashes(text), LineFingerprints.Compute(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>
    /// The same value computed another way: each line's hash is the polynomial over the 100 normalised characters from
    /// its start (spaces and tabs dropped, CR and CRLF as LF, an end marker and zeros past the end), base 37, mod 2^64.
    /// </summary>
    private static List<string> ClosedForm(string text)
    {
        var chars = new List<int>();
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c is ' ' or '\t') continue;
            if (c == '\n' && i > 0 && text[i - 1] == '\r') continue;
            chars.Add(c == '\r' ? '\n' : c);
        }
        chars.Add(0xffff);
        var starts = new List<int> { 0 };
        for (var i = 0; i < chars.Count - 1; i++)
        {
            if (chars[i] == '\n') starts.Add(i + 1);
        }
        chars.AddRange(Enumerable.Repeat(0, 100));
        var seen = new Dictionary<ulong, int>();
        var result = new List<string>();
        foreach (var start in starts)
        {
            ulong hash = 0;
            for (var k = 0; k < 100; k++) hash = unchecked((hash * 37) + (ulong)chars[start + k]);
            seen[hash] = seen.GetValueOrDefault(hash) + 1;
            result.Add($"{hash:x}:{seen[hash]}");
        }
        return result;
    }
}
