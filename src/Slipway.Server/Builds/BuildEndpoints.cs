using Microsoft.AspNetCore.Mvc;
using Microsoft.Net.Http.Headers;
using Slipway.Server.Auth;
using Slipway.Server.Data;
using Slipway.Server.Deployments;
using Slipway.Server.Hosting;
using Slipway.Server.Workspaces;

namespace Slipway.Server.Builds;

/// <summary>The BuildPixel view: a build is the build phase of a deployment, with its own id and its artifact.</summary>
internal static class BuildEndpoints
{
    public static IEndpointRouteBuilder MapBuildEndpoints(this IEndpointRouteBuilder app)
    {
        var builds = app.MapGroup("/api/v1/builds").WithTags("Builds");
        builds.MapGet("/", ListAsync).RequireScope(Scopes.DeploymentsRead);
        builds.MapGet("/{id}", GetAsync).RequireScope(Scopes.DeploymentsRead);
        builds.MapGet("/{id}/artifact", DownloadAsync).RequireScope(Scopes.ArtifactsRead)
            .Produces<Stream>(StatusCodes.Status200OK, "application/gzip").Produces<Stream>(StatusCodes.Status206PartialContent, "application/gzip");
        return app;
    }

    private static async Task<Page<BuildResponse>> ListAsync(Caller caller, Access access, SlipwayDb db, PageQuery page,
        [FromQuery(Name = "project_id")] string? projectId, CancellationToken ct)
    {
        var projects = access.VisibleProjects(caller).Select(p => p.Id);
        if (projectId is not null)
        {
            var (project, _) = await access.ProjectAsync(caller, projectId, Need.Read, ct);
            projects = projects.Where(p => p == project.Id);
        }
        // Rollbacks reuse another deployment's build: they have no build of their own to list.
        var query = db.Deployments.Where(d => projects.Contains(d.ProjectId) && d.Trigger != DeploymentTrigger.Rollback);
        if (page.After is { } after) query = query.Where(d => string.Compare(d.BuildId, after) < 0);
        var rows = await query.OrderByDescending(d => d.BuildId).Take(page.Limit + 1).ToListAsync(ct);
        var more = rows.Count > page.Limit;
        if (more) rows.RemoveAt(rows.Count - 1);
        return new Page<BuildResponse>(rows.Select(BuildResponse.From).ToList(), more ? PageQuery.EncodeCursor(rows[^1].BuildId) : null);
    }

    private static async Task<BuildResponse> GetAsync(string id, Caller caller, DeploymentAccess deployments, CancellationToken ct) =>
        BuildResponse.From(await deployments.FindBuildAsync(caller, id, ct));

    /// <summary>The packed build output: <c>ETag</c> is its sha256, range requests are honoured.</summary>
    private static async Task<IResult> DownloadAsync(string id, Caller caller, DeploymentAccess deployments, ArtifactStore artifacts,
        CancellationToken ct)
    {
        var build = await deployments.FindBuildAsync(caller, id, ct);
        if (build.ArtifactSha256 is not { } sha || build.ArtifactCollected || !artifacts.Exists(sha))
        {
            throw ApiException.NotFound($"Build '{id}' has no retained artifact.");
        }
        return Results.File(artifacts.PathOf(sha), "application/gzip", $"{build.BuildId}.tar.gz",
            entityTag: new EntityTagHeaderValue($"\"{sha}\""), enableRangeProcessing: true);
    }
}
