using System.Globalization;

namespace Slipway.Server.Security.Sarif;

/// <summary>
/// The <c>primaryLocationLineHash</c> that GitHub's upload action computes for a result without fingerprints, so a
/// finding keeps its identity when the code around it moves. Each line's value is a rolling hash over the 100 characters
/// from its start, ignoring spaces and tabs and treating CR, LF and CRLF alike; past the end of the file the window is
/// padded with an end marker and zeros. An identical hash met again further down gets a higher repeat counter
/// (<c>hash:2</c>), so two copies of one line stay two findings.
/// </summary>
internal static class LineFingerprints
{
    private const int Window = 100;
    private const ulong Base = 37;
    private const char EndOfFile = '\uffff';

    /// <summary>The hash of every line, in order; line 1 is the first element.</summary>
    public static IReadOnlyList<string> Compute(TextReader text)
    {
        var hasher = new Hasher();
        var buffer = new char[8192];
        int read;
        while ((read = text.Read(buffer, 0, buffer.Length)) > 0)
        {
            foreach (var c in buffer.AsSpan(0, read)) hasher.Add(c);
        }
        return hasher.Finish();
    }

    /// <summary>The line hashes of a file read as UTF-8 (a byte order mark counts as a character, as upstream).</summary>
    public static IReadOnlyList<string> Compute(string path)
    {
        using var reader = new StreamReader(path, new System.Text.UTF8Encoding(false), detectEncodingFromByteOrderMarks: false);
        return Compute(reader);
    }

    private sealed class Hasher
    {
        private static readonly ulong OutgoingFactor = Power(Base, Window);
        private readonly int[] window = new int[Window];
        private readonly int[] lineStartingAt = Enumerable.Repeat(-1, Window).ToArray();
        private readonly Dictionary<ulong, int> seen = [];
        private readonly List<string> hashes = [];
        private ulong hash;
        private int index;
        private int line;
        private bool atLineStart = true;
        private bool afterCarriageReturn;

        public void Add(char c)
        {
            if (c is ' ' or '\t' || (afterCarriageReturn && c == '\n'))
            {
                afterCarriageReturn = false;
                return;
            }
            afterCarriageReturn = c == '\r';
            if (afterCarriageReturn) c = '\n';
            // The window is full circle since this line began: its 100 characters are in.
            if (lineStartingAt[index] != -1) Emit();
            if (atLineStart)
            {
                atLineStart = false;
                lineStartingAt[index] = ++line;
            }
            if (c == '\n') atLineStart = true;
            Roll(c);
        }

        public IReadOnlyList<string> Finish()
        {
            Add(EndOfFile);
            for (var i = 0; i < Window; i++)
            {
                if (lineStartingAt[index] != -1) Emit();
                Roll(0);
            }
            return hashes;
        }

        private void Roll(int incoming)
        {
            var outgoing = window[index];
            window[index] = incoming;
            hash = unchecked((Base * hash) + (ulong)incoming - (OutgoingFactor * (ulong)outgoing));
            index = (index + 1) % Window;
        }

        private void Emit()
        {
            var repeat = seen.TryGetValue(hash, out var count) ? count + 1 : 1;
            seen[hash] = repeat;
            // Lines are emitted in order, so the list index is the line number minus one.
            hashes.Add(string.Create(CultureInfo.InvariantCulture, $"{hash:x}:{repeat}"));
            lineStartingAt[index] = -1;
        }

        private static ulong Power(ulong value, int exponent)
        {
            var result = 1UL;
            for (var i = 0; i < exponent; i++) result = unchecked(result * value);
            return result;
        }
    }
}
