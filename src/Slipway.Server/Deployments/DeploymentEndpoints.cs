using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Mvc;
using Slipway.Server.Auth;
using Slipway.Server.Data;
using Slipway.Server.Hosting;
using Slipway.Server.Routing;
using Slipway.Server.OpenApi;
using Slipway.Server.Projects;
using Slipway.Server.Workspaces;

namespace Slipway.Server.Deployments;

internal sealed record CreateDeploymentRequest(string? ProjectId, string? Environment, string? Branch, string? CommitSha);
internal sealed record TriggerRequest(string? Branch, string? CommitSha);
internal sealed record ProjectRollbackRequest(string? Environment);

internal static partial class DeploymentEndpoints
{
    [GeneratedRegex("^[0-9a-f]{7,40}$")]
    private static partial Regex CommitSha();

    public static IEndpointRouteBuilder MapDeploymentEndpoints(this IEndpointRouteBuilder app)
    {
        var deployments = app.MapGroup("/api/v1/deployments").WithTags("Deployments");
        deployments.MapPost("/", CreateAsync).RequireScope(Scopes.DeploymentsWrite);
        deployments.MapGet("/", ListAsync).RequireScope(Scopes.DeploymentsRead);
        deployments.MapGet("/{id}", GetAsync).RequireScope(Scopes.DeploymentsRead);
        deployments.MapPost("/{id}/cancel", CancelAsync).RequireScope(Scopes.DeploymentsWrite).ProducesErrors(409);
        deployments.MapPost("/{id}/redeploy", RedeployAsync).RequireScope(Scopes.DeploymentsWrite);
        deployments.MapPost("/{id}/rollback", RollbackAsync).RequireScope(Scopes.DeploymentsWrite);
        app.MapPost("/api/v1/projects/{projectId}/environments/{envId}/trigger", TriggerAsync).RequireScope(Scopes.DeploymentsWrite)
            .WithTags("Deployments");
        app.MapPost("/api/v1/projects/{projectId}/build-settings/{settingId}/trigger", TriggerBuildAsync).RequireScope(Scopes.DeploymentsWrite)
            .WithTags("Deployments");
        app.MapPost("/api/v1/projects/{projectId}/rollback", ProjectRollbackAsync).RequireScope(Scopes.DeploymentsWrite)
            .WithTags("Deployments").ProducesErrors(409);
        return app;
    }

    private static async Task<Created<DeploymentResponse>> CreateAsync(CreateDeploymentRequest body, Caller caller, Access access, SlipwayDb db,
        DeploymentQueueing queueing, CancellationToken ct)
    {
        Validate(body.Branch, body.CommitSha);
        var (project, _) = await access.ProjectAsync(caller, body.ProjectId, Need.Write, ct);
        var environment = await EnvironmentEndpoints.ByNameAsync(db, project.Id, body.Environment, ct);
        var response = await queueing.QueueAsync(caller, project, environment, caller.IsApiKey ? DeploymentTrigger.Api : DeploymentTrigger.Manual,
            body.Branch, body.CommitSha, source: null, ct);
        return TypedResults.Created($"/api/v1/deployments/{response.Id}", response);
    }

    private static async Task<Created<TriggerResponse>> TriggerAsync(string projectId, string envId, TriggerRequest? body, Caller caller,
        Access access, SlipwayDb db, DeploymentQueueing queueing, CancellationToken ct)
    {
        var response = await QueueInEnvironmentAsync(projectId, envId, body, caller, access, db, queueing, ct);
        return TypedResults.Created($"/api/v1/deployments/{response.Id}", new TriggerResponse(response.BuildId, response.Id, response.Status));
    }

    /// <summary>The Pushpaka form of <see cref="TriggerAsync"/>: a build setting is an environment; the answer is the build, <c>pending</c>.</summary>
    private static async Task<Created<BuildTriggerResponse>> TriggerBuildAsync(string projectId, string settingId, TriggerRequest? body, Caller caller,
        Access access, SlipwayDb db, DeploymentQueueing queueing, CancellationToken ct)
    {
        var response = await QueueInEnvironmentAsync(projectId, settingId, body, caller, access, db, queueing, ct);
        return TypedResults.Created($"/api/v1/builds/{response.BuildId}", new BuildTriggerResponse(response.BuildId, response.Id, BuildStatus.Pending));
    }

    private static async Task<DeploymentResponse> QueueInEnvironmentAsync(string projectId, string envId, TriggerRequest? body, Caller caller,
        Access access, SlipwayDb db, DeploymentQueueing queueing, CancellationToken ct)
    {
        Validate(body?.Branch, body?.CommitSha);
        var (project, _) = await access.ProjectAsync(caller, projectId, Need.Write, ct);
        var environment = (Ids.IsValid(envId) ? await db.Environments.FirstOrDefaultAsync(e => e.Id == envId && e.ProjectId == project.Id, ct) : null)
                          ?? throw ApiException.NotFound("Environment", envId);
        return await queueing.QueueAsync(caller, project, environment, caller.IsApiKey ? DeploymentTrigger.Api : DeploymentTrigger.Manual,
            body?.Branch, body?.CommitSha, source: null, ct);
    }

