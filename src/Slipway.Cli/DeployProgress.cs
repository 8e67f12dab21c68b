using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace Slipway.Cli;

/// <summary>
/// Turns a deployment's log stream into phases (queued, clone (source for an upload), build, release, health, live), each printed once when it
/// begins with the time since the command started, and the log lines underneath. The phases come from the statuses
/// (building, deploying, ready) and from the engine's own system lines (<c>Cloning…</c> or <c>Source: upload…</c>, <c>Framework…</c>,
/// <c>Build succeeded…</c> or <c>Rolling back…</c>, <c>Started…</c>), which the stream replays from the start, so a
/// stream opened after a status changed (statuses are only sent live) still shows every phase.
/// </summary>
internal sealed class DeployProgress(Output output, Stopwatch clock, string? trigger)
{
    private static readonly string[] Phases = ["queued", "clone", "build", "release", "health", "live"];
    private readonly bool rollback = trigger == "rollback";
    private int current = -1;

    public TimeSpan Elapsed => clock.Elapsed;

    public void Phase(string phase)
    {
        var index = Array.IndexOf(Phases, phase);
        if (index <= current) return;
        current = index;
        // An upload's source is its validated archive, not a clone.
        if (phase == "clone" && trigger == "upload") phase = "source";
        var elapsed = Seconds(clock.Elapsed);
        if (output.Json) return;
        if (output.Terminal) output.Console.MarkupLine($"[bold deepskyblue1]▸ {phase,-8}[/] [grey]{elapsed,7}[/]");
        else Console.Out.WriteLine($"▸ {phase,-8} {elapsed,7}");
    }

    /// <summary>A <c>status</c> message of the stream.</summary>
    public void Status(string status)
    {
        switch (status)
        {
            case "building" when !rollback:
                Phase("clone");
                break;
            case "deploying":
                Phase("release");
                break;
            case "ready":
                Phase("live");
                break;
        }
    }

    /// <summary>A <c>log</c> message of the stream: advances the phase its system line announces, then prints it.</summary>
    public void Line(JsonNode log)
    {
        var message = log["message"]?.GetValue<string>() ?? "";
        if (log["stream"]?.GetValue<string>() == "system")
        {
            if (message.StartsWith("Cloning ", StringComparison.Ordinal) || message.StartsWith("Source: upload ", StringComparison.Ordinal)) Phase("clone");
            else if (message.StartsWith("Framework ", StringComparison.Ordinal)) Phase("build");
            // The last line of a build, or the first of a rollback: the release comes next (the status follows at once).
            else if (message.StartsWith("Build succeeded", StringComparison.Ordinal) || message.StartsWith("Rolling back to ", StringComparison.Ordinal)) Phase("release");
            else if (message.StartsWith("Started `", StringComparison.Ordinal)) Phase("health");
        }
        if (output.Json) return;
        if (output.Terminal) output.Console.MarkupLine($"  [grey]│[/] {Markup.Escape(message)}");
        else Console.Out.WriteLine("  │ " + message);
    }

    public static string Seconds(TimeSpan elapsed) => elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + "s";
}
