using System.Text;
using Slipway.Server.Runtime;

namespace Slipway.Server.Tests.Runtime;

public sealed class SplittingOutputLinesTests
{
    /// <summary>A stream that hands out its bytes a few at a time, so line ends fall across reads.</summary>
    private sealed class Trickle(byte[] bytes, int step) : MemoryStream(bytes)
    {
        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, step));
    }

    private static List<string> Split(byte[] bytes, int step)
    {
        var lines = new List<string>();
        LineSplitter.Read(new Trickle(bytes, step), lines.Add);
        return lines;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4096)]
    public void LineEnds_LfCrLfAndLoneCr_EachEndOneLine_WhereverReadsAreCut(int step)
    {
        var lines = Split(Encoding.UTF8.GetBytes("one\ntwo\r\nthree\rfour\r\n\r\nlast without end"), step);

        Assert.Equal(["one", "two", "three", "four", "", "last without end"], lines);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4096)]
    public void MultiByteCharacters_CutAcrossReads_AreDecodedWhole_AndInvalidBytesBecomeReplacementCharacters(int step)
    {
        var bytes = Encoding.UTF8.GetBytes("héllo → 🚀\n").Concat(new byte[] { 0xff, (byte)'x', (byte)'\n' }).ToArray();

        var lines = Split(bytes, step);

        Assert.Equal(["héllo → 🚀", "\uFFFDx"], lines);
    }

    [Fact]
    public void ALineWithoutEnd_LongerThanTheLimit_ComesInPieces_CutBetweenCharacters()
    {
        // 'é' is two bytes and the leading 'a' shifts them, so the limit falls inside one unless the cut moves back.
        var text = "a" + string.Concat(Enumerable.Repeat("é", LineSplitter.MaxLineBytes)) + "\nnext";

        var lines = Split(Encoding.UTF8.GetBytes(text), 64 * 1024);

        Assert.True(lines.Count >= 4, $"{lines.Count} lines");
        Assert.Equal(text.Split('\n')[0], string.Concat(lines.Take(lines.Count - 1)));
        Assert.All(lines.Take(lines.Count - 1), l => Assert.True(Encoding.UTF8.GetByteCount(l) <= LineSplitter.MaxLineBytes));
        Assert.DoesNotContain(lines, l => l.Contains('\uFFFD', StringComparison.Ordinal));
        Assert.Equal("next", lines[^1]);
    }

    [Fact]
    public void ALongRunOfBytesThatAreNotUtf8_IsStillCutIntoPieces_AndEnds()
    {
        // 2 MiB of UTF-8 continuation bytes and no line end: no character boundary to step back to.
        var bytes = Enumerable.Repeat((byte)0x80, 2 * LineSplitter.MaxLineBytes + 10).Concat("\nok\n"u8.ToArray()).ToArray();

        var lines = Split(bytes, 64 * 1024);

        Assert.Equal("ok", lines[^1]);
        Assert.InRange(lines.Count, 3, 4);
        Assert.All(lines.Take(lines.Count - 1), l => Assert.True(l.Length > 0 && l.All(c => c == '\uFFFD')));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4096)]
    public void AByteOrderMarkAtTheStart_IsDropped_AndOnlyThere(int step)
    {
        var bytes = new byte[] { 0xEF, 0xBB, 0xBF }.Concat(Encoding.UTF8.GetBytes("first\n\uFEFFsecond\n")).ToArray();

        var lines = Split(bytes, step);

        Assert.Equal(["first", "\uFEFFsecond"], lines);
    }
}
