using System.Reflection;
using Slipway.Server.Hosting;
using Slipway.Server.Workspaces;

namespace Slipway.Server.Auth;

/// <summary>
/// Who sent the request: a signed-in user (JWT: every scope, power from workspace roles) or an API key
/// (one workspace, optionally one project, exactly its scopes). Resolved once by <see cref="Authentication"/>.
/// <see cref="Tier"/> sizes the caller's rate-limit bucket: a key's workspace tier; for a user the highest tier among
/// their workspaces (a session is not bound to one workspace, and membership of an enterprise workspace should not
/// leave its people on the standard budget).
/// </summary>
internal sealed record Caller(
    string UserId,
    bool IsInstanceAdmin,
    string? ApiKeyId = null,
    string? KeyWorkspaceId = null,
    string? KeyProjectId = null,
    IReadOnlySet<string>? KeyScopes = null,
    DateTime? KeyExpiresAt = null,
    RateLimitTier Tier = RateLimitTier.Standard)
{
    private static readonly object ItemKey = new();

    public bool IsApiKey => ApiKeyId is not null;

    /// <summary>The identity that owns idempotency keys and rate-limit buckets.</summary>
    public string Id => ApiKeyId ?? UserId;

    public bool HasScope(string scope) => KeyScopes switch
    {
        null => true,
        _ when scope == Scopes.UserSession => false,
        _ => KeyScopes.Contains(Scopes.All) || KeyScopes.Contains(scope),
    };

    internal static Caller? Find(HttpContext context) => context.Items.TryGetValue(ItemKey, out var c) ? c as Caller : null;

    internal void Attach(HttpContext context) => context.Items[ItemKey] = this;

    public static ValueTask<Caller> BindAsync(HttpContext context, ParameterInfo parameter)
    {
        _ = parameter;
        return ValueTask.FromResult(Find(context) ?? throw ApiException.Unauthenticated());
    }
}

/// <summary>Endpoint metadata: the scope an operation needs (read by the auth middleware and the OpenAPI document).</summary>
internal sealed record RequiredScope(string Scope);

/// <summary>
/// Endpoint metadata: the token may come as <c>?token=</c> (WebSocket, EventSource cannot set headers); on an endpoint that
/// also answers plain pages, only when it streams (<c>?follow=true</c>).
/// </summary>
internal sealed record QueryToken(bool FollowOnly)
{
    public bool Allows(HttpRequest request) =>
        !FollowOnly || string.Equals(request.Query["follow"], "true", StringComparison.OrdinalIgnoreCase);
}

/// <summary>Endpoint metadata: no credentials needed.</summary>
internal sealed record Anonymous;

internal static class ScopeConventions
{
    public static TBuilder RequireScope<TBuilder>(this TBuilder builder, string scope) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new RequiredScope(scope));

    public static TBuilder AllowQueryToken<TBuilder>(this TBuilder builder, bool followOnly = false) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new QueryToken(followOnly));

    public static TBuilder Anonymous<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new Anonymous());
}
