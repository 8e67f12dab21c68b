using System.Text.Json;
using Slipway.Server.Builds;
using Slipway.Server.Data;
using Slipway.Server.Logs;
using Slipway.Server.Projects;
using Slipway.Server.Runtime;

namespace Slipway.Server.Deployments;

/// <summary>
/// Route: the router points at the new release first, then one transaction makes the deployment ready and live; only
/// then is the old release drained. Afterwards retention frees releases beyond the newest N of the environment.
/// </summary>
internal sealed class RoutePhase(IServiceScopeFactory scopes, RouteSync routes, Supervisor supervisor, LogWriter logs, ReleaseFiles files,
    Uploads.UploadFiles uploadFiles, ProjectReadCache projectCache, DeploymentReadCache deploymentCache, BuildOptions buildOptions, RuntimeOptions runtimeOptions)
{
    /// <summary>False when the deployment was no longer deploying (canceled meanwhile): nothing changed, the route is back.</summary>
    public async Task<bool> SwitchAsync(DeploymentRun run, DeploymentStates states, CancellationToken ct)
    {
        var (id, deployment, project, environment) = (run.Id, run.Deployment, run.Project, run.Environment);
        var previousLive = environment.LiveDeploymentId;
        // Route first, then commit: whoever sees "ready" reaches the new release. A failed commit routes back.
        await routes.RouteAheadAsync(deployment, CancellationToken.None);
        // Every line is written before the terminal state, so a follower's "end" really is the end of the log.
        run.Log("system", $"Live: {deployment.Id} serves {environment.Name}.");
        await logs.FlushAsync(CancellationToken.None);
        var isProduction = environment.Name == ProjectEnvironment.Production;
        var timings = JsonSerializer.Serialize(run.Timings);
        var db = run.Db;
        var switched = await states.TransitionAsync(id, d => d.Status == DeploymentStatus.Deploying, DeploymentStatus.Ready, null, ct,
            alsoInTransaction: async () =>
            {
                await db.Deployments.Where(d => d.Id == id).ExecuteUpdateAsync(s => s.SetProperty(d => d.Timings, timings), ct);
                await db.Environments.Where(e => e.Id == environment.Id).ExecuteUpdateAsync(s => s.SetProperty(e => e.LiveDeploymentId, id), ct);
                if (isProduction)
                {
                    await db.Projects.Where(p => p.Id == project.Id).ExecuteUpdateAsync(s => s.SetProperty(p => p.LiveDeploymentId, id), ct);
                }
            });
        projectCache.Invalidate(project.Id);
        await routes.SettleAsync(environment.Id, CancellationToken.None);
        if (!switched) return false;
        if (previousLive is not null && previousLive != id)
        {
            _ = supervisor.StopAsync(previousLive, runtimeOptions.DrainGrace);
        }
        await CollectAsync(environment.Id, CancellationToken.None);
        return true;
    }

    /// <summary>Keeps the newest N ready releases and distributed uploads per environment (and always the live one); frees the rest.</summary>
    private async Task CollectAsync(string environmentId, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
        var live = await db.Environments.Where(e => e.Id == environmentId).Select(e => e.LiveDeploymentId).FirstAsync(ct);
        var retained = await db.Deployments
            .Where(d => d.EnvironmentId == environmentId && d.Status == DeploymentStatus.Ready && !d.ArtifactCollected)
            .OrderByDescending(d => d.FinishedAt).ThenByDescending(d => d.Id).Select(d => new { d.Id, d.ArtifactSha256 }).ToListAsync(ct);
        var keep = retained.Take(Math.Max(1, buildOptions.RetainedReleases)).Select(d => d.Id).Append(live).ToHashSet();
        foreach (var old in retained.Where(d => !keep.Contains(d.Id)))
        {
            await db.Deployments.Where(d => d.Id == old.Id).ExecuteUpdateAsync(s => s.SetProperty(d => d.ArtifactCollected, true), ct);
            deploymentCache.Forget(old.Id);
            files.DeleteRelease(old.Id);
            if (old.ArtifactSha256 is { } sha) await files.DeleteArtifactIfUnusedAsync(db, sha, ct);
        }
        await uploadFiles.CollectAsync(db, environmentId, live, buildOptions.RetainedReleases, ct);
    }
}
