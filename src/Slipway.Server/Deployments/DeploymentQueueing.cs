using Slipway.Server.Auth;
using Slipway.Server.Data;
using Slipway.Server.Hosting;
using Slipway.Server.Routing;
using Slipway.Server.Projects;

namespace Slipway.Server.Deployments;

/// <summary>Creates queued deployments (with their <c>deployment.created</c> event) and wakes the worker.</summary>
internal sealed class DeploymentQueueing(SlipwayDb db, DeploymentStates states, DeploymentQueue queue, TimeProvider time, RouterOptions router)
{
    public async Task<DeploymentResponse> QueueAsync(Caller? caller, Project project, ProjectEnvironment environment, DeploymentTrigger trigger,
        string? branch, string? commitSha, Deployment? source, CancellationToken ct, string? commitMessage = null)
    {
        if (project.RepoUrl.Length == 0)
        {
            throw ApiException.InvalidState("This project has no repository: it deploys uploaded builds (POST /api/v1/projects/{id}/uploads).");
        }
        var deployment = New(caller, project, environment, trigger, branch ?? environment.Branch ?? project.Branch, commitSha, source?.Id);
        deployment.CommitMessage = commitMessage;
        // A push names its full commit: shown from the start (the checkout records the same SHA).
        if (trigger == DeploymentTrigger.Github && commitSha is { Length: 40 }) deployment.CommitSha = commitSha;
        return await SaveAsync(deployment, project, environment,
            trigger == DeploymentTrigger.Redeploy ? "deployment.redeploy_queued" : trigger == DeploymentTrigger.Github ? "deployment.github" : null, ct);
    }

    /// <summary>An approved upload's distribution: its extracted tree is the source (see SourcePhase); the caller's transaction.</summary>
    public async Task<DeploymentResponse> QueueUploadAsync(Caller? caller, Project project, ProjectEnvironment environment, Uploads.Upload upload,
        CancellationToken ct)
    {
        var deployment = New(caller, project, environment, DeploymentTrigger.Upload, environment.Branch ?? project.Branch, null, null, upload.Id);
        deployment.CommitMessage = "Upload " + (upload.Version ?? upload.FileName);
        return await SaveAsync(deployment, project, environment, null, ct);
    }

    /// <summary>A rollback reuses the source's retained build: no clone, no build command, just a release.</summary>
    public async Task<DeploymentResponse> QueueRollbackAsync(Caller caller, Project project, ProjectEnvironment environment, Deployment source,
        CancellationToken ct)
    {
        if (source.Status != DeploymentStatus.Ready || source.ArtifactSha256 is null || source.ArtifactCollected)
        {
            throw ApiException.InvalidState("Only a ready deployment whose release is still retained can be rolled back to.");
        }
        var deployment = New(caller, project, environment, DeploymentTrigger.Rollback, source.Branch, source.CommitSha, source.Id);
        deployment.CommitSha = source.CommitSha;
        deployment.CommitMessage = source.CommitMessage;
        deployment.Framework = source.Framework;
        deployment.StartCommand = source.StartCommand;
        deployment.StaticDirectory = source.StaticDirectory;
        deployment.ArtifactSha256 = source.ArtifactSha256;
        deployment.ArtifactSize = source.ArtifactSize;
        deployment.BuildStatus = BuildStatus.Succeeded;
        return await SaveAsync(deployment, project, environment, null, ct);
    }

    private Deployment New(Caller? caller, Project project, ProjectEnvironment environment, DeploymentTrigger trigger, string branch,
        string? commitSha, string? sourceId, string? uploadId = null)
    {
        var now = time.UtcNowMs();
        return new Deployment
        {
            Id = Ids.New(time), BuildId = Ids.New(time), WorkspaceId = project.WorkspaceId, ProjectId = project.Id, EnvironmentId = environment.Id,
            Status = DeploymentStatus.Queued, BuildStatus = BuildStatus.Pending, Trigger = trigger, Branch = branch, RequestedCommitSha = commitSha,
            SourceDeploymentId = sourceId, UploadId = uploadId, CreatedBy = caller?.UserId, CreatedAt = now, UpdatedAt = now,
        };
    }

    /// <summary>
    /// In its own transaction, or in the caller's when one is open (a GitHub delivery commits its record with the
    /// deployments it queued; the caller then commits and wakes the worker itself: a wake-up before the commit could
    /// find nothing queued yet and the deployment would wait for the next idle poll).
    /// </summary>
    private async Task<DeploymentResponse> SaveAsync(Deployment deployment, Project project, ProjectEnvironment environment, string? extraEvent,
        CancellationToken ct)
    {
        await using var tx = db.Database.CurrentTransaction is null ? await db.Database.BeginTransactionAsync(ct) : null;
        db.Deployments.Add(deployment);
        await db.SaveChangesAsync(ct);
        states.AddEvent(deployment, project, environment, "deployment.created");
        if (extraEvent is not null) states.AddEvent(deployment, project, environment, extraEvent);
        await db.SaveChangesAsync(ct);
        if (tx is null) return DeploymentResponse.From(deployment, project, environment, router);
        await tx.CommitAsync(ct);
        queue.Wake();
        return DeploymentResponse.From(deployment, project, environment, router);
    }
}
