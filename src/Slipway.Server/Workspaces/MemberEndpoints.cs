using Slipway.Server.ApiKeys;
using Slipway.Server.Auth;
using Slipway.Server.Data;
using Slipway.Server.Hosting;

namespace Slipway.Server.Workspaces;

internal sealed record AddMemberRequest(string? Email, string? Role);

internal sealed record UpdateMemberRequest(string? Role);

internal sealed record MemberResponse(string UserId, string Email, string Name, WorkspaceRole Role, DateTime CreatedAt);

/// <summary>
/// Membership management. Only owners and admins manage members, only owners grant or take away the owner role,
/// a workspace always keeps one owner, and anyone may leave. Losing the power to manage keys (removal, or a demotion
/// to developer or viewer) revokes the keys that member minted in the workspace, since keys act as admins.
/// </summary>
internal static class MemberEndpoints
{
    internal const string RoleProblem = "must be one of owner, admin, developer, viewer";

    public static IEndpointRouteBuilder MapMemberEndpoints(this IEndpointRouteBuilder app)
    {
        var members = app.MapGroup("/api/v1/workspaces/{id}/members").WithTags("Workspaces").RequireScope(Scopes.UserSession);
        members.MapGet("/", ListAsync);
        members.MapPost("/", AddAsync);
        members.MapPatch("/{userId}", UpdateAsync);
        members.MapDelete("/{userId}", RemoveAsync);
        return app;
    }

    /// <summary>Paged by user id: the newest account first.</summary>
    private static async Task<Page<MemberResponse>> ListAsync(string id, Caller caller, Access access, SlipwayDb db, PageQuery page,
        CancellationToken ct)
    {
        await access.RequireRoleAsync(caller, id, Need.Read, ct);
        var users = await db.Users.Where(u => db.WorkspaceMembers.Any(m => m.WorkspaceId == id && m.UserId == u.Id)).ToPageAsync(page, u => u, ct);
        var ids = users.Data.Select(u => u.Id).ToList();
        var members = await db.WorkspaceMembers.Where(m => m.WorkspaceId == id && ids.Contains(m.UserId)).ToDictionaryAsync(m => m.UserId, ct);
        return new Page<MemberResponse>(users.Data.Select(u => Response(u, members[u.Id])).ToList(), users.NextCursor);
    }

    private static async Task<Created<MemberResponse>> AddAsync(string id, AddMemberRequest body, Caller caller, Access access, SlipwayDb db,
        CallerCache callers, TimeProvider time, CancellationToken ct)
    {
        var role = ParseRole(body.Role);
        new Validator()
            .Required(body.Email, "email").MaxLength(body.Email, 320, "email")
            .Required(body.Role, "role").Check(body.Role is null || role is not null, "role", RoleProblem)
            .ThrowIfInvalid();
        var callerRole = await access.RequireRoleAsync(caller, id, Need.Manage, ct);
        if (role == WorkspaceRole.Owner) Access.Demand(callerRole, Need.Own);

        var normalized = body.Email!.Trim().ToLowerInvariant();
        var user = await db.Users.FirstOrDefaultAsync(u => u.EmailNormalized == normalized, ct)
                   ?? throw ApiException.NotFound("No account uses this email; the person must register first.");
        if (await db.WorkspaceMembers.AnyAsync(m => m.WorkspaceId == id && m.UserId == user.Id, ct)) throw AlreadyMember();
        var member = new WorkspaceMember { WorkspaceId = id, UserId = user.Id, Role = role!.Value, CreatedAt = time.UtcNowMs() };
        db.WorkspaceMembers.Add(member);
        await db.SaveUniqueAsync(AlreadyMember().Message, ct);
        callers.Forget();
        return TypedResults.Created($"/api/v1/workspaces/{id}/members/{user.Id}", Response(user, member));
    }

