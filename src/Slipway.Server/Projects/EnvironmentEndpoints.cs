using Slipway.Server.Auth;
using Slipway.Server.Data;
using Slipway.Server.Deployments;
using Slipway.Server.Hosting;
using Slipway.Server.OpenApi;
using Slipway.Server.Runtime;
using Slipway.Server.Runtime.Cgroups;
using Slipway.Server.Workspaces;

namespace Slipway.Server.Projects;

internal sealed record CreateEnvironmentRequest(string? Name, string? Branch, string? BuildCommand, string? StartCommand, bool? AutoDeploy,
    ResourcesRequest? Resources);

/// <summary>Every field optional; an empty string clears an override (the project's value applies again), and so does 0 in <c>resources</c>.</summary>
internal sealed record UpdateEnvironmentRequest(string? Name, string? Branch, string? BuildCommand, string? StartCommand, bool? AutoDeploy,
    ResourcesRequest? Resources);

/// <summary>
/// <c>branch</c>, <c>build_command</c>, <c>start_command</c>, <c>auto_deploy</c>, <c>resources</c> are this environment's
/// overrides (null: the project's); <c>effective_resources</c> are the limits its builds and releases run with.
/// </summary>
internal sealed record EnvironmentResponse(
    string Id, string ProjectId, string Name, string? Branch, string? BuildCommand, string? StartCommand, bool? AutoDeploy,
    ResourceOverridesResponse Resources, string? EffectiveBranch, bool EffectiveAutoDeploy, ResourcesResponse EffectiveResources,
    string? LiveDeploymentId, DateTime CreatedAt, DateTime UpdatedAt)
{
    public static EnvironmentResponse From(ProjectEnvironment e, Project p, ResourceOptions resources) => new(
        e.Id, e.ProjectId, e.Name, e.Branch, e.BuildCommand, e.StartCommand, e.AutoDeploy,
        new ResourceOverridesResponse(e.ResourceMemoryMb, e.ResourceMillicpus / 1000.0, e.ResourcePids), e.Branch ?? ProjectRules.Blank(p.Branch),
        e.AutoDeploy ?? p.AutoDeploy, ResourcesResponse.From(ResourceRules.Effective(p, e, resources)), e.LiveDeploymentId, e.CreatedAt, e.UpdatedAt);
}

internal static class EnvironmentEndpoints
{
    public static IEndpointRouteBuilder MapEnvironmentEndpoints(this IEndpointRouteBuilder app)
    {
        var environments = app.MapGroup("/api/v1/projects/{projectId}/environments").WithTags("Environments");
        environments.MapGet("/", ListAsync).RequireScope(Scopes.ProjectsRead);
        environments.MapPost("/", CreateAsync).RequireScope(Scopes.ProjectsWrite);
        environments.MapGet("/{envId}", GetAsync).RequireScope(Scopes.ProjectsRead);
        environments.MapPatch("/{envId}", UpdateAsync).RequireScope(Scopes.ProjectsWrite);
        environments.MapDelete("/{envId}", DeleteAsync).RequireScope(Scopes.ProjectsWrite).ProducesErrors(409);
        return app;
    }

    private static async Task<Page<EnvironmentResponse>> ListAsync(string projectId, Caller caller, Access access, SlipwayDb db, RuntimeOptions runtime,
        PageQuery page, CancellationToken ct)
    {
        var (project, _) = await access.ProjectAsync(caller, projectId, Need.Read, ct);
        return await db.Environments.Where(e => e.ProjectId == project.Id).ToPageAsync(page, e => EnvironmentResponse.From(e, project, runtime.Resources), ct);
    }

    private static async Task<Created<EnvironmentResponse>> CreateAsync(string projectId, CreateEnvironmentRequest body, Caller caller, Access access,
        SlipwayDb db, RuntimeOptions runtime, ProjectReadCache cache, RouteSync routes, TimeProvider time, CancellationToken ct)
    {
        var v = new Validator().Required(body.Name, "name");
        Check(v, body.Name, body.Branch, body.BuildCommand, body.StartCommand);
        v.CheckResources(body.Resources, runtime.Resources, "the project's value").ThrowIfInvalid();
        var (project, _) = await access.ProjectAsync(caller, projectId, Need.Write, ct);
        if (await db.Environments.AnyAsync(e => e.ProjectId == project.Id && e.Name == body.Name, ct)) throw Taken(body.Name!);
        await RequireFreeHostAsync(db, project, body.Name!, ct);
        var now = time.UtcNowMs();
        var environment = new ProjectEnvironment
        {
            Id = Ids.New(time), ProjectId = project.Id, Name = body.Name!, Branch = ProjectRules.Blank(body.Branch), BuildCommand = ProjectRules.Blank(body.BuildCommand),
            StartCommand = ProjectRules.Blank(body.StartCommand), AutoDeploy = body.AutoDeploy, CreatedAt = now, UpdatedAt = now,
        };
        SetResources(environment, body.Resources);
        db.Environments.Add(environment);
        await db.SaveUniqueAsync($"An environment named '{environment.Name}' already exists in this project.", ct);
        cache.Invalidate(project.Id);
        await routes.RebuildAsync(ct);
        return TypedResults.Created($"/api/v1/projects/{project.Id}/environments/{environment.Id}", EnvironmentResponse.From(environment, project, runtime.Resources));
    }

    private static async Task<EnvironmentResponse> GetAsync(string projectId, string envId, Caller caller, Access access, SlipwayDb db,
        RuntimeOptions runtime, CancellationToken ct)
    {
        var (project, _) = await access.ProjectAsync(caller, projectId, Need.Read, ct);
        return EnvironmentResponse.From(await FindAsync(db, project.Id, envId, ct), project, runtime.Resources);
    }

