using System.Security.Cryptography;
using Slipway.Server.Auth;
using Slipway.Server.Data;
using Slipway.Server.EnvVars;

namespace Slipway.Server.Hosting;

/// <summary>
/// Endpoint metadata: the handler streams the body (an upload of up to gigabytes), so <see cref="Idempotency"/> must not buffer
/// it. Such a request is told apart from another by its method, path, media type and Content-Length (a client's retry sends the
/// same form with a new multipart boundary of the same length); a repeated key is replayed without reading the body again.
/// </summary>
internal sealed record StreamedBody;

/// <summary>
/// <c>Idempotency-Key</c> on authenticated POSTs: the first response for a (caller, key) pair is stored for 24 h and
/// replayed byte-for-byte; the same key with another request is 409 <c>idempotency_conflict</c>. Only 2xx and 4xx
/// responses are stored (a 5xx may succeed on retry, so it is not frozen).
/// </summary>
internal static class Idempotency
{
    public const string Header = "Idempotency-Key";
    private static readonly TimeSpan Keep = TimeSpan.FromHours(24);
    /// <summary>A reservation older than this belongs to a request that died with its server: it no longer blocks the key.</summary>
    private static readonly TimeSpan StaleReservation = TimeSpan.FromMinutes(5);

    private static Task<int> Remove(SlipwayDb db, string caller, string key) =>
        db.IdempotencyRecords.Where(r => r.Caller == caller && r.Key == key).ExecuteDeleteAsync(CancellationToken.None);
    private const string Purpose = "idempotency";

    private static byte[] Open(HttpContext context, IdempotencyRecord stored)
    {
        try
        {
            var body = context.RequestServices.GetRequiredService<SecretBox>().Open(stored.Body, stored.KeyId ?? "", Purpose, stored.Caller, stored.Key);
            return System.Text.Encoding.UTF8.GetBytes(body);
        }
        catch (SecretUnavailableException)
        {
            // The key that sealed it was removed: refuse rather than run the request a second time.
            throw new ApiException(409, "idempotency_conflict", "The stored response for this Idempotency-Key can no longer be read; use a new key.");
        }
    }

