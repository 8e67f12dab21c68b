using System.Linq.Expressions;
using Slipway.Server.Data;
using Slipway.Server.Events;
using Slipway.Server.Hosting;
using Slipway.Server.Routing;
using Slipway.Server.Logs;
using Slipway.Server.Projects;

namespace Slipway.Server.Deployments;

/// <summary>
/// The one way a deployment changes state: a guarded set-based update (zero rows: someone else got there first)
/// and its <c>deployment.status_changed</c> event, in one transaction.
/// </summary>
internal sealed class DeploymentStates(SlipwayDb db, LogHub hub, TimeProvider time, RouterOptions router, DeploymentMetrics metrics,
    Uploads.UploadStates uploads)
{
    public static readonly Expression<Func<Deployment, bool>> NotTerminal =
        d => d.Status != DeploymentStatus.Ready && d.Status != DeploymentStatus.Failed && d.Status != DeploymentStatus.Canceled;

    // buildStatusWhenRunning ends the build phase too, when it is still pending or running; alsoInTransaction holds
    // more writes that must commit or roll back with the transition (the live switch).
    public async Task<bool> TransitionAsync(string id, Expression<Func<Deployment, bool>> guard, DeploymentStatus to, string? error,
        CancellationToken ct, BuildStatus? buildStatus = null, BuildStatus? buildStatusWhenRunning = null, Func<Task>? alsoInTransaction = null)
    {
        var now = time.UtcNowMs();
        var terminal = Deployment.IsTerminal(to);
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var changed = await db.Deployments.Where(d => d.Id == id).Where(guard).ExecuteUpdateAsync(s => s
            .SetProperty(d => d.Status, to)
            .SetProperty(d => d.UpdatedAt, now)
            .SetProperty(d => d.Error, d => error ?? d.Error)
            .SetProperty(d => d.StartedAt, d => to == DeploymentStatus.Building && d.StartedAt == null ? now : d.StartedAt)
            .SetProperty(d => d.FinishedAt, d => terminal ? now : d.FinishedAt)
            .SetProperty(d => d.BuildStatus, d => buildStatus ?? d.BuildStatus), ct);
        if (changed == 0)
        {
            await tx.RollbackAsync(ct);
            return false;
        }
        if (buildStatusWhenRunning is { } ended)
        {
            await db.Deployments.Where(d => d.Id == id && (d.BuildStatus == BuildStatus.Pending || d.BuildStatus == BuildStatus.Running))
                .ExecuteUpdateAsync(s => s.SetProperty(d => d.BuildStatus, ended).SetProperty(d => d.BuildFinishedAt, now), ct);
        }
        if (alsoInTransaction is not null) await alsoInTransaction();
        var changedTo = await AddEventAsync(id, "deployment.status_changed", ct);
        // An upload being distributed follows its deployment, in the same transaction.
        if (terminal) await uploads.FollowDeploymentAsync(id, to, error, ct);
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        hub.PublishStatus(id, to);
        if (terminal) metrics.Ended(changedTo);
        return true;
    }

    /// <summary>Adds an event with the deployment as the API shows it now (the caller saves, in its transaction); returns that deployment.</summary>
    public async Task<Deployment> AddEventAsync(string deploymentId, string type, CancellationToken ct)
    {
        var deployment = await db.Deployments.FirstAsync(d => d.Id == deploymentId, ct);
        var project = await db.Projects.FirstAsync(p => p.Id == deployment.ProjectId, ct);
        var environment = await db.Environments.FirstAsync(e => e.Id == deployment.EnvironmentId, ct);
        AddEvent(deployment, project, environment, type);
        return deployment;
    }

    /// <summary>The same, for a caller that already holds the deployment as saved and its project and environment.</summary>
    public void AddEvent(Deployment deployment, Project project, ProjectEnvironment environment, string type)
    {
        var response = DeploymentResponse.From(deployment, project, environment, router);
        db.Events.Add(Event.Of(time, deployment.WorkspaceId, deployment.ProjectId, type, response));
    }
}
