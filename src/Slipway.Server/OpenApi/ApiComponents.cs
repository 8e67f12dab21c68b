using System.Text.Json.Nodes;
using Microsoft.OpenApi;

namespace Slipway.Server.OpenApi;

/// <summary>
/// The reusable parts of the document (Error schema, error responses, headers, parameters, the bearer scheme).
/// Operations ask for what they use, so the document defines exactly the components it references.
/// </summary>
internal static class ApiComponents
{
    public const string ErrorSchema = "Error";
    public const string BearerScheme = "bearerAuth";
    public const string RequestIdHeader = "X-Request-Id";
    public const string IdempotencyKeyParameter = "IdempotencyKey";
    public const string LimitParameter = "Limit";
    public const string CursorParameter = "Cursor";
    private const string RetryAfterHeader = "Retry-After";
    private const string LocationHeader = "Location";

    /// <summary>The headers on every response to an authenticated request (the rate limiter counts those).</summary>
    public static readonly string[] RateLimitHeaders =
    [
        RateLimiting.RateLimitHeaders.Limit, RateLimiting.RateLimitHeaders.Remaining, RateLimiting.RateLimitHeaders.Reset,
        RateLimiting.RateLimitHeaders.Policy, RateLimiting.RateLimitHeaders.Current,
    ];

    /// <summary>The api-conventions table: one reusable response per error status.</summary>
    private static readonly Dictionary<int, (string Name, string Description)> Errors = new()
    {
        [400] = ("BadRequest", "Invalid input: `validation_failed` (with `details` per field), `invalid_json` or `invalid_cursor`."),
        [401] = ("Unauthorized", "`unauthenticated`: missing, malformed, expired, revoked or forged credentials."),
        [403] = ("Forbidden", "`forbidden` (workspace role, or a user-session endpoint called with an API key) or `insufficient_scope` (API key scope)."),
        [404] = ("NotFound", "`not_found`: no such resource, or it belongs to a workspace the caller cannot see."),
        [405] = ("MethodNotAllowed", "`method_not_allowed`: this method is not allowed on this resource."),
        [409] = ("Conflict", "`conflict` (duplicate name, domain or email), `invalid_state` (illegal state transition) or `idempotency_conflict` (an `Idempotency-Key` reused with a different request)."),
        [413] = ("PayloadTooLarge", "`payload_too_large`: the body is over the configured limit."),
        [415] = ("UnsupportedMediaType", "`unsupported_media_type`: send the body as `application/json`."),
        [422] = ("Rejected", "`rejected`: a well-formed upload that fails validation (the reason is in `message`)."),
        [429] = ("TooManyRequests", "`rate_limited`: too many requests; retry after `Retry-After` seconds. On authenticated operations the "
                                    + "`X-RateLimit-*`, `RateLimit-Policy` and `RateLimit` headers say which bucket is empty."),
        [500] = ("InternalError", "`internal_error`: a bug, logged with the request id; clients may retry with backoff."),
        [503] = ("Unavailable", "`unavailable`: a dependency is down or the server is shutting down."),
    };

    public static IOpenApiResponse ErrorResponse(OpenApiDocument document, int status)
    {
        var (name, description) = Errors.TryGetValue(status, out var known) ? known : ($"Error{status}", $"Error {status}.");
        var components = Components(document);
        components.Responses ??= new Dictionary<string, IOpenApiResponse>(StringComparer.Ordinal);
        if (!components.Responses.ContainsKey(name))
        {
            var response = new OpenApiResponse
            {
                Description = description,
                Headers = new Dictionary<string, IOpenApiHeader>(StringComparer.Ordinal) { [RequestIdHeader] = Header(document, RequestIdHeader) },
                Content = new Dictionary<string, OpenApiMediaType>(StringComparer.Ordinal)
                {
                    ["application/json"] = new() { Schema = new OpenApiSchemaReference(ErrorSchema, document) },
                },
            };
            if (status == 429) response.Headers[RetryAfterHeader] = Header(document, RetryAfterHeader);
            components.Responses[name] = response;
        }
        return new OpenApiResponseReference(name, document);
    }