    private static async Task<JsonPage<DeploymentResponse>> ListAsync(Caller caller, Access access, SlipwayDb db, RouterOptions router,
        ProjectReadCache cache, DeploymentReadCache deployments, IdPageCache pages, PageQuery page,
        [FromQuery(Name = "project_id")] string? projectId, [FromQuery] string? environment, [FromQuery] string? status,
        [FromQuery] string? trigger, [FromQuery] string? offset, CancellationToken ct)
    {
        var v = new Validator();
        DeploymentStatus? wantedStatus = null;
        DeploymentTrigger? wantedTrigger = null;
        var skip = 0;
        if (status is not null) v.Check(ApiEnums.TryParse(status, out wantedStatus), "status", $"must be {ApiEnums.Names<DeploymentStatus>()}");
        if (trigger is not null) v.Check(ApiEnums.TryParse(trigger, out wantedTrigger), "trigger", $"must be {ApiEnums.Names<DeploymentTrigger>()}");
        v.Check(offset is null || (int.TryParse(offset, NumberStyles.None, CultureInfo.InvariantCulture, out skip) && skip <= 1_000_000), "offset",
            "must be a non-negative integer");
        v.Check(offset is null || page.After is null, "offset", "cannot be combined with cursor");
        v.Check(environment is null || projectId is not null, "environment", "needs project_id");
        v.ThrowIfInvalid();

        IQueryable<Deployment> query;
        string scope;
        if (projectId is not null)
        {
            // Access is checked on the project, so the page is a walk of the (project_id, id) index.
            var (project, _) = await access.ProjectAsync(caller, projectId, Need.Read, ct);
            projectId = project.Id;
            query = db.Deployments.Where(d => d.ProjectId == project.Id);
            scope = $"project:{project.Id}";
        }
        else
        {
            var projects = access.VisibleProjects(caller);
            query = db.Deployments.Where(d => projects.Select(p => p.Id).Contains(d.ProjectId));
            scope = Access.VisibilityKey(caller);
        }
        if (environment is not null)
        {
            var env = await EnvironmentEndpoints.ByNameAsync(db, projectId!, environment, ct);
            query = query.Where(d => d.EnvironmentId == env.Id);
        }
        if (wantedStatus is { } s) query = query.Where(d => d.Status == s);
        if (wantedTrigger is { } t) query = query.Where(d => d.Trigger == t);

        // The page is one index walk for the ids (none while nothing was written); finished deployments come from the
        // read cache, each serialized once for as long as it and its project's snapshot stay the same.
        var ids = await pages.GetAsync($"deployments|{scope}|{environment}|{wantedStatus}|{wantedTrigger}|{offset}|{page.After}|{page.Limit}",
            () => offset is null ? query.ToIdPageAsync(page, ct) : OffsetIdPageAsync(query, skip, page.Limit, ct));
        var rows = await deployments.GetManyAsync(db, ids.Data, ct);
        var snapshots = await cache.GetManyAsync(db, rows.Select(d => d.ProjectId).Distinct().ToList(), ct);
        var items = new List<byte[]>(rows.Count);
        foreach (var d in rows)
        {
            var snapshot = snapshots[d.ProjectId];
            var response = () => DeploymentResponse.From(d, snapshot.Project, snapshot.Environments.First(e => e.Id == d.EnvironmentId), router);
            items.Add(Deployment.IsTerminal(d.Status) ? Json.Get(d, snapshot, response) : JsonSerializer.SerializeToUtf8Bytes(response(), SlipwayJson.Options));
        }
        return new JsonPage<DeploymentResponse>(items, ids.NextCursor);
    }

    /// <summary>A finished deployment's response, made again when its project's snapshot is replaced (renamed, a new live release).</summary>
    private static readonly JsonMemo<Deployment, ProjectReadCache.Snapshot> Json = new(ReferenceEqualityComparer.Instance);

    private static async Task<Page<string>> OffsetIdPageAsync(IQueryable<Deployment> query, int skip, int limit, CancellationToken ct)
    {
        var ids = await query.OrderByDescending(d => d.Id).Skip(skip).Select(d => d.Id).Take(limit + 1).ToListAsync(ct);
        return PagingExtensions.Trim(ids, limit, id => id, id => id);
    }

    private static async Task<DeploymentResponse> GetAsync(string id, Caller caller, DeploymentAccess deployments, SlipwayDb db, RouterOptions router,
        ProjectReadCache cache, CancellationToken ct) =>
        (await ResponsesAsync(db, cache, router, [await deployments.FindAsync(caller, id, Need.Read, ct)], ct))[0];

