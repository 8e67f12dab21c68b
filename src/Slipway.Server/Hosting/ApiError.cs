using System.Text.Json.Serialization;

namespace Slipway.Server.Hosting;

/// <summary>One field-level problem in a <c>validation_failed</c> error.</summary>
internal sealed record FieldError(string Field, string Message);

internal sealed record ErrorBody(string Code, string Message, string RequestId,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<FieldError>? Details);

internal sealed record ErrorEnvelope(ErrorBody Error);

/// <summary>
/// Thrown by handlers to end a request with an error in the shape of api-conventions.md.
/// One way to fail: the error middleware turns it into the body, whatever threw it.
/// </summary>
internal sealed class ApiException(int status, string code, string message, IReadOnlyList<FieldError>? details = null)
    : Exception(message)
{
    public int Status { get; } = status;
    public string Code { get; } = code;
    public IReadOnlyList<FieldError>? Details { get; } = details;

    public static ApiException NotFound(string what, string id) => new(404, "not_found", $"{what} '{id}' not found.");
    public static ApiException NotFound(string message) => new(404, "not_found", message);
    public static ApiException Validation(string field, string message) =>
        new(400, "validation_failed", "The request is invalid.", [new FieldError(field, message)]);
    public static ApiException Validation(IReadOnlyList<FieldError> details) =>
        new(400, "validation_failed", "The request is invalid.", details);
    public static ApiException Conflict(string message) => new(409, "conflict", message);
    public static ApiException InvalidState(string message) => new(409, "invalid_state", message);
    public static ApiException Forbidden(string message) => new(403, "forbidden", message);
    public static ApiException InsufficientScope(string scope) =>
        new(403, "insufficient_scope", $"This API key lacks the '{scope}' scope.");
    public static ApiException Unauthenticated(string message = "Authentication is required.") =>
        new(401, "unauthenticated", message);
}

internal static class ApiErrors
{
    /// <summary>The code used when a status was produced without an explicit one (routing, Kestrel limits, ...).</summary>
    public static string DefaultCode(int status) => status switch
    {
        400 => "validation_failed",
        401 => "unauthenticated",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        409 => "conflict",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        422 => "rejected",
        429 => "rate_limited",
        503 => "unavailable",
        >= 500 => "internal_error",
        _ => "error",
    };

    public static string DefaultMessage(int status) => status switch
    {
        400 => "The request is invalid.",
        401 => "Authentication is required.",
        403 => "You are not allowed to do this.",
        404 => "No such resource.",
        405 => "This method is not allowed on this resource.",
        409 => "The request conflicts with the current state.",
        413 => "The request body is too large.",
        415 => "Send the body as application/json.",
        429 => "Too many requests.",
        503 => "The service is unavailable.",
        >= 500 => "An internal error occurred. It was logged with the request id.",
        _ => "The request failed.",
    };

    public static Task WriteAsync(HttpContext context, int status, string code, string message,
        IReadOnlyList<FieldError>? details = null)
    {
        context.Response.StatusCode = status;
        context.Response.Headers[RequestIds.Header] = RequestIds.Get(context);
        context.Response.ContentType = "application/json; charset=utf-8";
        // Again here: the error middleware clears the response (and its headers) before writing the error.
        context.Response.Headers["X-Request-Id"] = RequestIds.Get(context);
        var body = new ErrorEnvelope(new ErrorBody(code, message, RequestIds.Get(context), details));
        return context.Response.WriteAsJsonAsync(body, SlipwayJson.Context.ErrorEnvelope, contentType: "application/json; charset=utf-8");
    }
}
