namespace Slipway.Server.Builds;

/// <summary>A build step failed for a reason the user can act on. The message is safe to show (no credentials, no secrets).</summary>
internal class BuildException(string message, Exception? inner = null) : Exception(message, inner);

internal enum SourceFailure
{
    InvalidInput,
    UnknownBranch,
    UnknownCommit,
    Unreachable,
    TimedOut,
}

/// <summary>The repository could not be checked out at the requested branch or commit.</summary>
internal sealed class GitSourceException(SourceFailure failure, string message) : BuildException(message)
{
    public SourceFailure Failure { get; } = failure;
}

/// <summary>No build plan: the framework could not be detected or the project's settings do not fit it.</summary>
internal sealed class BuildPlanException(string message) : BuildException(message);

/// <summary>An artifact holds an entry that would land outside the directory it is unpacked into, or one we never write.</summary>
internal sealed class UnsafeArchiveException(string message) : BuildException(message);
