namespace Slipway.Server.Builds;

internal static partial class BuildsLog
{
    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Checked out {Repository} at {CommitSha}")]
    public static partial void CheckedOut(ILogger logger, string repository, string commitSha);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Information, Message = "Packed artifact {Sha256} ({Size} bytes) from {Directory}")]
    public static partial void Packed(ILogger logger, string sha256, long size, string directory);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Warning, Message = "Refused to unpack artifact {Sha256}: {Reason}")]
    public static partial void UnpackRefused(ILogger logger, string sha256, string reason);
}
