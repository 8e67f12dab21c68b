using System.Globalization;
using Microsoft.AspNetCore.Mvc;
using Slipway.Server.Auth;
using Slipway.Server.Data;
using Slipway.Server.Hosting;
using Slipway.Server.Workspaces;

namespace Slipway.Server.ApiKeys;

internal sealed record CreateApiKeyRequest(string? Name, IReadOnlyList<string?>? Scopes, string? WorkspaceId, string? ProjectId, string? ExpiresAt);

/// <summary>What anyone may see about a key: never the key itself nor its hash.</summary>
internal sealed record ApiKeyResponse(string Id, string Name, string Prefix, IReadOnlyList<string> Scopes, string WorkspaceId, string? ProjectId,
    string CreatedBy, DateTime CreatedAt, DateTime? LastUsedAt, DateTime? ExpiresAt)
{
    public static ApiKeyResponse From(ApiKey k) => new(k.Id, k.Name, k.Prefix, SplitScopes(k.Scopes), k.WorkspaceId, k.ProjectId, k.CreatedBy,
        k.CreatedAt, k.LastUsedAt, k.ExpiresAt);

    public static IReadOnlyList<string> SplitScopes(string scopes) => scopes.Split(' ', StringSplitOptions.RemoveEmptyEntries);
}

/// <summary>The creation response: the list fields plus the full <c>key</c>, shown this once.</summary>
internal sealed record CreatedApiKeyResponse(string Id, string Name, string Prefix, IReadOnlyList<string> Scopes, string WorkspaceId,
    string? ProjectId, string CreatedBy, DateTime CreatedAt, DateTime? LastUsedAt, DateTime? ExpiresAt, string Key);

internal static class ApiKeyEndpoints
{
    private const int PrefixLength = 12;

    public static WebApplicationBuilder AddApiKeys(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<ApiKeyAuthenticator>();
        return builder;
    }

    public static IEndpointRouteBuilder MapApiKeyEndpoints(this IEndpointRouteBuilder app)
    {
        var keys = app.MapGroup("/api/v1/api-keys").WithTags("API keys").RequireScope(Scopes.KeysWrite);
        keys.MapPost("/", CreateAsync);
        keys.MapGet("/", ListAsync);
        keys.MapDelete("/{id}", RevokeAsync);
        return app;
    }

    private static async Task<Created<CreatedApiKeyResponse>> CreateAsync(CreateApiKeyRequest body, Caller caller, Access access, SlipwayDb db,
        ApiKeyAuthenticator authenticator, TimeProvider time, CancellationToken ct)
    {
        var now = time.UtcNowMs();
        var expiresAt = ParseTimestamp(body.ExpiresAt);
        var scopes = body.Scopes?.Where(s => s is not null).Select(s => s!).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        new Validator()
            .Required(body.Name, "name")
            .Check(body.Name is null || body.Name.Trim().Length is > 0 and <= 100 && !Validator.HasControlChars(body.Name), "name",
                "must be 1 to 100 characters without control characters")
            .Check(body.Scopes is { Count: > 0 }, "scopes", "must be a non-empty list of scopes")
            .Check(body.Scopes is null || body.Scopes.All(s => s is not null && Scopes.Known.Contains(s)), "scopes",
                "must contain only known scopes: " + string.Join(", ", Scopes.Known.Order(StringComparer.Ordinal)))
            .Check(body.WorkspaceId is null || Ids.IsValid(body.WorkspaceId), "workspace_id", "must be a workspace id")
            .Check(body.ExpiresAt is null || expiresAt is not null, "expires_at", "must be an ISO 8601 timestamp")
            .Check(expiresAt is null || expiresAt > now, "expires_at", "must be in the future")
            .ThrowIfInvalid();

        // project_id is an id or a name, resolved among the projects the caller can see (404 otherwise, also for a
        // project-restricted key naming another project).
        var project = body.ProjectId is null ? null : (await access.ProjectAsync(caller, body.ProjectId, Need.Read, ct)).Project;
        var workspaceId = caller.IsApiKey
            ? KeyMayMint(caller, body.WorkspaceId, project?.Id, scopes!, expiresAt)
            : await UserWorkspaceAsync(caller, access, db, body.WorkspaceId ?? project?.WorkspaceId, ct);
        if (project is not null && project.WorkspaceId != workspaceId)
        {
            throw ApiException.Validation("project_id", "must be a project in the key's workspace");
        }

        var key = ApiKeyAuthenticator.NewKey();
        var row = new ApiKey
        {
            Id = Ids.New(time), WorkspaceId = workspaceId, ProjectId = project?.Id, Name = body.Name!.Trim(), Prefix = key[..PrefixLength],
            KeyHash = ApiKeyAuthenticator.Hash(key), Scopes = string.Join(' ', scopes!), CreatedBy = caller.UserId, CreatedAt = now,
            ExpiresAt = expiresAt,
        };
        db.ApiKeys.Add(row);
        await db.SaveChangesAsync(ct);
        authenticator.Forget();
        var r = ApiKeyResponse.From(row);
        return TypedResults.Created($"/api/v1/api-keys/{row.Id}", new CreatedApiKeyResponse(r.Id, r.Name, r.Prefix, r.Scopes, r.WorkspaceId,
            r.ProjectId, r.CreatedBy, r.CreatedAt, r.LastUsedAt, r.ExpiresAt, key));
    }

