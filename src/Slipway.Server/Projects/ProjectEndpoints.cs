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

/// <summary>
/// <c>port</c> is accepted (1-65535) for the reference documents' form and ignored: every release is told its own free
/// loopback port in <c>$PORT</c>, since an old and a new release serve side by side while the router switches.
/// </summary>
internal sealed record CreateProjectRequest(
    string? Name, string? RepoUrl, string? Branch, string? BuildCommand, string? StartCommand, int? Port, string? Framework,
    string? RootDirectory, string? OutputDirectory, string? HealthCheckPath, bool? AutoDeploy, string? WorkspaceId, ResourcesRequest? Resources,
    string? UploadApproval, bool? PreventSelfReview);

/// <summary>
/// Every field optional; an empty string clears an optional text field; <c>resources</c> changes the fields it names;
/// <c>port</c> is accepted and ignored (see <see cref="CreateProjectRequest"/>).
/// </summary>
internal sealed record UpdateProjectRequest(
    string? Name, string? RepoUrl, string? Branch, string? BuildCommand, string? StartCommand, int? Port, string? Framework,
    string? RootDirectory, string? OutputDirectory, string? HealthCheckPath, bool? AutoDeploy, ResourcesRequest? Resources,
    string? UploadApproval, bool? PreventSelfReview);

internal sealed record ProjectDomainResponse(string Id, string Domain, string Environment);

