using Slipway.Server.ApiKeys;
using Slipway.Server.Auth;
using Slipway.Server.Data;
using Slipway.Server.Deployments;
using Slipway.Server.Hosting;
using Slipway.Server.Routing;
using Slipway.Server.Runtime;
using Slipway.Server.Runtime.Cgroups;
using Slipway.Server.Workspaces;

namespace Slipway.Server.Projects;

internal sealed record CreateProjectRequest(
    string? Name, string? RepoUrl, string? Branch, string? BuildCommand, string? StartCommand, int? Port, string? Framework,
    string? RootDirectory, string? OutputDirectory, string? HealthCheckPath, bool? AutoDeploy, string? WorkspaceId, ResourcesRequest? Resources);

/// <summary>Every field optional; an empty string clears an optional text field; <c>resources</c> changes the fields it names.</summary>
internal sealed record UpdateProjectRequest(
    string? Name, string? RepoUrl, string? Branch, string? BuildCommand, string? StartCommand, int? Port, string? Framework,
    string? RootDirectory, string? OutputDirectory, string? HealthCheckPath, bool? AutoDeploy, ResourcesRequest? Resources);

internal sealed record ProjectDomainResponse(string Id, string Domain, string Environment);

/// <summary>
/// <c>resources</c>: the limits its builds and releases run with (its own values, else the instance defaults).
/// <c>live_last_exit</c>: why the live release's process last exited (e.g. "Killed: out of memory (limit 64 MB)"), null if it never did.
/// </summary>
internal sealed record ProjectResponse(
    string Id, string WorkspaceId, string Name, string RepoUrl, string Branch, string? BuildCommand, string? StartCommand, int Port,
    Framework Framework, string? RootDirectory, string? OutputDirectory, string HealthCheckPath, bool AutoDeploy, ResourcesResponse Resources, string Url,
    string? LiveDeploymentId, LiveStatus? LiveStatus, string? LiveLastExit, IReadOnlyList<ProjectDomainResponse> Domains,
    IReadOnlyList<EnvironmentResponse> Environments, DateTime CreatedAt, DateTime UpdatedAt);

internal static class ProjectEndpoints
{
    public static WebApplicationBuilder AddProjects(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton(builder.Configuration.GetSection(ProjectOptions.SectionName).Get<ProjectOptions>() ?? new ProjectOptions());
        builder.Services.AddSingleton<ProjectReadCache>();
        builder.Services.AddSingleton<RepoCredentials>();
        // After the migrations (registered first, by AddHosting): rows from before credentials were sealed.
        builder.Services.AddHostedService<RepoCredentialSealing>();
        return builder;
    }

    public static IEndpointRouteBuilder MapProjectEndpoints(this IEndpointRouteBuilder app)
    {
        var projects = app.MapGroup("/api/v1/projects").WithTags("Projects");
        projects.MapPost("/", CreateAsync).RequireScope(Scopes.ProjectsWrite);
        projects.MapGet("/", ListAsync).RequireScope(Scopes.ProjectsRead);
        projects.MapGet("/{id}", GetAsync).RequireScope(Scopes.ProjectsRead);
        projects.MapPatch("/{id}", UpdateAsync).RequireScope(Scopes.ProjectsWrite);
        projects.MapDelete("/{id}", DeleteAsync).RequireScope(Scopes.ProjectsWrite);
        return app;
    }

