namespace Slipway.Server.Observability;

internal static partial class ObservabilityLog
{
    /// <summary>The one line per request. Path only, never the query string (it may carry <c>?token=</c>) or headers.</summary>
    [LoggerMessage(EventId = 1200, Level = LogLevel.Information,
        Message = "{Method} {Route} {Path} responded {Status} in {DurationMs:0.000} ms (request {RequestId})")]
    public static partial void RequestFinished(this ILogger logger, string method, string route, string path, int status, double durationMs,
        string requestId);

    [LoggerMessage(EventId = 1201, Level = LogLevel.Warning, Message = "Health check {Check} failed: {Error}")]
    public static partial void HealthCheckFailed(this ILogger logger, Exception? ex, string check, string error);

    [LoggerMessage(EventId = 1202, Level = LogLevel.Information, Message = "Shutting down: draining for {Seconds} s with /ready reporting 503")]
    public static partial void Draining(this ILogger logger, double seconds);
}
