namespace Slipway.Server.Security;

internal static partial class SecurityLog
{
    [LoggerMessage(EventId = 13001, Level = LogLevel.Information, Message = "Scan {ScanId} of {ProjectId} completed: {New} new, {Fixed} fixed, {Unchanged} unchanged")]
    public static partial void ScanCompleted(ILogger logger, string scanId, string projectId, int @new, int @fixed, int unchanged);

    [LoggerMessage(EventId = 13002, Level = LogLevel.Warning, Message = "Scan {ScanId} of {ProjectId} failed: {Error}")]
    public static partial void ScanFailed(ILogger logger, string scanId, string projectId, string error);

    [LoggerMessage(EventId = 13003, Level = LogLevel.Error, Message = "The scan worker's loop failed; it tries again")]
    public static partial void LoopFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 13004, Level = LogLevel.Warning, Message = "Scan {ScanId} was interrupted by a restart and is marked failed")]
    public static partial void Interrupted(ILogger logger, string scanId);

    [LoggerMessage(EventId = 13005, Level = LogLevel.Warning, Message = "Scan {ScanId}: commit {CommitSha} could not be checked out, snippets come from the SARIF file: {Reason}")]
    public static partial void CommitUnavailable(ILogger logger, string scanId, string commitSha, string reason);
}
