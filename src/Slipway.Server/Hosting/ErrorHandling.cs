using System.Text.Json;

namespace Slipway.Server.Hosting;

/// <summary>
/// Every non-2xx leaves in the one error shape: thrown <see cref="ApiException"/>s, framework
/// binding failures (bad JSON, wrong content type, body too large), routing misses, 405s and bugs.
/// </summary>
internal static class ErrorHandling
{
    public static IApplicationBuilder UseApiErrors(this IApplicationBuilder app)
    {
        app.UseStatusCodePages(context =>
        {
            var http = context.HttpContext;
            return http.Response.HasStarted || http.Response.ContentLength > 0 || http.Response.ContentType is not null
                ? Task.CompletedTask
                : ApiErrors.WriteAsync(http, http.Response.StatusCode, ApiErrors.DefaultCode(http.Response.StatusCode),
                    ApiErrors.DefaultMessage(http.Response.StatusCode));
        });
        return app.Use(async (context, next) =>
        {
            try
            {
                await next(context);
            }
            catch (Exception ex) when (!context.Response.HasStarted)
            {
                if (ex is OperationCanceledException && context.RequestAborted.IsCancellationRequested) return;
                context.Response.Clear();
                await WriteAsync(context, ex);
            }
        });
    }

    /// <summary>Writes the error body for any exception (also used by middleware that must capture the body).</summary>
    public static Task WriteAsync(HttpContext context, Exception ex)
    {
        switch (ex)
        {
            case ApiException api:
                return ApiErrors.WriteAsync(context, api.Status, api.Code, api.Message, api.Details);
            case Auth.RateLimitedException limited:
                context.Response.Headers.RetryAfter = limited.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                return ApiErrors.WriteAsync(context, 429, "rate_limited", limited.Message);
            case BadHttpRequestException bad when Find<JsonException>(bad) is { } json:
                return InvalidJson(context, json);
            case BadHttpRequestException { StatusCode: 413 }:
                return ApiErrors.WriteAsync(context, 413, "payload_too_large", "The request body is larger than this endpoint accepts.");
            case BadHttpRequestException { StatusCode: 415 }:
                return ApiErrors.WriteAsync(context, 415, "unsupported_media_type", "Send the body as application/json.");
            case BadHttpRequestException bad when bad.Message.Contains("body was provided", StringComparison.OrdinalIgnoreCase)
                                                 || bad.Message.Contains("no body", StringComparison.OrdinalIgnoreCase):
                return ApiErrors.WriteAsync(context, 400, "validation_failed", "A JSON request body is required.",
                    [new FieldError("body", "is required")]);
            case BadHttpRequestException bad when bad.StatusCode is >= 400 and < 500:
                return ApiErrors.WriteAsync(context, bad.StatusCode, ApiErrors.DefaultCode(bad.StatusCode),
                    bad.StatusCode == 400 ? "The request could not be read." : ApiErrors.DefaultMessage(bad.StatusCode));
            case JsonException json:
                return InvalidJson(context, json);
            default:
                context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Slipway.Errors")
                    .UnhandledException(ex, context.Request.Method, context.Request.Path, RequestIds.Get(context));
                return ApiErrors.WriteAsync(context, 500, "internal_error", ApiErrors.DefaultMessage(500));
        }
    }

    private static Task InvalidJson(HttpContext context, JsonException json)
    {
        if (SlipwayJson.UnknownField(json) is { } field)
        {
            return ApiErrors.WriteAsync(context, 400, "validation_failed", $"The request has a field this endpoint does not know: '{field}'.",
                [new FieldError(field, "is not a field of this request; check its spelling in the API reference")]);
        }
        var at = string.IsNullOrEmpty(json.Path) || json.Path == "$" ? "" : $" at '{json.Path}'";
        return ApiErrors.WriteAsync(context, 400, "invalid_json",
            $"The request body is not valid JSON for this endpoint{at}: check syntax and value types.");
    }

    private static T? Find<T>(Exception? ex) where T : Exception
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is T t) return t;
        }
        return null;
    }
}

internal static partial class ErrorLog
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Error, Message = "Unhandled exception on {Method} {Path} (request {RequestId})")]
    public static partial void UnhandledException(this ILogger logger, Exception ex, string method, string path, string requestId);
}
