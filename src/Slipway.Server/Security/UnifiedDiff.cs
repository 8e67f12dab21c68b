using System.Globalization;
using System.Text;
using Slipway.Server.Security.Sarif;

namespace Slipway.Server.Security;

/// <summary>Turns edits of one file into a <c>git apply</c>-able unified diff.</summary>
internal static class UnifiedDiff
{
    private const int Context = 3;

    /// <summary>
    /// Applies SARIF replacements (1-based lines and columns, end column exclusive; a region without columns is the
    /// whole line's text) to <paramref name="text"/>; null when they overlap or point outside the file.
    /// </summary>
    public static string? Apply(string text, IReadOnlyList<SarifReplacement> replacements)
    {
        var starts = LineStarts(text);
        var edits = new List<(int Start, int End, string Inserted)>();
        foreach (var replacement in replacements)
        {
            var region = replacement.Deleted;
            var startLine = region.StartLine ?? 0;
            var endLine = region.EndLine ?? startLine;
            if (startLine < 1 || endLine < startLine || endLine > starts.Count + 1) return null;
            var start = Offset(text, starts, startLine, region.StartColumn ?? 1);
            var end = region.EndColumn is { } column ? Offset(text, starts, endLine, column) : endLine <= starts.Count ? LineEnd(text, starts, endLine) : null;
            if (start is null || end is null || end < start) return null;
            edits.Add((start.Value, end.Value, replacement.Inserted));
        }
        edits.Sort((a, b) => b.Start.CompareTo(a.Start));
        for (var i = 1; i < edits.Count; i++)
        {
            if (edits[i].End > edits[i - 1].Start) return null;
        }
        var result = new StringBuilder(text);
        foreach (var (start, end, inserted) in edits) result.Remove(start, end - start).Insert(start, inserted);
        return result.ToString();
    }

    /// <summary>A one-hunk diff of everything between the first and the last changed line, with three lines of context.</summary>
    public static string? Create(string path, string before, string after)
    {
        if (before == after) return null;
        var a = Lines(before);
        var b = Lines(after);
        var prefix = 0;
        while (prefix < a.Count && prefix < b.Count && a[prefix] == b[prefix]) prefix++;
        var suffix = 0;
        while (suffix < a.Count - prefix && suffix < b.Count - prefix && a[a.Count - 1 - suffix] == b[b.Count - 1 - suffix]) suffix++;
        var from = Math.Max(0, prefix - Context);
        var oldEnd = Math.Min(a.Count, a.Count - suffix + Context);
        var newEnd = Math.Min(b.Count, b.Count - suffix + Context);
        var diff = new StringBuilder();
        diff.Append(CultureInfo.InvariantCulture, $"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n");
        diff.Append(CultureInfo.InvariantCulture, $"@@ -{Range(from, oldEnd - from)} +{Range(from, newEnd - from)} @@\n");
        for (var i = from; i < prefix; i++) Line(diff, ' ', a[i]);
        for (var i = prefix; i < a.Count - suffix; i++) Line(diff, '-', a[i]);
        for (var i = prefix; i < b.Count - suffix; i++) Line(diff, '+', b[i]);
        for (var i = a.Count - suffix; i < oldEnd; i++) Line(diff, ' ', a[i]);
        return diff.ToString();
    }

    private static string Range(int from, int count) => count == 0 ? $"{from},0" : $"{from + 1},{count}";

    private static void Line(StringBuilder diff, char marker, string line)
    {
        diff.Append(marker).Append(line);
        if (!line.EndsWith('\n')) diff.Append("\n\\ No newline at end of file\n");
    }

    /// <summary>The lines with their line feeds (the last one may have none).</summary>
    private static List<string> Lines(string text)
    {
        var lines = new List<string>();
        var start = 0;
        while (start < text.Length)
        {
            var end = text.IndexOf('\n', start);
            end = end < 0 ? text.Length : end + 1;
            lines.Add(text[start..end]);
            start = end;
        }
        return lines;
    }

    private static List<int> LineStarts(string text)
    {
        var starts = new List<int> { 0 };
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\n' && i + 1 < text.Length) starts.Add(i + 1);
        }
        return starts;
    }

    /// <summary>The offset of a 1-based column; a column just past the line's text (its line feed) is allowed.</summary>
    private static int? Offset(string text, List<int> starts, int line, int column)
    {
        if (column < 1) return null;
        if (line == starts.Count + 1) return column == 1 && text.EndsWith('\n') ? text.Length : null;
        if (line < 1 || line > starts.Count) return null;
        var offset = starts[line - 1] + column - 1;
        var newline = text.IndexOf('\n', starts[line - 1]);
        return offset <= (newline < 0 ? text.Length : newline) ? offset : null;
    }

    /// <summary>Where the line's text ends: before its line feed (and a carriage return before that).</summary>
    private static int LineEnd(string text, List<int> starts, int line)
    {
        var start = starts[line - 1];
        var newline = text.IndexOf('\n', start);
        var end = newline < 0 ? text.Length : newline;
        return end > start && text[end - 1] == '\r' ? end - 1 : end;
    }
}
