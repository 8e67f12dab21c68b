using Slipway.Server.Auth;
using Slipway.Server.Data;
using Slipway.Server.Hosting;
using Slipway.Server.Projects;

namespace Slipway.Server.Workspaces;

/// <summary>
/// The one place that answers "may this caller see / change this?". What the caller cannot see is
/// reported as not found, so ids of other workspaces never leak.
/// </summary>
internal sealed class Access(SlipwayDb db, ProjectReadCache projects, CallerCache callers)
{

    /// <summary>The caller's effective role in a workspace, or null when it cannot see it.</summary>
    public async Task<WorkspaceRole?> RoleAsync(Caller caller, string workspaceId, CancellationToken ct)
    {
        if (caller.IsApiKey)
        {
            // Keys are minted by owners and admins; their power is bounded by their scopes.
            return caller.KeyWorkspaceId == workspaceId ? WorkspaceRole.Admin : null;
        }
        return await callers.RoleAsync(caller.UserId, workspaceId, () => db.WorkspaceMembers
            .Where(m => m.WorkspaceId == workspaceId && m.UserId == caller.UserId)
            .Select(m => (WorkspaceRole?)m.Role).FirstOrDefaultAsync(ct));
    }

    /// <summary>The workspace ids this caller can see (for list filters).</summary>
    public IQueryable<string> VisibleWorkspaceIds(Caller caller) => caller.IsApiKey
        ? db.Workspaces.Where(w => w.Id == caller.KeyWorkspaceId).Select(w => w.Id)
        : db.WorkspaceMembers.Where(m => m.UserId == caller.UserId).Select(m => m.WorkspaceId);

    /// <summary>What <see cref="VisibleProjects"/> depends on besides the database: the same text, the same projects.</summary>
    public static string VisibilityKey(Caller caller) =>
        caller.IsApiKey ? $"key:{caller.KeyWorkspaceId}:{caller.KeyProjectId}" : $"user:{caller.UserId}";

    /// <summary>Projects the caller can see: its workspaces, narrowed to one project for a restricted key.</summary>
    public IQueryable<Project> VisibleProjects(Caller caller)
    {
        // A key's one workspace as a plain equality: SQLite then walks the (workspace_id, id) index for a page.
        var projects = caller.KeyWorkspaceId is { } keyWorkspace
            ? db.Projects.Where(p => p.WorkspaceId == keyWorkspace)
            : db.Projects.Where(p => VisibleWorkspaceIds(caller).Contains(p.WorkspaceId));
        return caller.KeyProjectId is { } only ? projects.Where(p => p.Id == only) : projects;
    }

    /// <summary>
    /// The row of <paramref name="rows"/> with this id when it belongs to a project the caller can see; else 404 naming
    /// <paramref name="resource"/> (a row of another workspace is as absent as one that does not exist).
    /// </summary>
    public async Task<T> VisibleAsync<T>(IQueryable<T> rows, Caller caller, string id, string resource, CancellationToken ct)
        where T : class, IHasId, IProjectOwned
    {
        var visible = VisibleProjects(caller).Select(p => p.Id);
        return (Ids.IsValid(id) ? await rows.FirstOrDefaultAsync(r => r.Id == id && visible.Contains(r.ProjectId), ct) : null)
               ?? throw ApiException.NotFound(resource, id);
    }

    public async Task<WorkspaceRole> RequireRoleAsync(Caller caller, string workspaceId, Need need, CancellationToken ct)
    {
        if (caller.KeyProjectId is not null && need != Need.Read)
        {
            throw ApiException.Forbidden("This API key is restricted to one project.");
        }
        var role = await RoleAsync(caller, workspaceId, ct) ?? throw ApiException.NotFound("Workspace", workspaceId);
        Demand(role, need);
        return role;
    }

    /// <summary>
    /// A <c>?workspace_id=</c> filter on a list: 404 when the caller cannot see that workspace (like any foreign filter),
    /// 403 for a project-restricted key, which reads nothing at workspace level (the same answer for any id).
    /// </summary>
    public async Task RequireWorkspaceReadAsync(Caller caller, string workspaceId, CancellationToken ct)
    {
        if (caller.KeyProjectId is not null) throw ApiException.Forbidden("This API key is restricted to one project.");
        _ = await RoleAsync(caller, workspaceId, ct) ?? throw ApiException.NotFound("Workspace", workspaceId);
    }

    /// <summary>
    /// Loads a project the caller can see (404 otherwise) and checks the role the action needs. <paramref name="projectId"/>
    /// is the project's id or its name (Vercel's <c>idOrName</c>): names are unique in the instance, and a name the caller
    /// cannot see is as unknown as such an id.
    /// </summary>
    public async Task<(Project Project, WorkspaceRole Role)> ProjectAsync(Caller caller, string? projectId, Need need, CancellationToken ct,
        string field = "project_id")
    {
        if (string.IsNullOrEmpty(projectId)) throw ApiException.Validation(field, "is required");
        var id = Ids.IsValid(projectId) ? projectId : await db.Projects.Where(p => p.Name == projectId).Select(p => p.Id).FirstOrDefaultAsync(ct);
        var project = id is not null && (caller.KeyProjectId is null || caller.KeyProjectId == id)
            ? (await projects.GetAsync(db, id, ct))?.Project.Copy()
            : null;
        var role = project is null ? null : await RoleAsync(caller, project.WorkspaceId, ct);
        if (project is null || role is null) throw ApiException.NotFound("Project", projectId);
        Demand(role.Value, need);
        return (project, role.Value);
    }

    public static void Demand(WorkspaceRole role, Need need)
    {
        var allowed = need switch
        {
            Need.Read => true,
            Need.Write => role is WorkspaceRole.Owner or WorkspaceRole.Admin or WorkspaceRole.Developer,
            Need.Manage => role is WorkspaceRole.Owner or WorkspaceRole.Admin,
            Need.Own => role is WorkspaceRole.Owner,
            _ => false,
        };
        if (!allowed)
        {
            throw ApiException.Forbidden(need switch
            {
                Need.Write => "Viewers have read-only access to this workspace.",
                Need.Manage => "Only owners and admins can do this.",
                _ => "Only owners can do this.",
            });
        }
    }
}

internal enum Need
{
    Read,
    Write,
    Manage,
    Own,
}
