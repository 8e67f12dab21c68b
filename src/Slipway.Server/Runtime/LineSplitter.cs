using System.Text;

namespace Slipway.Server.Runtime;

/// <summary>
/// Cuts a process's output into lines as <c>Process.BeginOutputReadLine</c> did: <c>\n</c>, <c>\r\n</c> and a lone
/// <c>\r</c> (progress bars) each end a line, bytes that are not UTF-8 become U+FFFD, and a leading byte order mark is dropped. A line longer than
/// <see cref="MaxLineBytes"/> is passed on in pieces of that size, so a process that never writes a newline cannot grow
/// the server's memory (the log writer then cuts each piece to its own limit, with a marker).
/// </summary>
internal static class LineSplitter
{
    public const int MaxLineBytes = 1024 * 1024;

    /// <summary>Reads <paramref name="stream"/> to its end, blocking, and passes each line to <paramref name="onLine"/>.</summary>
    public static void Read(Stream stream, Action<string> onLine)
    {
        var buffer = new byte[64 * 1024];
        var pending = new MemoryStream();
        var afterCr = false;
        var atStart = true;
        var emit = (string line) =>
        {
            // A byte order mark at the start of the output is dropped, as StreamReader did.
            if (atStart)
            {
                atStart = false;
                if (line.StartsWith('\uFEFF')) line = line[1..];
            }
            onLine(line);
        };
        int read;
        while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            var start = 0;
            for (var i = 0; i < read; i++)
            {
                var b = buffer[i];
                if (b is not ((byte)'\n' or (byte)'\r')) continue;
                if (b == '\n' && afterCr && i == start && pending.Length == 0)
                {
                    // The \n of a \r\n whose \r ended the previous line.
                    start = i + 1;
                    afterCr = false;
                    continue;
                }
                Emit(pending, buffer.AsSpan(start, i - start), emit);
                start = i + 1;
                afterCr = b == '\r';
            }
            if (start < read)
            {
                afterCr = false;
                pending.Write(buffer, start, read - start);
                while (pending.Length > MaxLineBytes) EmitPiece(pending, emit);
            }
        }
        if (pending.Length > 0) Emit(pending, [], emit);
    }

    private static void Emit(MemoryStream pending, ReadOnlySpan<byte> tail, Action<string> onLine)
    {
        if (pending.Length == 0)
        {
            onLine(Encoding.UTF8.GetString(tail));
            return;
        }
        pending.Write(tail);
        onLine(Encoding.UTF8.GetString(pending.GetBuffer(), 0, (int)pending.Length));
        pending.SetLength(0);
    }

    /// <summary>Passes on the first <see cref="MaxLineBytes"/> of a line that has no end yet (cut at a character boundary).</summary>
    private static void EmitPiece(MemoryStream pending, Action<string> onLine)
    {
        var bytes = pending.GetBuffer().AsSpan(0, (int)pending.Length);
        // Not inside a multi-byte character (at most 3 continuation bytes follow a lead byte); bytes that are not UTF-8
        // at all (a long run of continuation bytes) are cut where they are, and decode to U+FFFD.
        var cut = MaxLineBytes;
        while (cut > MaxLineBytes - 3 && (bytes[cut] & 0xC0) == 0x80) cut--;
        if ((bytes[cut] & 0xC0) == 0x80) cut = MaxLineBytes;
        onLine(Encoding.UTF8.GetString(bytes[..cut]));
        var rest = bytes[cut..].ToArray();
        pending.SetLength(0);
        pending.Write(rest);
    }
}