    private static async Task<EnvironmentResponse> UpdateAsync(string projectId, string envId, UpdateEnvironmentRequest body, Caller caller,
        Access access, SlipwayDb db, RuntimeOptions runtime, ProjectReadCache cache, RouteSync routes, TimeProvider time, CancellationToken ct)
    {
        var v = new Validator();
        Check(v, body.Name, body.Branch, body.BuildCommand, body.StartCommand);
        v.CheckResources(body.Resources, runtime.Resources, "the project's value").ThrowIfInvalid();
        var (project, _) = await access.ProjectAsync(caller, projectId, Need.Write, ct);
        var environment = await FindAsync(db, project.Id, envId, ct);
        if (body.Name is not null && body.Name != environment.Name)
        {
            if (environment.Name == ProjectEnvironment.Production) throw ApiException.Conflict("The production environment cannot be renamed.");
            if (await db.Environments.AnyAsync(e => e.ProjectId == project.Id && e.Name == body.Name, ct)) throw Taken(body.Name);
            await RequireFreeHostAsync(db, project, body.Name, ct);
            environment.Name = body.Name;
        }
        if (body.Branch is not null) environment.Branch = ProjectRules.Blank(body.Branch);
        if (body.BuildCommand is not null) environment.BuildCommand = ProjectRules.Blank(body.BuildCommand);
        if (body.StartCommand is not null) environment.StartCommand = ProjectRules.Blank(body.StartCommand);
        if (body.AutoDeploy is not null) environment.AutoDeploy = body.AutoDeploy;
        SetResources(environment, body.Resources);
        environment.UpdatedAt = time.UtcNowMs();
        db.Environments.Update(environment);
        // Only the fields a PATCH may change: a deploy may switch the live release meanwhile.
        db.Entry(environment).Property(e => e.LiveDeploymentId).IsModified = false;
        await db.SaveUniqueAsync($"An environment named '{environment.Name}' already exists in this project.", ct);
        cache.Invalidate(project.Id);
        await routes.RebuildAsync(ct);
        return EnvironmentResponse.From(environment, project, runtime.Resources);
    }

    /// <summary>The fields the request names become overrides; 0 drops one (the project's value applies again).</summary>
    private static void SetResources(ProjectEnvironment environment, ResourcesRequest? resources)
    {
        if (resources is null) return;
        environment.ResourceMemoryMb = ResourceRules.Take(resources.MemoryMb, environment.ResourceMemoryMb);
        environment.ResourceMillicpus = resources.Cpus is { } cpus ? ResourceRules.MilliCpus(cpus) : environment.ResourceMillicpus;
        environment.ResourcePids = ResourceRules.Take(resources.Pids, environment.ResourcePids);
    }

    private static async Task<NoContent> DeleteAsync(string projectId, string envId, Caller caller, Access access, SlipwayDb db,
        ProjectTeardown teardown, CancellationToken ct)
    {
        var (project, _) = await access.ProjectAsync(caller, projectId, Need.Write, ct);
        var environment = await FindAsync(db, project.Id, envId, ct);
        if (environment.Name == ProjectEnvironment.Production) throw ApiException.Conflict("The production environment cannot be deleted.");
        await teardown.DeleteEnvironmentAsync(project.Id, environment.Id, ct);
        return TypedResults.NoContent();
    }

    /// <summary>The environment named in a request (default production); env vars and domains hang off it.</summary>
    internal static async Task<ProjectEnvironment> ByNameAsync(SlipwayDb db, string projectId, string? name, CancellationToken ct)
    {
        var wanted = string.IsNullOrEmpty(name) ? ProjectEnvironment.Production : name;
        return await db.Environments.FirstOrDefaultAsync(e => e.ProjectId == projectId && e.Name == wanted, ct)
               ?? throw ApiException.Validation("environment", $"no environment named '{wanted}' in this project");
    }

    private static async Task<ProjectEnvironment> FindAsync(SlipwayDb db, string projectId, string envId, CancellationToken ct) =>
        (Ids.IsValid(envId) ? await db.Environments.FirstOrDefaultAsync(e => e.Id == envId && e.ProjectId == projectId, ct) : null)
        ?? throw ApiException.NotFound("Environment", envId);

    private static void Check(Validator v, string? name, string? branch, string? buildCommand, string? startCommand) =>
        v.Check(name is null || ProjectRules.IsDnsLabel(name), "name", "must be a DNS label: lowercase letters, digits or '-'")
            .Check(branch is null || branch.Length == 0 || ProjectRules.IsRefName(branch), "branch", "must be a valid git branch name")
            .Check(ProjectRules.IsCommand(buildCommand), "build_command", "must be at most 4096 characters without control characters")
            .Check(ProjectRules.IsCommand(startCommand), "start_command", "must be at most 4096 characters without control characters");

    /// <summary>Environment <c>b</c> of project <c>a</c> is served as <c>a-b.{base}</c>: refused while a project has that name.</summary>
    private static async Task RequireFreeHostAsync(SlipwayDb db, Project project, string environment, CancellationToken ct)
    {
        var host = Deployments.Hosts.EnvironmentLabel(project.Name, environment);
        if (await db.Projects.AnyAsync(p => p.Name == host, ct))
        {
            throw ApiException.Conflict($"The host name '{host}' already belongs to another project; choose another environment name.");
        }
    }

    private static ApiException Taken(string name) => ApiException.Conflict($"An environment named '{name}' already exists in this project.");

}
