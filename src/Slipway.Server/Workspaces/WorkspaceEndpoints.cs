using Slipway.Server.ApiKeys;
using Slipway.Server.Auth;
using Slipway.Server.Data;
using Slipway.Server.Hosting;

namespace Slipway.Server.Workspaces;

internal sealed record CreateWorkspaceRequest(string? Name);

/// <summary>Both fields optional; <c>tier</c> is for the instance administrator only.</summary>
internal sealed record UpdateWorkspaceRequest(string? Name, string? Tier);

/// <summary><c>role</c> is the caller's role (an API key acts as <c>admin</c>); null for an instance administrator who is not a member.</summary>
internal sealed record WorkspaceResponse(string Id, string Name, RateLimitTier Tier, bool IsPersonal, WorkspaceRole? Role, DateTime CreatedAt,
    DateTime UpdatedAt)
{
    public static WorkspaceResponse From(Workspace w, WorkspaceRole? role) => new(w.Id, w.Name, w.Tier, w.IsPersonal, role, w.CreatedAt, w.UpdatedAt);
}

/// <summary>The rules for workspace names, shared by create and rename.</summary>
internal static class WorkspaceRules
{
    public const string NameProblem = "must be 1 to 100 characters without control characters";

    public static bool IsName(string? name) => name is null || name.Trim().Length is > 0 and <= 100 && !Validator.HasControlChars(name);

    public static RateLimitTier? ParseTier(string? tier) => tier switch
    {
        "standard" => RateLimitTier.Standard,
        "enterprise" => RateLimitTier.Enterprise,
        _ => null,
    };
}

internal static class WorkspaceEndpoints
{
    public static IEndpointRouteBuilder MapWorkspaceEndpoints(this IEndpointRouteBuilder app)
    {
        var workspaces = app.MapGroup("/api/v1/workspaces").WithTags("Workspaces");
        // An API key not restricted to a project may read its own workspace; everything else is account management,
        // for signed-in users only.
        workspaces.MapGet("/", ListAsync).RequireScope(Scopes.ProjectsRead);
        workspaces.MapPost("/", CreateAsync).RequireScope(Scopes.UserSession);
        workspaces.MapGet("/{id}", GetAsync).RequireScope(Scopes.ProjectsRead);
        workspaces.MapPatch("/{id}", UpdateAsync).RequireScope(Scopes.UserSession);
        app.MapMemberEndpoints();
        app.MapInvitationEndpoints();
        return app;
    }

    private static async Task<Page<WorkspaceResponse>> ListAsync(Caller caller, Access access, SlipwayDb db, PageQuery page, CancellationToken ct)
    {
        RefuseProjectKey(caller);
        var visible = access.VisibleWorkspaceIds(caller);
        var rows = await db.Workspaces.Where(w => visible.Contains(w.Id)).ToPageAsync(page, w => w, ct);
        var ids = rows.Data.Select(w => w.Id).ToList();
        var roles = caller.IsApiKey
            ? ids.ToDictionary(id => id, _ => WorkspaceRole.Admin)
            : await db.WorkspaceMembers.Where(m => m.UserId == caller.UserId && ids.Contains(m.WorkspaceId))
                .ToDictionaryAsync(m => m.WorkspaceId, m => m.Role, ct);
        return new Page<WorkspaceResponse>(rows.Data.Select(w => WorkspaceResponse.From(w, roles[w.Id])).ToList(), rows.NextCursor);
    }

    private static async Task<Created<WorkspaceResponse>> CreateAsync(CreateWorkspaceRequest body, Caller caller, SlipwayDb db, CallerCache callers,
        TimeProvider time, CancellationToken ct)
    {
        new Validator().Required(body.Name, "name").Check(WorkspaceRules.IsName(body.Name), "name", WorkspaceRules.NameProblem).ThrowIfInvalid();
        var now = time.UtcNowMs();
        var workspace = new Workspace { Id = Ids.New(time), Name = body.Name!.Trim(), CreatedAt = now, UpdatedAt = now };
        db.Workspaces.Add(workspace);
        db.WorkspaceMembers.Add(new WorkspaceMember { WorkspaceId = workspace.Id, UserId = caller.UserId, Role = WorkspaceRole.Owner, CreatedAt = now });
        await db.SaveChangesAsync(ct);
        callers.Forget();
        return TypedResults.Created($"/api/v1/workspaces/{workspace.Id}", WorkspaceResponse.From(workspace, WorkspaceRole.Owner));
    }

    private static async Task<WorkspaceResponse> GetAsync(string id, Caller caller, Access access, SlipwayDb db, CancellationToken ct)
    {
        RefuseProjectKey(caller);
        var role = await access.RequireRoleAsync(caller, id, Need.Read, ct);
        return WorkspaceResponse.From(await FindAsync(db, id, ct), role);
    }

    private static async Task<WorkspaceResponse> UpdateAsync(string id, UpdateWorkspaceRequest body, Caller caller, Access access, SlipwayDb db,
        ApiKeyAuthenticator keys, CallerCache callers, TimeProvider time, CancellationToken ct)
    {
        var tier = WorkspaceRules.ParseTier(body.Tier);
        new Validator()
            .Check(WorkspaceRules.IsName(body.Name), "name", WorkspaceRules.NameProblem)
            .Check(body.Tier is null || tier is not null, "tier", "must be one of standard, enterprise")
            .ThrowIfInvalid();
        // The instance administrator sets tiers on any workspace (that is how an operator upgrades a customer);
        // everyone else must be a member to learn the workspace exists at all.
        var role = await access.RoleAsync(caller, id, ct);
        if (role is null && !caller.IsInstanceAdmin) throw ApiException.NotFound("Workspace", id);
        var workspace = await FindAsync(db, id, ct);
        if (tier is not null && !caller.IsInstanceAdmin)
        {
            throw ApiException.Forbidden("Only the instance administrator can change a workspace's tier.");
        }
        if (body.Name is not null)
        {
            if (role is null) throw ApiException.Forbidden("Only owners and admins can do this.");
            Access.Demand(role.Value, Need.Manage);
            workspace.Name = body.Name.Trim();
        }
        workspace.Tier = tier ?? workspace.Tier;
        workspace.UpdatedAt = time.UtcNowMs();
        db.Workspaces.Update(workspace);
        await db.SaveChangesAsync(ct);
        // Cached API keys and user sessions carry their workspace's rate-limit tier.
        if (tier is not null)
        {
            keys.Forget();
            callers.Forget();
        }
        return WorkspaceResponse.From(workspace, role);
    }

    /// <summary>A key restricted to a project sees only that project, not the workspace around it (the same answer for any id).</summary>
    private static void RefuseProjectKey(Caller caller)
    {
        if (caller.KeyProjectId is not null) throw ApiException.Forbidden("This API key is restricted to one project.");
    }

    internal static async Task<Workspace> FindAsync(SlipwayDb db, string id, CancellationToken ct) =>
        (Ids.IsValid(id) ? await db.Workspaces.FirstOrDefaultAsync(w => w.Id == id, ct) : null)
        ?? throw ApiException.NotFound("Workspace", id);
}