/// <summary>
/// <c>resources</c>: the limits its builds and releases run with (its own values, else the instance defaults).
/// <c>live_last_exit</c>: why the live release's process last exited (e.g. "Killed: out of memory (limit 64 MB)"), null if it never did.
/// <c>repo_url</c> null: an upload-only project. <c>upload_approval</c>: automatic or manual; <c>prevent_self_review</c>: an
/// uploader may not approve their own upload.
/// </summary>
internal sealed record ProjectResponse(
    string Id, string WorkspaceId, string Name, string? RepoUrl, string? Branch, string? BuildCommand, string? StartCommand,
    Framework Framework, string? RootDirectory, string? OutputDirectory, string HealthCheckPath, bool AutoDeploy, Uploads.UploadApproval UploadApproval,
    bool PreventSelfReview, ResourcesResponse Resources, string Url,
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
        ProjectOptions options, RuntimeOptions runtime, RepoCredentials credentials, Supervisor supervisor, ProjectReadCache cache, RouteSync routes, TimeProvider time,
        CancellationToken ct)
    {
        var v = new Validator()
            .Required(body.Name, "name").Check(body.Name is null || ProjectRules.IsDnsLabel(body.Name), "name",
                "must be a DNS label: 1-63 lowercase letters, digits or '-', not starting or ending with '-'");
        Check(v, body.RepoUrl, body.Branch, body.BuildCommand, body.StartCommand, body.Port, body.Framework, body.RootDirectory,
            body.OutputDirectory, body.HealthCheckPath, body.UploadApproval, options);
        v.Check(body.WorkspaceId is null || Ids.IsValid(body.WorkspaceId), "workspace_id", "must be a workspace id");
        v.Check(body.RepoUrl is null || !RepoCredentials.HasMaskedCredential(body.RepoUrl), "repo_url", RepoCredentials.MaskedCredentialProblem);
        v.CheckResources(body.Resources, runtime.Resources, "the instance default");
        v.ThrowIfInvalid();

        var workspaceId = body.WorkspaceId ?? caller.KeyWorkspaceId ?? await PersonalWorkspaceAsync(db, caller, ct);
        if (caller.KeyProjectId is not null) throw ApiException.Forbidden("This API key is restricted to one project.");
        await access.RequireRoleAsync(caller, workspaceId, Need.Write, ct);
        if (await db.Projects.AnyAsync(p => p.Name == body.Name, ct)) throw NameTaken(body.Name!);
        await RequireFreeHostLabelAsync(db, body.Name!, ct);

        var now = time.UtcNowMs();
        var project = new Project
        {
            Id = Ids.New(time), WorkspaceId = workspaceId, Name = body.Name!, RepoUrl = "", Branch = body.Branch ?? "",
            BuildCommand = ProjectRules.Blank(body.BuildCommand), StartCommand = ProjectRules.Blank(body.StartCommand),
            Framework = ProjectRules.ParseFramework(body.Framework) ?? Framework.Auto, RootDirectory = ProjectRules.Blank(body.RootDirectory),
            OutputDirectory = ProjectRules.Blank(body.OutputDirectory), HealthCheckPath = body.HealthCheckPath ?? "/", AutoDeploy = body.AutoDeploy ?? true,
            UploadApproval = ParseApproval(body.UploadApproval) ?? Uploads.UploadApproval.Automatic, PreventSelfReview = body.PreventSelfReview ?? false,
            CreatedAt = now, UpdatedAt = now,
        };
        SetResources(project, body.Resources);
        credentials.Store(project, body.RepoUrl ?? "");
        db.Projects.Add(project);
        db.Environments.Add(new ProjectEnvironment
        {
            Id = Ids.New(time), ProjectId = project.Id, Name = ProjectEnvironment.Production, CreatedAt = now, UpdatedAt = now,
        });
        await db.SaveUniqueAsync($"A project named '{project.Name}' already exists.", ct);
        await routes.RebuildAsync(ct);
        return TypedResults.Created($"/api/v1/projects/{project.Id}", await ResponseAsync(db, cache, supervisor, project.Id, ct));
    }

    private static async Task<JsonPage<ProjectResponse>> ListAsync(Caller caller, Access access, SlipwayDb db, Supervisor supervisor,
        ProjectReadCache cache, IdPageCache pages, PageQuery page,
        [Microsoft.AspNetCore.Mvc.FromQuery(Name = "workspace_id")] string? workspaceId, CancellationToken ct)
    {
        var query = access.VisibleProjects(caller);
        if (workspaceId is not null)
        {
            await access.RequireWorkspaceReadAsync(caller, workspaceId, ct);
            query = query.Where(p => p.WorkspaceId == workspaceId);
        }
        // The page is one index walk for the ids (none while nothing was written); the items come from the read cache,
        // like GET /projects/{id}, each serialized once for as long as it and its live status stay the same.
        var ids = await pages.GetAsync($"projects|{Access.VisibilityKey(caller)}|{workspaceId}|{page.After}|{page.Limit}",
            () => query.ToIdPageAsync(page, ct));
        var snapshots = await cache.GetManyAsync(db, ids.Data, ct);
        var items = new List<byte[]>(ids.Data.Count);
        foreach (var id in ids.Data)
        {
            if (!snapshots.TryGetValue(id, out var snapshot)) continue;
            var live = Live(snapshot, supervisor);
            items.Add(Json.Get(snapshot, live, () => WithLive(snapshot, live)));
        }
        return new JsonPage<ProjectResponse>(items, ids.NextCursor);
    }

    private static async Task<ProjectResponse> GetAsync(string id, Caller caller, Access access, SlipwayDb db, Supervisor supervisor,
        ProjectReadCache cache, CancellationToken ct)
    {
        var (project, _) = await access.ProjectAsync(caller, id, Need.Read, ct);
        return await ResponseAsync(db, cache, supervisor, project.Id, ct);
    }

    private static async Task<ProjectResponse> UpdateAsync(string id, UpdateProjectRequest body, Caller caller, Access access, SlipwayDb db,
        ProjectOptions options, RuntimeOptions runtime, RepoCredentials credentials, Supervisor supervisor, ProjectReadCache cache, RouteSync routes, TimeProvider time,
        CancellationToken ct)
    {
        var v = new Validator().Check(body.Name is null || ProjectRules.IsDnsLabel(body.Name), "name",
            "must be a DNS label: 1-63 lowercase letters, digits or '-', not starting or ending with '-'");
        Check(v, body.RepoUrl, body.Branch, body.BuildCommand, body.StartCommand, body.Port, body.Framework, body.RootDirectory,
            body.OutputDirectory, body.HealthCheckPath, body.UploadApproval, options);
        v.CheckResources(body.Resources, runtime.Resources, "the instance default");
        v.ThrowIfInvalid();
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
        // The project is a copy from the read cache, which another process (--reencrypt-secrets) may have outdated: only the
        // columns this request names are written, so a stale value (a sealed credential, a live release) never goes back.
        var entry = db.Projects.Attach(project);
        void Set<T>(System.Linq.Expressions.Expression<Func<Project, T>> column, T value)
        {
            var property = entry.Property(column);
            property.CurrentValue = value;
            property.IsModified = true;
        }
        if (body.Name is not null) Set(p => p.Name, body.Name);
        if (body.RepoUrl is not null && body.RepoUrl != project.RepoUrl)
        {
            // The masked URL a GET returned, sent back unchanged, never gets here: it keeps the stored credential.
            if (credentials.Change(project, body.RepoUrl))
            {
                Set(p => p.RepoCredentialSealed, project.RepoCredentialSealed);
                Set(p => p.RepoCredentialKeyId, project.RepoCredentialKeyId);
            }
            Set(p => p.RepoUrl, project.RepoUrl);
        }
        if (body.Branch is not null) Set(p => p.Branch, body.Branch);
        if (body.BuildCommand is not null) Set(p => p.BuildCommand, ProjectRules.Blank(body.BuildCommand));
        if (body.StartCommand is not null) Set(p => p.StartCommand, ProjectRules.Blank(body.StartCommand));
        if (ProjectRules.ParseFramework(body.Framework) is { } framework) Set(p => p.Framework, framework);
        if (body.RootDirectory is not null) Set(p => p.RootDirectory, ProjectRules.Blank(body.RootDirectory));
        if (body.OutputDirectory is not null) Set(p => p.OutputDirectory, ProjectRules.Blank(body.OutputDirectory));
        if (body.HealthCheckPath is not null) Set(p => p.HealthCheckPath, body.HealthCheckPath);
        if (body.AutoDeploy is { } autoDeploy) Set(p => p.AutoDeploy, autoDeploy);
        if (ParseApproval(body.UploadApproval) is { } approval) Set(p => p.UploadApproval, approval);
        if (body.PreventSelfReview is { } preventSelfReview) Set(p => p.PreventSelfReview, preventSelfReview);
        if (body.Resources is { } resources)
        {
            Set(p => p.ResourceMemoryMb, ResourceRules.Take(resources.MemoryMb, project.ResourceMemoryMb));
            Set(p => p.ResourceMillicpus, resources.Cpus is { } cpus ? ResourceRules.MilliCpus(cpus) : project.ResourceMillicpus);
            Set(p => p.ResourcePids, ResourceRules.Take(resources.Pids, project.ResourcePids));
        }
        Set(p => p.UpdatedAt, time.UtcNowMs());
        await db.SaveUniqueAsync($"A project named '{project.Name}' already exists.", ct);
        cache.Invalidate(project.Id);
        await routes.RebuildAsync(ct);
        // The row as stored, read again (the columns not named may differ from the copy this request began with).
        return await ResponseAsync(db, cache, supervisor, project.Id, ct);
    }

    /// <summary>Takes the fields the request names (0: back to the instance default); the next build and release run with them.</summary>
    private static void SetResources(Project project, ResourcesRequest? resources)
    {
        if (resources is null) return;
        project.ResourceMemoryMb = ResourceRules.Take(resources.MemoryMb, project.ResourceMemoryMb);
        project.ResourceMillicpus = resources.Cpus is { } cpus ? ResourceRules.MilliCpus(cpus) : project.ResourceMillicpus;
        project.ResourcePids = ResourceRules.Take(resources.Pids, project.ResourcePids);
    }

    private static async Task<NoContent> DeleteAsync(string id, Caller caller, Access access, ProjectTeardown teardown, ApiKeyAuthenticator keys,
        CancellationToken ct)
    {
        var (project, _) = await access.ProjectAsync(caller, id, Need.Write, ct);
        await teardown.DeleteAsync(project.Id, ct);
        keys.Forget();
        return TypedResults.NoContent();
    }

    private static void Check(Validator v, string? repoUrl, string? branch, string? buildCommand, string? startCommand, int? port,
        string? framework, string? rootDirectory, string? outputDirectory, string? healthCheckPath, string? uploadApproval, ProjectOptions options)
    {
        v.Check(uploadApproval is null || ParseApproval(uploadApproval) is not null, "upload_approval", "must be automatic or manual");
        // An empty repo_url (or none at all): the project deploys uploaded builds only.
        if (repoUrl is { Length: > 0 } && ProjectRules.RepoUrlProblem(repoUrl, options.AllowLocalRepositories) is { } problem) v.Check(false, "repo_url", problem);
        v.Check(branch is null || branch.Length == 0 || ProjectRules.IsRefName(branch), "branch", "must be a valid git branch name")
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

    private static Uploads.UploadApproval? ParseApproval(string? text) =>
        text is not null && ApiEnums.TryParse<Uploads.UploadApproval>(text, out var approval) ? approval : null;

    private static ApiException NameTaken(string name) => ApiException.Conflict($"A project named '{name}' already exists.");


    /// <summary>
    /// Projects with their environments, domains and live status, from the read cache (a page of cached projects costs
    /// no query here), in the order of <paramref name="ids"/>; a project deleted since its id was read is left out.
    /// No EF compiled queries: they cache their executor for the first database provider that ran them.
    /// </summary>
    internal static async Task<IReadOnlyList<ProjectResponse>> ResponsesAsync(SlipwayDb db, ProjectReadCache cache, Supervisor supervisor,
        IReadOnlyList<string> ids, CancellationToken ct)
    {
        var snapshots = await cache.GetManyAsync(db, ids, ct);
        var responses = new List<ProjectResponse>(ids.Count);
        foreach (var id in ids)
        {
            if (snapshots.TryGetValue(id, out var snapshot)) responses.Add(Response(snapshot, supervisor));
        }
        return responses;
    }

    private static async Task<ProjectResponse> ResponseAsync(SlipwayDb db, ProjectReadCache cache, Supervisor supervisor, string id,
        CancellationToken ct) =>
        (await ResponsesAsync(db, cache, supervisor, [id], ct)) is [var response] ? response : throw ApiException.NotFound("Project", id);

    private static readonly JsonMemo<ProjectReadCache.Snapshot, (LiveStatus?, string?)> Json = new();

    private static ProjectResponse Response(ProjectReadCache.Snapshot snapshot, Supervisor supervisor) => WithLive(snapshot, Live(snapshot, supervisor));

    private static ProjectResponse WithLive(ProjectReadCache.Snapshot snapshot, (LiveStatus? Status, string? LastExit) live) =>
        snapshot.Project.LiveDeploymentId is null ? snapshot.Response : snapshot.Response with { LiveStatus = live.Status, LiveLastExit = live.LastExit };

    /// <summary>
    /// A live release without a supervised process is either a static site (served by the router) or a process
    /// that could not be brought back. Null without a live release.
    /// </summary>
    private static (LiveStatus? Status, string? LastExit) Live(ProjectReadCache.Snapshot snapshot, Supervisor supervisor)
    {
        if (snapshot.Project.LiveDeploymentId is not { } live) return (null, null);
        var running = supervisor.Find(live);
        return (running?.Status ?? (snapshot.LiveIsStatic ? LiveStatus.Running : LiveStatus.Stopped), running?.LastExit);
    }

    /// <summary>The response without its live status (see <see cref="ProjectReadCache.Snapshot"/>).</summary>
    internal static ProjectResponse Response(Project p, IReadOnlyList<ProjectEnvironment> environments, IEnumerable<Domains.Domain> domains,
        RouterOptions router, ResourceOptions resources)
    {
        var envNames = environments.ToDictionary(e => e.Id, e => e.Name);
        return new ProjectResponse(
            p.Id, p.WorkspaceId, p.Name, p.RepoUrl.Length == 0 ? null : Builds.SecretMasker.MaskUrlCredentials(p.RepoUrl), ProjectRules.Blank(p.Branch), p.BuildCommand,
            p.StartCommand, p.Framework, p.RootDirectory, p.OutputDirectory, p.HealthCheckPath, p.AutoDeploy, p.UploadApproval, p.PreventSelfReview,
            ResourcesResponse.From(ResourceRules.Effective(p, null, resources)), Url(router, p.Name), p.LiveDeploymentId, null, null,
            domains.Select(d => new ProjectDomainResponse(d.Id, d.Hostname, envNames[d.EnvironmentId])).ToList(),
            environments.Select(e => EnvironmentResponse.From(e, p, resources)).ToList(),
            p.CreatedAt, p.UpdatedAt);
    }

    internal static string Url(RouterOptions router, string host)
    {
        var defaultPort = router.PublicScheme == "https" ? 443 : 80;
        var port = router.PublicPort == defaultPort ? "" : $":{router.PublicPort}";
        return $"{router.PublicScheme}://{host}.{router.BaseDomain}{port}";
    }
}
