using System.Text.Json.Nodes;
using Spectre.Console;

namespace Slipway.Cli;

/// <summary>
/// Where commands write. <c>--json</c>: only the API's JSON on stdout. A terminal: colours and tables through Spectre.Console.
/// Otherwise (a pipe, a file, CI): plain text, no escape codes, no line wrapping.
/// </summary>
internal sealed class Output
{
    public Output(bool json)
    {
        Json = json;
        Terminal = !System.Console.IsOutputRedirected && Environment.GetEnvironmentVariable("TERM") is not (null or "" or "dumb");
        Console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = Terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = Terminal && Environment.GetEnvironmentVariable("NO_COLOR") is null or "" ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = Terminal ? InteractionSupport.Detect : InteractionSupport.No,
            Out = new AnsiConsoleOutput(System.Console.Out),
        });
    }

    public bool Json { get; }

    /// <summary>stdout is a terminal (not redirected, and TERM is not dumb).</summary>
    public bool Terminal { get; }

    public IAnsiConsole Console { get; }

    /// <summary>A line of text, styled (Spectre markup style, e.g. <c>green</c>) on a terminal; nothing in <c>--json</c> mode.</summary>
    public void Say(string text, string? style = null)
    {
        if (Json) return;
        if (Terminal && style is not null) Console.MarkupLine($"[{style}]{Markup.Escape(text)}[/]");
        else System.Console.Out.WriteLine(text);
    }

    /// <summary>The API's JSON as it came.</summary>
    public static void Print(JsonNode? node) => System.Console.Out.WriteLine(node?.ToJsonString(CliJson.Indented) ?? "null");

    public void Table(IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string?>> rows)
    {
        var cells = rows.Select(r => r.Select(c => c ?? "-").ToArray()).ToList();
        if (Terminal)
        {
            var table = new Table().Border(TableBorder.Rounded);
            foreach (var header in headers) table.AddColumn(new TableColumn($"[bold]{Markup.Escape(header)}[/]"));
            foreach (var row in cells) table.AddRow(row.Select(Markup.Escape).ToArray());
            Console.Write(table);
            return;
        }
        var widths = headers.Select((h, i) => Math.Max(h.Length, cells.Count == 0 ? 0 : cells.Max(r => r[i].Length))).ToArray();
        System.Console.Out.WriteLine(string.Join("  ", headers.Select((h, i) => h.ToUpperInvariant().PadRight(widths[i]))).TrimEnd());
        foreach (var row in cells) System.Console.Out.WriteLine(string.Join("  ", row.Select((c, i) => c.PadRight(widths[i]))).TrimEnd());
    }

    public static void Error(string message) => System.Console.Error.WriteLine("Error: " + message);
}