    private static async Task<MemberResponse> UpdateAsync(string id, string userId, UpdateMemberRequest body, Caller caller, Access access,
        SlipwayDb db, ApiKeyAuthenticator keys, CallerCache callers, TimeProvider time, CancellationToken ct)
    {
        var role = ParseRole(body.Role);
        new Validator().Required(body.Role, "role").Check(body.Role is null || role is not null, "role", RoleProblem).ThrowIfInvalid();
        var callerRole = await access.RequireRoleAsync(caller, id, Need.Manage, ct);
        var member = await FindAsync(db, id, userId, ct);
        var user = await db.Users.FirstAsync(u => u.Id == userId, ct);
        if (member.Role == role) return Response(user, member);
        if (member.Role == WorkspaceRole.Owner || role == WorkspaceRole.Owner) Access.Demand(callerRole, Need.Own);

        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var demotingOwner = member.Role == WorkspaceRole.Owner;
        var changed = await db.WorkspaceMembers
            .Where(m => m.WorkspaceId == id && m.UserId == userId && m.Role == member.Role)
            .Where(m => !demotingOwner || db.WorkspaceMembers.Count(o => o.WorkspaceId == id && o.Role == WorkspaceRole.Owner) > 1)
            .ExecuteUpdateAsync(s => s.SetProperty(m => m.Role, role!.Value), ct);
        if (changed == 0) throw demotingOwner ? LastOwner() : ApiException.Conflict("The member's role changed meanwhile; read it and retry.");
        var revoked = role is WorkspaceRole.Developer or WorkspaceRole.Viewer && await RevokeKeysAsync(db, id, userId, time, ct);
        await tx.CommitAsync(ct);
        callers.Forget();
        if (revoked) keys.Forget();
        member.Role = role!.Value;
        return Response(user, member);
    }

    private static async Task<NoContent> RemoveAsync(string id, string userId, Caller caller, Access access, SlipwayDb db, ApiKeyAuthenticator keys,
        CallerCache callers, TimeProvider time, CancellationToken ct)
    {
        var callerRole = await access.RequireRoleAsync(caller, id, Need.Read, ct);
        var member = await FindAsync(db, id, userId, ct);
        if (userId != caller.UserId)
        {
            Access.Demand(callerRole, member.Role == WorkspaceRole.Owner ? Need.Own : Need.Manage);
        }

        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var removingOwner = member.Role == WorkspaceRole.Owner;
        var removed = await db.WorkspaceMembers
            .Where(m => m.WorkspaceId == id && m.UserId == userId)
            .Where(m => !removingOwner || db.WorkspaceMembers.Count(o => o.WorkspaceId == id && o.Role == WorkspaceRole.Owner) > 1)
            .ExecuteDeleteAsync(ct);
        if (removed == 0) throw removingOwner ? LastOwner() : ApiException.NotFound("Member", userId);
        var revoked = await RevokeKeysAsync(db, id, userId, time, ct);
        await tx.CommitAsync(ct);
        callers.Forget();
        if (revoked) keys.Forget();
        return TypedResults.NoContent();
    }

    private static async Task<bool> RevokeKeysAsync(SlipwayDb db, string workspaceId, string userId, TimeProvider time, CancellationToken ct)
    {
        var now = time.UtcNowMs();
        return await db.ApiKeys.Where(k => k.WorkspaceId == workspaceId && k.CreatedBy == userId && k.RevokedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(k => k.RevokedAt, now), ct) > 0;
    }

    private static async Task<WorkspaceMember> FindAsync(SlipwayDb db, string workspaceId, string userId, CancellationToken ct) =>
        await db.WorkspaceMembers.FirstOrDefaultAsync(m => m.WorkspaceId == workspaceId && m.UserId == userId, ct)
        ?? throw ApiException.NotFound("Member", userId);

    internal static WorkspaceRole? ParseRole(string? role) => role switch
    {
        "owner" => WorkspaceRole.Owner,
        "admin" => WorkspaceRole.Admin,
        "developer" => WorkspaceRole.Developer,
        "viewer" => WorkspaceRole.Viewer,
        _ => null,
    };

    private static MemberResponse Response(User user, WorkspaceMember member) => new(user.Id, user.Email, user.Name, member.Role, member.CreatedAt);

    private static ApiException AlreadyMember() => ApiException.Conflict("This person is already a member of the workspace.");

    private static ApiException LastOwner() =>
        ApiException.Conflict("A workspace must keep at least one owner: make someone else owner first.");
}