    /// <summary>
    /// A key may mint keys no stronger than itself: same workspace, a subset of its scopes, its own project if it has one,
    /// and an expiry no later than its own. Returns the workspace of the new key.
    /// </summary>
    private static string KeyMayMint(Caller caller, string? workspaceId, string? projectId, IReadOnlyList<string> scopes, DateTime? expiresAt)
    {
        if (workspaceId is not null && workspaceId != caller.KeyWorkspaceId)
        {
            throw ApiException.Forbidden("An API key can only create keys in its own workspace.");
        }
        if (caller.KeyProjectId is not null && projectId != caller.KeyProjectId)
        {
            throw ApiException.Forbidden("This API key is restricted to one project; keys it creates must be restricted to the same project.");
        }
        var own = caller.KeyScopes!;
        if (!own.Contains(Scopes.All) && scopes.Any(s => !own.Contains(s)))
        {
            throw ApiException.Forbidden("An API key can only grant scopes it has itself.");
        }
        if (caller.KeyExpiresAt is { } limit && (expiresAt is null || expiresAt > limit))
        {
            throw ApiException.Forbidden("A key created by an expiring API key must expire no later than that key.");
        }
        return caller.KeyWorkspaceId!;
    }

    /// <summary>The workspace a user's new key belongs to, which the user must own or administer.</summary>
    private static async Task<string> UserWorkspaceAsync(Caller caller, Access access, SlipwayDb db, string? workspaceId, CancellationToken ct)
    {
        workspaceId ??= await (from m in db.WorkspaceMembers
                               join w in db.Workspaces on m.WorkspaceId equals w.Id
                               where m.UserId == caller.UserId && m.Role == WorkspaceRole.Owner
                               orderby w.IsPersonal descending, w.Id
                               select w.Id).FirstOrDefaultAsync(ct)
                        ?? throw ApiException.Validation("workspace_id", "is required: you own no workspace");
        await access.RequireRoleAsync(caller, workspaceId, Need.Manage, ct);
        return workspaceId;
    }

    /// <summary>Active keys (revoked ones are gone for good): a user sees the keys of every workspace it owns or administers.</summary>
    private static async Task<Page<ApiKeyResponse>> ListAsync(Caller caller, Access access, SlipwayDb db, PageQuery page,
        [FromQuery(Name = "workspace_id")] string? workspaceId, CancellationToken ct)
    {
        var query = db.ApiKeys.Where(k => k.RevokedAt == null);
        if (caller.IsApiKey)
        {
            if (workspaceId is not null) await access.RequireWorkspaceReadAsync(caller, workspaceId, ct);
            query = query.Where(k => k.WorkspaceId == caller.KeyWorkspaceId);
            if (caller.KeyProjectId is { } only) query = query.Where(k => k.ProjectId == only);
        }
        else if (workspaceId is not null)
        {
            await access.RequireRoleAsync(caller, workspaceId, Need.Manage, ct);
            query = query.Where(k => k.WorkspaceId == workspaceId);
        }
        else
        {
            var managed = db.WorkspaceMembers
                .Where(m => m.UserId == caller.UserId && (m.Role == WorkspaceRole.Owner || m.Role == WorkspaceRole.Admin))
                .Select(m => m.WorkspaceId);
            query = query.Where(k => managed.Contains(k.WorkspaceId));
        }
        return await query.ToPageAsync(page, ApiKeyResponse.From, ct);
    }

    private static async Task<NoContent> RevokeAsync(string id, Caller caller, Access access, SlipwayDb db, ApiKeyAuthenticator authenticator,
        TimeProvider time, CancellationToken ct)
    {
        var key = (Ids.IsValid(id) ? await db.ApiKeys.FirstOrDefaultAsync(k => k.Id == id && k.RevokedAt == null, ct) : null)
                  ?? throw ApiException.NotFound("API key", id);
        if (caller.IsApiKey)
        {
            if (key.WorkspaceId != caller.KeyWorkspaceId || (caller.KeyProjectId is { } only && key.ProjectId != only))
            {
                throw ApiException.NotFound("API key", id);
            }
        }
        else
        {
            var role = await access.RoleAsync(caller, key.WorkspaceId, ct) ?? throw ApiException.NotFound("API key", id);
            Access.Demand(role, Need.Manage);
        }
        var now = time.UtcNowMs();
        await db.ApiKeys.Where(k => k.Id == key.Id && k.RevokedAt == null).ExecuteUpdateAsync(s => s.SetProperty(k => k.RevokedAt, now), ct);
        authenticator.Forget();
        return TypedResults.NoContent();
    }

    private static DateTime? ParseTimestamp(string? text) =>
        text is not null && text.Length <= 64 && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed)
            ? TruncateToMs(parsed.UtcDateTime)
            : null;

    private static DateTime TruncateToMs(DateTime value) => new(value.Ticks - (value.Ticks % TimeSpan.TicksPerMillisecond), DateTimeKind.Utc);
}
