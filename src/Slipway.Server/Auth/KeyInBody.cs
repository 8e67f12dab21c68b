using System.Text.Json;
using Slipway.Server.ApiKeys;
using Slipway.Server.Hosting;

namespace Slipway.Server.Auth;

/// <summary>
/// Endpoint metadata for the compatibility routes of uploaded builds only (<c>upload-file</c>, <c>distribute-file</c>): their
/// clients send the API key as <c>apiKey</c> in the body instead of a header. An Authorization header still wins. A JSON
/// body's key is read here, before the rate limiter, so the request counts against that key; a multipart body is streamed,
/// so its handler reads the key from the form with <see cref="FromFormAsync"/> as soon as its part arrives.
/// </summary>
internal sealed record KeyInBody
{
    private const int MaxJsonBytes = 64 * 1024;

    /// <summary>The caller of a JSON body's <c>apiKey</c>; null for a multipart body (its handler authenticates).</summary>
    public static async Task<Caller?> FromJsonAsync(HttpContext context)
    {
        var request = context.Request;
        if (request.HasFormContentType) return null;
        if (request.ContentLength > MaxJsonBytes) throw new ApiException(413, "payload_too_large", $"The body may be at most {MaxJsonBytes / 1024} KB.");
        request.EnableBuffering(MaxJsonBytes);
        string? key = null;
        try
        {
            using var document = await JsonDocument.ParseAsync(request.Body, default, context.RequestAborted);
            if (document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("apiKey", out var value)
                                                                        && value.ValueKind == JsonValueKind.String)
            {
                key = value.GetString();
            }
        }
        catch (JsonException)
        {
            // The handler's own binding answers malformed JSON; without a key this is 401 first.
        }
        request.Body.Position = 0;
        return await AuthenticateAsync(context, key, "apiKey");
    }

    /// <summary>
    /// The caller of a multipart form's key, attached to the request and counted by the rate limiter then (the middleware
    /// saw no caller): a key read before the file part refuses an over-limit request before its file is streamed.
    /// </summary>
    public static async Task<Caller> FromFormAsync(HttpContext context, string? key, string field)
    {
        var caller = await AuthenticateAsync(context, key, field);
        caller.Attach(context);
        context.RequestServices.GetService<RateLimiting.CallerRateLimiter>()?.Count(context);
        return caller;
    }

    /// <summary>Only an API key is accepted in a body, never a session token.</summary>
    public static async Task<Caller> AuthenticateAsync(HttpContext context, string? key, string field)
    {
        if (string.IsNullOrEmpty(key)) throw ApiException.Unauthenticated($"Send the API key as '{field}' or as 'Authorization: Bearer <API key>'.");
        if (!key.StartsWith(ApiKeyAuthenticator.Prefix, StringComparison.Ordinal) || key.Length > 4096)
            throw ApiException.Unauthenticated("The API key is invalid, expired or revoked.");
        return await Authentication.AuthenticateTokenAsync(context.RequestServices, key, context.RequestAborted);
    }
}