    private static async Task<string> BodyFingerprintAsync(HttpContext context)
    {
        context.Request.EnableBuffering(bufferThreshold: 64 * 1024);
        var maxBody = context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize ?? 1 << 20;
        var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body, context.RequestAborted);
        if (body.Length > maxBody) throw new BadHttpRequestException("Request body too large.", 413);
        context.Request.Body.Position = 0;
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(System.Text.Encoding.UTF8.GetBytes($"{context.Request.Method} {context.Request.Path}\n"));
        sha.AppendData(body.GetBuffer(), 0, (int)body.Length);
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    private static string StreamedFingerprint(HttpRequest request)
    {
        if (request.ContentLength is not { } length)
        {
            throw ApiException.Validation("Idempotency-Key", "needs a Content-Length on this route (its body is streamed, not buffered)");
        }
        var mediaType = Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(request.ContentType, out var parsed) ? parsed.MediaType.Value : "";
        var text = $"{request.Method} {request.Path}\n{mediaType?.ToLowerInvariant()}\n{length}";
        return Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)));
    }

    public static IApplicationBuilder UseIdempotency(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var key = context.Request.Headers[Header].ToString();
        var caller = Caller.Find(context);
        var streamed = context.GetEndpoint()?.Metadata.GetMetadata<StreamedBody>() is not null;
        if (!HttpMethods.IsPost(context.Request.Method) || key.Length == 0 || (caller is null && !streamed))
        {
            await next(context);
            return;
        }
        if (key.Length > 255 || Validator.HasControlChars(key))
        {
            throw ApiException.Validation("Idempotency-Key", "must be 1 to 255 printable characters");
        }
        // A key in a multipart body is only known once the body is read: too late to replay instead of running.
        if (caller is null) throw ApiException.Validation("Idempotency-Key", "needs the API key in the Authorization header on this route, not in the form");
        var hash = streamed ? StreamedFingerprint(context.Request) : await BodyFingerprintAsync(context);

        var db = context.RequestServices.GetRequiredService<SlipwayDb>();
        var time = context.RequestServices.GetRequiredService<TimeProvider>();
        var now = time.UtcNowMs();
        var box = context.RequestServices.GetRequiredService<SecretBox>();

        // Reserve the key before running the request (status 0 = in progress): of two concurrent retries only one runs.
        while (true)
        {
            var stored = await db.IdempotencyRecords.FirstOrDefaultAsync(r => r.Caller == caller.Id && r.Key == key, context.RequestAborted);
            var expired = stored is not null && (stored.CreatedAt <= now - Keep || (stored.StatusCode == 0 && stored.CreatedAt <= now - StaleReservation));
            if (stored is not null && !expired)
            {
                if (stored.RequestHash != hash)
                {
                    throw new ApiException(409, "idempotency_conflict", "This Idempotency-Key was already used with a different request.");
                }
                if (stored.StatusCode == 0)
                {
                    throw new ApiException(409, "idempotency_conflict", "A request with this Idempotency-Key is still in progress; retry shortly.");
                }
                context.Response.StatusCode = stored.StatusCode;
                if (stored.ContentType is not null) context.Response.ContentType = stored.ContentType;
                if (stored.Location is not null) context.Response.Headers.Location = stored.Location;
                context.Response.Headers["Idempotent-Replayed"] = "true";
                await context.Response.Body.WriteAsync(Open(context, stored), context.RequestAborted);
                return;
            }
            if (expired) await Remove(db, caller.Id, key);
            db.IdempotencyRecords.Add(new IdempotencyRecord { Caller = caller.Id, Key = key, RequestHash = hash, StatusCode = 0, Body = [], CreatedAt = now });
            try
            {
                await db.SaveChangesAsync(context.RequestAborted);
                db.ChangeTracker.Clear();
                break;
            }
            catch (DbUpdateException ex) when (DbExtensions.IsUniqueViolation(ex))
            {
                // Someone reserved it first: look again (replay, conflict or in progress).
                db.ChangeTracker.Clear();
            }
        }

        var original = context.Response.Body;
        using var capture = new MemoryStream();
        context.Response.Body = capture;
        try
        {
            await next(context);
        }
        catch (Exception ex) when (!context.Response.HasStarted && ex is not OperationCanceledException)
        {
            // Write the error here, into the capture, so a rejected first attempt is replayed like any other answer.
            await ErrorHandling.WriteAsync(context, ex);
        }
        finally
        {
            context.Response.Body = original;
            if (context.Response.StatusCode is < 200 or >= 500 || context.RequestAborted.IsCancellationRequested)
            {
                // A 5xx (or an aborted request) may succeed on retry: it is not frozen, the reservation goes.
                await Remove(db, caller.Id, key);
            }
        }
        capture.Position = 0;
        await capture.CopyToAsync(original, context.RequestAborted);
        if (context.Response.StatusCode is >= 200 and < 500)
        {
            var (sealedBody, keyId) = box.Seal(System.Text.Encoding.UTF8.GetString(capture.GetBuffer(), 0, (int)capture.Length), Purpose, caller.Id, key);
            var status = context.Response.StatusCode;
            var contentType = context.Response.ContentType;
            var location = context.Response.Headers.Location.ToString() is { Length: > 0 } l ? l : null;
            await db.IdempotencyRecords.Where(r => r.Caller == caller.Id && r.Key == key).ExecuteUpdateAsync(s => s
                .SetProperty(r => r.StatusCode, status)
                .SetProperty(r => r.ContentType, contentType)
                .SetProperty(r => r.Location, location)
                .SetProperty(r => r.Body, sealedBody)
                .SetProperty(r => r.KeyId, keyId), CancellationToken.None);
        }
    });
}
