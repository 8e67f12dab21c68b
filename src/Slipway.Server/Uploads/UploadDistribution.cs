using Slipway.Server.Auth;
using Slipway.Server.Data;
using Slipway.Server.Deployments;
using Slipway.Server.Hosting;

namespace Slipway.Server.Uploads;

/// <summary>Approval and distribution: an approved upload becomes a deployment (<c>trigger: upload</c>) in the same transaction.</summary>
internal sealed class UploadDistribution(SlipwayDb db, UploadStates states, DeploymentQueueing queueing, DeploymentQueue queue)
{
    /// <summary>Approves (from <paramref name="from"/>); with <c>auto_release</c>, distributes in the same transaction.</summary>
    public async Task<bool> ApproveAsync(string id, UploadStatus[] from, Caller? reviewer, CancellationToken ct)
    {
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        if (!await states.TransitionAsync(id, from, UploadStatus.Approved, reviewer?.UserId, null, ct)) return false;
        var upload = await db.Uploads.FirstAsync(u => u.Id == id, ct);
        if (upload.AutoRelease && !await QueueAsync(upload, reviewer, [UploadStatus.Approved], ct)) return false;
        await tx.CommitAsync(ct);
        queue.Wake();
        return true;
    }

    /// <summary>
    /// Distributes an approved upload, or again one distributed before (a rollback to it, from its kept files, without a new
    /// upload). 409 when it is in no state to be distributed or its files were collected.
    /// </summary>
    public async Task DistributeAsync(Upload upload, Caller caller, CancellationToken ct)
    {
        // A failed upload whose files are kept failed in its distribution (validation failures free them), so it was approved.
        if (upload.Status is not (UploadStatus.Approved or UploadStatus.Distributed or UploadStatus.Failed) || upload.FilesCollected)
        {
            throw ApiException.InvalidState($"Upload {upload.Id} is {ApiEnums.Text(upload.Status)}" +
                                            (upload.FilesCollected ? " and its files are no longer kept" : "") + "; only an approved upload can be distributed.");
        }
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        if (!await QueueAsync(upload, caller, [UploadStatus.Approved, UploadStatus.Distributed, UploadStatus.Failed], ct))
        {
            throw ApiException.InvalidState($"Upload {upload.Id} changed meanwhile; try again.");
        }
        await tx.CommitAsync(ct);
        queue.Wake();
    }

    private async Task<bool> QueueAsync(Upload upload, Caller? caller, UploadStatus[] from, CancellationToken ct)
    {
        var project = await db.Projects.FirstAsync(p => p.Id == upload.ProjectId, ct);
        var environment = await db.Environments.FirstAsync(e => e.Id == upload.EnvironmentId, ct);
        var deployment = await queueing.QueueUploadAsync(caller, project, environment, upload, ct);
        return await states.TransitionAsync(upload.Id, from, UploadStatus.Distributing, caller?.UserId, null, ct,
            alsoInTransaction: () => db.Uploads.Where(u => u.Id == upload.Id)
                .ExecuteUpdateAsync(s => s.SetProperty(u => u.DeploymentId, deployment.Id).SetProperty(u => u.Reason, (string?)null), ct));
    }
}