    public static IOpenApiHeader Header(OpenApiDocument document, string name)
    {
        var components = Components(document);
        components.Headers ??= new Dictionary<string, IOpenApiHeader>(StringComparer.Ordinal);
        if (!components.Headers.ContainsKey(name))
        {
            components.Headers[name] = name switch
            {
                RequestIdHeader => new OpenApiHeader
                {
                    Description = "The request id: the caller's own if it sent a well-formed `X-Request-Id`, else `req_` + random. "
                                  + "The same id is in error bodies and in the server log line of the request.",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String },
                },
                RetryAfterHeader => new OpenApiHeader
                {
                    Description = "Seconds to wait before retrying.",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.Integer, Minimum = "0" },
                },
                LocationHeader => new OpenApiHeader
                {
                    Description = "The URL of the created resource.",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String },
                },
                RateLimiting.RateLimitHeaders.Limit => new OpenApiHeader
                {
                    Description = "Size of the caller's token bucket (the burst): 10 for the standard tier, 50 for enterprise. An endpoint "
                                  + "with its own bucket as well (none yet) reports the emptier of the two.",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.Integer, Minimum = "1" },
                },
                RateLimiting.RateLimitHeaders.Remaining => new OpenApiHeader
                {
                    Description = "Tokens left in the bucket after this request: how many more requests may be sent at once.",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.Integer, Minimum = "0" },
                },
                RateLimiting.RateLimitHeaders.Reset => new OpenApiHeader
                {
                    Description = "When the bucket is full again if no request is sent, in Unix seconds (rounded up).",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int64" },
                },
                RateLimiting.RateLimitHeaders.Policy => new OpenApiHeader
                {
                    Description = "IETF draft-ietf-httpapi-ratelimit-headers: each bucket as `\"name\";q=<burst>;w=<seconds to refill it>`, "
                                  + "e.g. `\"standard\";q=10;w=10` (60 requests/min, 10 at once).",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String },
                },
                RateLimiting.RateLimitHeaders.Current => new OpenApiHeader
                {
                    Description = "IETF draft: per bucket `\"name\";r=<requests left>;t=<seconds until the next token>`, "
                                  + "e.g. `\"standard\";r=9;t=1`.",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String },
                },
                _ => throw new ArgumentOutOfRangeException(nameof(name), name, "Unknown header component."),
            };
        }
        return new OpenApiHeaderReference(name, document);
    }

    public static IOpenApiHeader Location(OpenApiDocument document) => Header(document, LocationHeader);

    public static IOpenApiParameter Parameter(OpenApiDocument document, string name)
    {
        var components = Components(document);
        components.Parameters ??= new Dictionary<string, IOpenApiParameter>(StringComparer.Ordinal);
        if (!components.Parameters.ContainsKey(name))
        {
            components.Parameters[name] = name switch
            {
                IdempotencyKeyParameter => new OpenApiParameter
                {
                    Name = Hosting.Idempotency.Header, In = ParameterLocation.Header, Required = false,
                    Description = "Makes a retry safe: the first response for this caller and key is stored for 24 h and replayed "
                                  + "byte-for-byte (with `Idempotent-Replayed: true`); the same key with a different request is 409 `idempotency_conflict`.",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String, MinLength = 1, MaxLength = 255 },
                },
                LimitParameter => new OpenApiParameter
                {
                    Name = "limit", In = ParameterLocation.Query, Required = false,
                    Description = "Page size; out of range is 400 `validation_failed`.",
                    Schema = new OpenApiSchema
                    {
                        Type = JsonSchemaType.Integer, Format = "int32", Minimum = "1",
                        Maximum = Hosting.PageQuery.MaxLimit.ToString(System.Globalization.CultureInfo.InvariantCulture),
                        Default = JsonValue.Create(Hosting.PageQuery.DefaultLimit),
                    },
                },
                CursorParameter => new OpenApiParameter
                {
                    Name = "cursor", In = ParameterLocation.Query, Required = false,
                    Description = "Opaque `next_cursor` from the previous page; anything else is 400 `invalid_cursor`.",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String },
                },
                _ => throw new ArgumentOutOfRangeException(nameof(name), name, "Unknown parameter component."),
            };
        }
        return new OpenApiParameterReference(name, document);
    }

    public static OpenApiSecuritySchemeReference Bearer(OpenApiDocument document)
    {
        var components = Components(document);
        components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>(StringComparer.Ordinal);
        components.SecuritySchemes.TryAdd(BearerScheme, new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            Description = "`Authorization: Bearer <token>` with either a user JWT (from `/api/v1/auth/login` or `/api/v1/auth/register`) "
                          + "or an API key (`slp_` + 43 URL-safe characters). API keys carry scopes; a JWT user has every scope and "
                          + "their workspace role decides.",
        });
        return new OpenApiSecuritySchemeReference(BearerScheme, document);
    }

    /// <summary>The error body of api-conventions.md (<see cref="Hosting.ErrorEnvelope"/>), written by hand so it reads as documented.</summary>
    public static void AddErrorSchema(OpenApiDocument document)
    {
        var components = Components(document);
        components.Schemas ??= new Dictionary<string, IOpenApiSchema>(StringComparer.Ordinal);
        components.Schemas[ErrorSchema] = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Description = "The one error shape of every non-2xx response.",
            Required = new HashSet<string>(StringComparer.Ordinal) { "error" },
            Properties = new Dictionary<string, IOpenApiSchema>(StringComparer.Ordinal)
            {
                ["error"] = new OpenApiSchema
                {
                    Type = JsonSchemaType.Object,
                    Required = new HashSet<string>(StringComparer.Ordinal) { "code", "message", "request_id" },
                    Properties = new Dictionary<string, IOpenApiSchema>(StringComparer.Ordinal)
                    {
                        ["code"] = new OpenApiSchema
                        {
                            Type = JsonSchemaType.String,
                            Description = "Stable machine-readable code: `validation_failed`, `invalid_json`, `invalid_cursor`, `unauthenticated`, "
                                          + "`forbidden`, `insufficient_scope`, `not_found`, `method_not_allowed`, `conflict`, `idempotency_conflict`, "
                                          + "`invalid_state`, `payload_too_large`, `unsupported_media_type`, `rejected`, `rate_limited`, "
                                          + "`internal_error`, `unavailable`.",
                        },
                        ["message"] = new OpenApiSchema
                        {
                            Type = JsonSchemaType.String,
                            Description = "For humans; never contains stack traces, file paths, SQL or secrets.",
                        },
                        ["request_id"] = new OpenApiSchema
                        {
                            Type = JsonSchemaType.String,
                            Description = "The `X-Request-Id` of the response, also in the server log line of the request.",
                        },
                        ["details"] = new OpenApiSchema
                        {
                            Type = JsonSchemaType.Array,
                            Description = "Present only for `validation_failed`: one entry per invalid field.",
                            Items = new OpenApiSchema
                            {
                                Type = JsonSchemaType.Object,
                                Required = new HashSet<string>(StringComparer.Ordinal) { "field", "message" },
                                Properties = new Dictionary<string, IOpenApiSchema>(StringComparer.Ordinal)
                                {
                                    ["field"] = new OpenApiSchema { Type = JsonSchemaType.String },
                                    ["message"] = new OpenApiSchema { Type = JsonSchemaType.String },
                                },
                            },
                        },
                    },
                },
            },
            Examples = [JsonNode.Parse("""
                {"error":{"code":"validation_failed","message":"The request is invalid.","request_id":"req_7f8a9b2c",
                "details":[{"field":"port","message":"must be between 1 and 65535"}]}}
                """)!],
        };
    }

    private static OpenApiComponents Components(OpenApiDocument document) => document.Components ??= new OpenApiComponents();
}
