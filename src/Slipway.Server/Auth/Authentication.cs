using Slipway.Server.ApiKeys;
using Slipway.Server.Data;
using Slipway.Server.Hosting;
using Slipway.Server.Workspaces;

namespace Slipway.Server.Auth;

/// <summary>
/// Runs after routing and before body binding: every endpoint declares a <see cref="RequiredScope"/> or is
/// <see cref="Anonymous"/>, so credentials are checked first and an undeclared endpoint fails closed.
/// Two steps with the rate limiter between them: <see cref="UseSlipwayAuthentication"/> says who is calling (401),
/// <see cref="UseRequiredScopes"/> whether the caller may call this endpoint (403), so a refused scope still counts
/// against the caller's bucket and carries its rate-limit headers.
/// </summary>
internal static class Authentication
{
    public static IApplicationBuilder UseSlipwayAuthentication(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        if (Required(context) is { } required)
        {
            var caller = required.Endpoint.Metadata.GetMetadata<KeyInBody>() is not null && context.Request.Headers.Authorization.Count == 0
                ? await KeyInBody.FromJsonAsync(context)
                : await AuthenticateAsync(context, required.Endpoint.Metadata.GetMetadata<QueryToken>()?.Allows(context.Request) == true);
            caller?.Attach(context);
        }
        await next(context);
    });

    public static IApplicationBuilder UseRequiredScopes(this IApplicationBuilder app) => app.Use((context, next) =>
    {
        if (Required(context) is { } required)
        {
            // A key in a multipart body is checked by its handler, scope included (see KeyInBody).
            var caller = Caller.Find(context);
            if (caller is null && required.Endpoint.Metadata.GetMetadata<KeyInBody>() is not null) return next(context);
            if (caller is null) throw new InvalidOperationException("UseRequiredScopes runs after UseSlipwayAuthentication.");
            if (!caller.HasScope(required.Scope.Scope))
            {
                throw required.Scope.Scope == Scopes.UserSession
                    ? ApiException.Forbidden("This endpoint needs a signed-in user; API keys cannot call it.")
                    : ApiException.InsufficientScope(required.Scope.Scope);
            }
        }
        return next(context);
    });

    /// <summary>The scope the endpoint needs, or null for framework endpoints (the 405 one has no HTTP method metadata) and anonymous ones.</summary>
    private static (Endpoint Endpoint, RequiredScope Scope)? Required(HttpContext context)
    {
        var endpoint = context.GetEndpoint();
        if (endpoint is null || endpoint.Metadata.GetMetadata<Anonymous>() is not null
            || (endpoint.Metadata.GetMetadata<RequiredScope>() is null && endpoint.Metadata.GetMetadata<HttpMethodMetadata>() is null))
        {
            return null;
        }
        return (endpoint, endpoint.Metadata.GetMetadata<RequiredScope>()
                          ?? throw new InvalidOperationException($"Endpoint '{endpoint.DisplayName}' declares neither a scope nor Anonymous."));
    }

    private static async Task<Caller> AuthenticateAsync(HttpContext context, bool queryTokenAllowed)
    {
        var header = context.Request.Headers.Authorization.ToString();
        if (header.Length == 0 && queryTokenAllowed && context.Request.Query["token"].ToString() is { Length: > 0 } queryToken)
        {
            header = "Bearer " + queryToken;
        }
        if (header.Length == 0) throw ApiException.Unauthenticated("Send 'Authorization: Bearer <token or API key>'.");
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || header.Length > 4096)
        {
            throw ApiException.Unauthenticated("The Authorization header must be 'Bearer <token or API key>'.");
        }
        return await AuthenticateTokenAsync(context.RequestServices, header[7..].Trim(), context.RequestAborted);
    }

    /// <summary>
    /// A bearer token (JWT or API key) as a caller, or 401 with the reason. Also used where the token does not come in
    /// an Authorization header (the Socket.IO handshake); <paramref name="services"/> must be a scope (it needs the database).
    /// </summary>
    public static async Task<Caller> AuthenticateTokenAsync(IServiceProvider services, string token, CancellationToken ct)
    {
        if (token.Length is 0 or > 4096) throw ApiException.Unauthenticated("Send a token or API key.");
        if (token.StartsWith(ApiKeyAuthenticator.Prefix, StringComparison.Ordinal))
        {
            return await services.GetRequiredService<ApiKeyAuthenticator>().AuthenticateAsync(token, ct)
                   ?? throw ApiException.Unauthenticated("The API key is invalid, expired or revoked.");
        }
        var claims = await services.GetRequiredService<JwtTokens>().ValidateAsync(token)
                     ?? throw ApiException.Unauthenticated("The token is invalid or expired.");
        var user = await services.GetRequiredService<CallerCache>().UserAsync(claims.UserId, async () =>
        {
            var db = services.GetRequiredService<SlipwayDb>();
            // The rate-limit tier rides along in the same query: the highest tier among the user's workspaces.
            var row = await db.Users.Where(u => u.Id == claims.UserId).Select(u => new
                {
                    u.TokenVersion,
                    u.IsAdmin,
                    Disabled = u.DisabledAt != null,
                    Enterprise = db.WorkspaceMembers.Any(m => m.UserId == u.Id
                                                              && db.Workspaces.Any(w => w.Id == m.WorkspaceId && w.Tier == RateLimitTier.Enterprise)),
                })
                .FirstOrDefaultAsync(ct);
            return row is null ? null
                : new CallerCache.UserState(row.TokenVersion, row.IsAdmin, row.Disabled, row.Enterprise ? RateLimitTier.Enterprise : RateLimitTier.Standard);
        });
        if (user is null || user.TokenVersion != claims.Version)
        {
            throw ApiException.Unauthenticated("The token is no longer valid; sign in again.");
        }
        if (user.Disabled) throw ApiException.Unauthenticated(AuthEndpoints.AccountDisabled);
        return new Caller(claims.UserId, user.IsAdmin, Tier: user.Tier);
    }
}