    private static async Task<Created<ProjectResponse>> CreateAsync(CreateProjectRequest body, Caller caller, Access access, SlipwayDb db,
        ProjectOptions options, RuntimeOptions runtime, RepoCredentials credentials, RouterOptions router, Supervisor supervisor, ProjectReadCache cache,
        RouteSync routes, TimeProvider time, CancellationToken ct)
    {
        var v = new Validator()
            .Required(body.Name, "name").Check(body.Name is null || ProjectRules.IsDnsLabel(body.Name), "name",
                "must be a DNS label: 1-63 lowercase letters, digits or '-', not starting or ending with '-'")
            .Required(body.RepoUrl, "repo_url");
        Check(v, body.RepoUrl, body.Branch, body.BuildCommand, body.StartCommand, body.Port, body.Framework, body.RootDirectory,
            body.OutputDirectory, body.HealthCheckPath, options);
        v.Check(body.WorkspaceId is null || Ids.IsValid(body.WorkspaceId), "workspace_id", "must be a workspace id")
            .CheckResources(body.Resources, runtime.Resources, "the instance default");
        v.ThrowIfInvalid();

        var workspaceId = body.WorkspaceId ?? caller.KeyWorkspaceId ?? await PersonalWorkspaceAsync(db, caller, ct);
        if (caller.KeyProjectId is not null) throw ApiException.Forbidden("This API key is restricted to one project.");
        await access.RequireRoleAsync(caller, workspaceId, Need.Write, ct);
        if (await db.Projects.AnyAsync(p => p.Name == body.Name, ct)) throw NameTaken(body.Name!);
        await RequireFreeHostLabelAsync(db, body.Name!, ct);

        var now = time.UtcNowMs();
        var project = new Project
        {
            Id = Ids.New(time), WorkspaceId = workspaceId, Name = body.Name!, RepoUrl = "", Branch = body.Branch ?? "main",
            BuildCommand = ProjectRules.Blank(body.BuildCommand), StartCommand = ProjectRules.Blank(body.StartCommand), Port = body.Port ?? 3000,
            Framework = ProjectRules.ParseFramework(body.Framework) ?? Framework.Auto, RootDirectory = ProjectRules.Blank(body.RootDirectory),
            OutputDirectory = ProjectRules.Blank(body.OutputDirectory), HealthCheckPath = body.HealthCheckPath ?? "/", AutoDeploy = body.AutoDeploy ?? true,
            CreatedAt = now, UpdatedAt = now,
        };
        SetResources(project, body.Resources);
        credentials.Store(project, body.RepoUrl!);
        db.Projects.Add(project);
        db.Environments.Add(new ProjectEnvironment
        {
            Id = Ids.New(time), ProjectId = project.Id, Name = ProjectEnvironment.Production, CreatedAt = now, UpdatedAt = now,
        });
        await db.SaveUniqueAsync($"A project named '{project.Name}' already exists.", ct);
        await routes.RebuildAsync(ct);
        return TypedResults.Created($"/api/v1/projects/{project.Id}", (await ResponsesAsync(db, cache, router, supervisor, runtime, [project], ct))[0]);
    }

    private static async Task<Page<ProjectResponse>> ListAsync(Caller caller, Access access, SlipwayDb db, RouterOptions router, Supervisor supervisor,
        RuntimeOptions runtime, ProjectReadCache cache, PageQuery page,
        [Microsoft.AspNetCore.Mvc.FromQuery(Name = "workspace_id")] string? workspaceId, CancellationToken ct)
    {
        var query = access.VisibleProjects(caller);
        if (workspaceId is not null)
        {
            await access.RequireWorkspaceReadAsync(caller, workspaceId, ct);
            query = query.Where(p => p.WorkspaceId == workspaceId);
        }
        var rows = await query.ToPageAsync(page, p => p, ct);
        return new Page<ProjectResponse>(await ResponsesAsync(db, cache, router, supervisor, runtime, rows.Data, ct), rows.NextCursor);
    }

    private static async Task<ProjectResponse> GetAsync(string id, Caller caller, Access access, SlipwayDb db, RouterOptions router, Supervisor supervisor,
        RuntimeOptions runtime, ProjectReadCache cache, CancellationToken ct)
    {
        var (project, _) = await access.ProjectAsync(caller, id, Need.Read, ct);
        return (await ResponsesAsync(db, cache, router, supervisor, runtime, [project], ct))[0];
    }

