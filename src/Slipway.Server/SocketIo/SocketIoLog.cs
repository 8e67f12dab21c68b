namespace Slipway.Server.SocketIo;

internal static partial class SocketIoLog
{
    [LoggerMessage(EventId = 9001, Level = LogLevel.Debug, Message = "Engine.IO session {SessionId} opened over {Transport}")]
    public static partial void SessionOpened(ILogger logger, string sessionId, EngineIoTransport transport);

    [LoggerMessage(EventId = 9002, Level = LogLevel.Debug, Message = "Engine.IO session {SessionId} closed: {Reason}")]
    public static partial void SessionClosed(ILogger logger, string sessionId, string reason);

    [LoggerMessage(EventId = 9003, Level = LogLevel.Debug, Message = "Engine.IO session {SessionId} upgraded to WebSocket")]
    public static partial void Upgraded(ILogger logger, string sessionId);

    [LoggerMessage(EventId = 9004, Level = LogLevel.Information, Message = "Socket.IO connect refused on session {SessionId}: {Code}")]
    public static partial void Refused(ILogger logger, string sessionId, string code);

    [LoggerMessage(EventId = 9005, Level = LogLevel.Warning, Message = "Socket.IO log subscription to {DeploymentId} failed")]
    public static partial void FollowFailed(ILogger logger, string deploymentId, Exception ex);
}
