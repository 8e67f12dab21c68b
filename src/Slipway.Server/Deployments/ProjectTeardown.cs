using Slipway.Server.Data;
using Slipway.Server.Projects;
using Slipway.Server.Runtime;

namespace Slipway.Server.Deployments;

/// <summary>
/// What deleting a project or an environment means for the engine: its running deployments are canceled, its
/// processes stopped, its routes removed and its releases and artifacts freed (an artifact still used elsewhere stays).
/// </summary>
internal sealed class ProjectTeardown(SlipwayDb db, ProjectReadCache cache, DeploymentQueue queue, Supervisor supervisor, RouteSync routes,
    ReleaseFiles files, Uploads.UploadFiles uploadFiles)
{
    /// <summary>Cascades to environments, env vars, domains, deployments, their logs, uploads and the keys restricted to the project.</summary>
    public Task DeleteAsync(string projectId, CancellationToken ct) =>
        TearDownAsync(projectId, db.Deployments.Where(d => d.ProjectId == projectId), db.Uploads.Where(u => u.ProjectId == projectId),
            () => db.Projects.Where(p => p.Id == projectId).ExecuteDeleteAsync(ct), ct);

    /// <summary>Cascades to the environment's env vars, domains, deployments, their logs and uploads.</summary>
    public Task DeleteEnvironmentAsync(string projectId, string environmentId, CancellationToken ct) =>
        TearDownAsync(projectId, db.Deployments.Where(d => d.EnvironmentId == environmentId), db.Uploads.Where(u => u.EnvironmentId == environmentId),
            () => db.Environments.Where(e => e.Id == environmentId).ExecuteDeleteAsync(ct), ct);

    private async Task TearDownAsync(string projectId, IQueryable<Deployment> owned, IQueryable<Uploads.Upload> ownedUploads, Func<Task<int>> delete,
        CancellationToken ct)
    {
        var deployments = await owned.Select(d => new { d.Id, d.ArtifactSha256 }).ToListAsync(ct);
        var uploads = await ownedUploads.Select(u => u.Id).ToListAsync(ct);
        foreach (var d in deployments) queue.Cancel(d.Id);
        await delete();
        cache.Invalidate(projectId);
        await routes.RebuildAsync(ct);
        await Task.WhenAll(deployments.Select(d => supervisor.StopAsync(d.Id, TimeSpan.Zero)));

        // The rows are gone: from here on nothing may fail the request, a file that will not go stays behind.
        foreach (var d in deployments) files.DeleteRelease(d.Id);
        foreach (var id in uploads) uploadFiles.DeleteAll(id);
        foreach (var sha in deployments.Select(d => d.ArtifactSha256).OfType<string>().Distinct())
        {
            await files.DeleteArtifactIfUnusedAsync(db, sha, CancellationToken.None);
        }
    }
}