    private static async Task<ProjectResponse> UpdateAsync(string id, UpdateProjectRequest body, Caller caller, Access access, SlipwayDb db,
        ProjectOptions options, RuntimeOptions runtime, RepoCredentials credentials, RouterOptions router, Supervisor supervisor, ProjectReadCache cache,
        RouteSync routes, TimeProvider time, CancellationToken ct)
    {
        var v = new Validator().Check(body.Name is null || ProjectRules.IsDnsLabel(body.Name), "name",
            "must be a DNS label: 1-63 lowercase letters, digits or '-', not starting or ending with '-'");
        Check(v, body.RepoUrl, body.Branch, body.BuildCommand, body.StartCommand, body.Port, body.Framework, body.RootDirectory,
            body.OutputDirectory, body.HealthCheckPath, options);
        v.CheckResources(body.Resources, runtime.Resources, "the instance default").ThrowIfInvalid();
        var (project, _) = await access.ProjectAsync(caller, id, Need.Write, ct);
        if (body.Name is not null && body.Name != project.Name)
        {
            if (await db.Projects.AnyAsync(p => p.Name == body.Name, ct)) throw NameTaken(body.Name);
            await RequireFreeHostLabelAsync(db, body.Name, ct);
            if (await db.Environments.AnyAsync(e => e.ProjectId == project.Id && e.Name != ProjectEnvironment.Production
                                                     && db.Projects.Any(p => p.Name == body.Name + "-" + e.Name), ct))
            {
                throw ApiException.Conflict($"Renaming to '{body.Name}' would give one of its environments the host name of another project.");
            }
        }
        project.Name = body.Name ?? project.Name;
        // The masked URL a GET returned, sent back unchanged, keeps the stored credential.
        if (body.RepoUrl is not null && body.RepoUrl != project.RepoUrl) credentials.Store(project, body.RepoUrl);
        project.Branch = body.Branch ?? project.Branch;
        project.BuildCommand = body.BuildCommand is null ? project.BuildCommand : ProjectRules.Blank(body.BuildCommand);
        project.StartCommand = body.StartCommand is null ? project.StartCommand : ProjectRules.Blank(body.StartCommand);
        project.Port = body.Port ?? project.Port;
        project.Framework = ProjectRules.ParseFramework(body.Framework) ?? project.Framework;
        project.RootDirectory = body.RootDirectory is null ? project.RootDirectory : ProjectRules.Blank(body.RootDirectory);
        project.OutputDirectory = body.OutputDirectory is null ? project.OutputDirectory : ProjectRules.Blank(body.OutputDirectory);
        project.HealthCheckPath = body.HealthCheckPath ?? project.HealthCheckPath;
        project.AutoDeploy = body.AutoDeploy ?? project.AutoDeploy;
        SetResources(project, body.Resources);
        project.UpdatedAt = time.UtcNowMs();
        db.Projects.Update(project);
        // Only the fields a PATCH may change: a deploy may switch the live release meanwhile.
        db.Entry(project).Property(p => p.LiveDeploymentId).IsModified = false;
        await db.SaveUniqueAsync($"A project named '{project.Name}' already exists.", ct);
        cache.Invalidate(project.Id);
        await routes.RebuildAsync(ct);
        return (await ResponsesAsync(db, cache, router, supervisor, runtime, [project], ct))[0];
    }

    private static async Task<NoContent> DeleteAsync(string id, Caller caller, Access access, ProjectTeardown teardown, ApiKeyAuthenticator keys,
        CancellationToken ct)
    {
        var (project, _) = await access.ProjectAsync(caller, id, Need.Write, ct);
        await teardown.DeleteAsync(project.Id, ct);
        keys.Forget();
        return TypedResults.NoContent();
    }

    /// <summary>Takes the fields the request names (0: back to the instance default); the next build and release run with them.</summary>
    private static void SetResources(Project project, ResourcesRequest? resources)
    {
        if (resources is null) return;
        project.ResourceMemoryMb = ResourceRules.Take(resources.MemoryMb, project.ResourceMemoryMb);
        project.ResourceMillicpus = resources.Cpus is { } cpus ? ResourceRules.MilliCpus(cpus) : project.ResourceMillicpus;
        project.ResourcePids = ResourceRules.Take(resources.Pids, project.ResourcePids);
    }

    private static void Check(Validator v, string? repoUrl, string? branch, string? buildCommand, string? startCommand, int? port,
        string? framework, string? rootDirectory, string? outputDirectory, string? healthCheckPath, ProjectOptions options)
    {
        if (repoUrl is not null && ProjectRules.RepoUrlProblem(repoUrl, options.AllowLocalRepositories) is { } problem) v.Check(false, "repo_url", problem);
        v.Check(branch is null || ProjectRules.IsRefName(branch), "branch", "must be a valid git branch name")
            .Check(ProjectRules.IsCommand(buildCommand), "build_command", "must be at most 4096 characters without control characters")
            .Check(ProjectRules.IsCommand(startCommand), "start_command", "must be at most 4096 characters without control characters")
            .Check(port is null or (>= 1 and <= 65535), "port", "must be between 1 and 65535")
            .Check(framework is null || ProjectRules.ParseFramework(framework) is not null, "framework",
                "must be one of auto, static, node, nextjs, python, dotnet, go, custom")
            .Check(ProjectRules.IsRelativeDirectory(rootDirectory), "root_directory", "must be a relative path inside the repository")
            .Check(ProjectRules.IsRelativeDirectory(outputDirectory), "output_directory", "must be a relative path inside the repository")
            .Check(healthCheckPath is null || ProjectRules.IsUrlPath(healthCheckPath), "health_check_path", "must be a URL path starting with '/'");
    }