    private static async Task<DeploymentResponse> CancelAsync(string id, Caller caller, DeploymentAccess deployments, DeploymentStates states,
        DeploymentQueue queue, SlipwayDb db, RouterOptions router, ProjectReadCache cache, CancellationToken ct)
    {
        var deployment = await deployments.FindAsync(caller, id, Need.Write, ct);
        if (!await states.TransitionAsync(deployment.Id, DeploymentStates.NotTerminal, DeploymentStatus.Canceled, "Canceled by request.", ct,
                buildStatusWhenRunning: BuildStatus.Canceled))
        {
            throw ApiException.InvalidState($"Deployment '{id}' has already ended.");
        }
        queue.Cancel(deployment.Id);
        return (await ResponsesAsync(db, cache, router, [await db.Deployments.FirstAsync(d => d.Id == deployment.Id, ct)], ct))[0];
    }

    private static async Task<Created<DeploymentResponse>> RedeployAsync(string id, Caller caller, DeploymentAccess deployments, Access access,
        SlipwayDb db, DeploymentQueueing queueing, CancellationToken ct)
    {
        var source = await deployments.FindAsync(caller, id, Need.Write, ct);
        var (project, _) = await access.ProjectAsync(caller, source.ProjectId, Need.Write, ct);
        if (source.UploadId is { } uploadId)
        {
            // Its source is the upload, not the repository: building the branch instead would deploy something else.
            throw ApiException.InvalidState(
                $"Deployment {source.Id} deployed upload {uploadId}: distribute that upload again (POST /api/v1/uploads/{uploadId}/distribute) instead.");
        }
        var environment = await db.Environments.FirstAsync(e => e.Id == source.EnvironmentId, ct);
        var response = await queueing.QueueAsync(caller, project, environment, DeploymentTrigger.Redeploy, source.Branch,
            source.CommitSha ?? source.RequestedCommitSha, source, ct);
        return TypedResults.Created($"/api/v1/deployments/{response.Id}", response);
    }

    private static async Task<Created<DeploymentResponse>> RollbackAsync(string id, Caller caller, DeploymentAccess deployments, Access access,
        SlipwayDb db, DeploymentQueueing queueing, CancellationToken ct)
    {
        var source = await deployments.FindAsync(caller, id, Need.Write, ct);
        var (project, _) = await access.ProjectAsync(caller, source.ProjectId, Need.Write, ct);
        var environment = await db.Environments.FirstAsync(e => e.Id == source.EnvironmentId, ct);
        var response = await queueing.QueueRollbackAsync(caller, project, environment, source, ct);
        return TypedResults.Created($"/api/v1/deployments/{response.Id}", response);
    }

    private static async Task<Created<DeploymentResponse>> ProjectRollbackAsync(string projectId, ProjectRollbackRequest? body, Caller caller,
        Access access, SlipwayDb db, DeploymentQueueing queueing, CancellationToken ct)
    {
        var (project, _) = await access.ProjectAsync(caller, projectId, Need.Write, ct);
        var environment = await EnvironmentEndpoints.ByNameAsync(db, project.Id, body?.Environment, ct);
        var live = environment.LiveDeploymentId is { } liveId ? await db.Deployments.FirstOrDefaultAsync(d => d.Id == liveId, ct) : null;
        if (live is null) throw ApiException.InvalidState("This environment has no live release to roll back from.");
        // The previous live release: the newest other ready release that is still retained and differs from the live one.
        var previous = await db.Deployments
            .Where(d => d.EnvironmentId == environment.Id && d.Status == DeploymentStatus.Ready && d.Id != live.Id && !d.ArtifactCollected
                        && d.ArtifactSha256 != null && d.ArtifactSha256 != live.ArtifactSha256)
            .OrderByDescending(d => d.FinishedAt).ThenByDescending(d => d.Id).FirstOrDefaultAsync(ct)
            ?? throw ApiException.InvalidState("There is no earlier retained release to roll back to.");
        var response = await queueing.QueueRollbackAsync(caller, project, environment, previous, ct);
        return TypedResults.Created($"/api/v1/deployments/{response.Id}", response);
    }

    private static void Validate(string? branch, string? commitSha) => new Validator()
        .Check(branch is null || ProjectRules.IsRefName(branch), "branch", "must be a valid git branch name")
        .Check(commitSha is null || CommitSha().IsMatch(commitSha), "commit_sha", "must be 7 to 40 lowercase hex characters")
        .ThrowIfInvalid();

    /// <summary>Deployments with their project and environment, from the project read cache (no query when it is warm).</summary>
    internal static async Task<IReadOnlyList<DeploymentResponse>> ResponsesAsync(SlipwayDb db, ProjectReadCache cache, RouterOptions router,
        IReadOnlyList<Deployment> rows, CancellationToken ct)
    {
        var snapshots = await cache.GetManyAsync(db, rows.Select(d => d.ProjectId).Distinct().ToList(), ct);
        return rows.Select(d =>
        {
            var snapshot = snapshots[d.ProjectId];
            return DeploymentResponse.From(d, snapshot.Project, snapshot.Environments.First(e => e.Id == d.EnvironmentId), router);
        }).ToList();
    }
}
