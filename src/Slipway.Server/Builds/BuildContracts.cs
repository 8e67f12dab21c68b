namespace Slipway.Server.Builds;

internal sealed class BuildOptions
{
    public const string SectionName = "Slipway:Builds";

    public TimeSpan CloneTimeout { get; set; } = TimeSpan.FromMinutes(5);
    public TimeSpan BuildTimeout { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Ready releases kept per environment (the live one is never collected).</summary>
    public int RetainedReleases { get; set; } = 10;

    /// <summary>Concurrent builds; 0 = half the cores, at least one.</summary>
    public int MaxConcurrentBuilds { get; set; }
}

/// <summary>A checked-out source tree and the commit it is.</summary>
/// <summary><c>Branch</c>: the branch checked out (the repository's default when none was asked for; empty if it could not be told).</summary>
internal sealed record SourceCheckout(string Directory, string CommitSha, string CommitMessage, string Branch);

/// <summary>What to run for a source tree: explicit project/environment commands win over detection.</summary>
internal sealed record BuildPlan(string Framework, string? BuildCommand, string? StartCommand, string? OutputDirectory, bool IsStatic);

/// <summary>How a shell command ended.</summary>
internal sealed record ProcessResult(int ExitCode, bool TimedOut, bool Canceled, TimeSpan Duration)
{
    public bool Succeeded => ExitCode == 0 && !TimedOut && !Canceled;
}

/// <summary>A packed build output, addressed by the sha256 of its archive.</summary>
internal sealed record Artifact(string Sha256, long Size, string Path);

/// <summary>Receives each output line as it is written: stream is <c>stdout</c>, <c>stderr</c>, <c>build</c> or <c>system</c>.</summary>
internal delegate void LineSink(string stream, string line);