    internal static async Task<string> PersonalWorkspaceAsync(SlipwayDb db, Caller caller, CancellationToken ct) =>
        await (from m in db.WorkspaceMembers
               join w in db.Workspaces on m.WorkspaceId equals w.Id
               where m.UserId == caller.UserId && m.Role == WorkspaceRole.Owner
               orderby w.IsPersonal descending, w.Id
               select w.Id).FirstOrDefaultAsync(ct)
        ?? throw ApiException.Validation("workspace_id", "is required: you own no workspace");

    /// <summary>
    /// A project named <c>a-b</c> and environment <c>b</c> of project <c>a</c> would share the host <c>a-b.{base}</c>:
    /// the router could send one tenant's traffic to another, so the second name is refused.
    /// </summary>
    internal static async Task RequireFreeHostLabelAsync(SlipwayDb db, string projectName, CancellationToken ct)
    {
        var taken = await (from e in db.Environments
                           join p in db.Projects on e.ProjectId equals p.Id
                           where e.Name != ProjectEnvironment.Production && p.Name + "-" + e.Name == projectName
                           select e.Id).AnyAsync(ct);
        if (taken) throw ApiException.Conflict($"The host name '{projectName}' is already used by an environment of another project.");
    }

    private static ApiException NameTaken(string name) => ApiException.Conflict($"A project named '{name}' already exists.");


    /// <summary>
    /// Projects with their environments, domains and live status, from the read cache (a page of cached projects costs
    /// no query here). No EF compiled queries: they cache their executor for the first database provider that ran them.
    /// </summary>
    internal static async Task<IReadOnlyList<ProjectResponse>> ResponsesAsync(SlipwayDb db, ProjectReadCache cache, RouterOptions router,
        Supervisor supervisor, RuntimeOptions runtime, IReadOnlyList<Project> projects, CancellationToken ct)
    {
        var snapshots = await cache.GetManyAsync(db, projects.Select(p => p.Id).ToList(), ct);
        return projects.Select(p =>
        {
            var snapshot = snapshots.GetValueOrDefault(p.Id);
            var environments = snapshot?.Environments ?? [];
            var envNames = environments.ToDictionary(e => e.Id, e => e.Name);
            // A live release without a supervised process is either a static site (served by the router) or a process
            // that could not be brought back. Null without a live release.
            var running = p.LiveDeploymentId is { } live ? supervisor.Find(live) : null;
            var status = p.LiveDeploymentId is null ? (LiveStatus?)null
                : running?.Status
                  ?? (snapshot is { LiveIsStatic: true } && snapshot.Project.LiveDeploymentId == p.LiveDeploymentId ? LiveStatus.Running : LiveStatus.Stopped);

            return new ProjectResponse(
                p.Id, p.WorkspaceId, p.Name, Builds.SecretMasker.MaskUrlCredentials(p.RepoUrl), p.Branch, p.BuildCommand, p.StartCommand, p.Port,
                p.Framework, p.RootDirectory, p.OutputDirectory, p.HealthCheckPath, p.AutoDeploy, ResourcesResponse.From(ResourceRules.Effective(p, null, runtime.Resources)),
                Url(router, p.Name), p.LiveDeploymentId, status, running?.LastExit,
                (snapshot?.Domains ?? []).Select(d => new ProjectDomainResponse(d.Id, d.Hostname, envNames[d.EnvironmentId])).ToList(),
                environments.Select(e => EnvironmentResponse.From(e, p, runtime.Resources)).ToList(),
                p.CreatedAt, p.UpdatedAt);
        }).ToList();
    }

    internal static string Url(RouterOptions router, string host)
    {
        var defaultPort = router.PublicScheme == "https" ? 443 : 80;
        var port = router.PublicPort == defaultPort ? "" : $":{router.PublicPort}";
        return $"{router.PublicScheme}://{host}.{router.BaseDomain}{port}";
    }
}
