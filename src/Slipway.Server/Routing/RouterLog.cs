namespace Slipway.Server.Routing;

internal static partial class RouterLog
{
    [LoggerMessage(EventId = 6200, Level = LogLevel.Information, Message = "Router listening on {Addresses}")]
    public static partial void Listening(ILogger logger, string addresses);

    [LoggerMessage(EventId = 6201, Level = LogLevel.Information, Message = "Route table replaced: {Count} host(s)")]
    public static partial void Replaced(ILogger logger, int count);

    [LoggerMessage(EventId = 6202, Level = LogLevel.Warning, Message = "Upstream {Upstream} for host {Host} failed ({Status}): {Reason}")]
    public static partial void UpstreamFailed(ILogger logger, Uri upstream, string host, int status, string reason);

    [LoggerMessage(EventId = 6203, Level = LogLevel.Debug, Message = "Response from {Upstream} for host {Host} broke off: {Reason}")]
    public static partial void ResponseBrokeOff(ILogger logger, Uri upstream, string host, string reason);

    [LoggerMessage(EventId = 6204, Level = LogLevel.Debug, Message = "Upgrade tunnel to {Upstream} ended: {Reason}")]
    public static partial void TunnelEnded(ILogger logger, Uri upstream, string reason);

    [LoggerMessage(EventId = 6205, Level = LogLevel.Warning, Message = "Static release directory {Directory} for host {Host} is missing")]
    public static partial void StaticDirectoryMissing(ILogger logger, string directory, string host);

    [LoggerMessage(EventId = 6206, Level = LogLevel.Debug, Message = "Refused static path {Path} for host {Host} (outside the release)")]
    public static partial void StaticPathRefused(ILogger logger, string path, string host);
}
