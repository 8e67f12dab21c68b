using Slipway.Server.Data;
using Slipway.Server.Deployments;
using Slipway.Server.Events;
using Slipway.Server.Hosting;
using Slipway.Server.Routing;

namespace Slipway.Server.Uploads;

internal sealed record UploadResponse(
    string Id, string ProjectId, string Environment, UploadStatus Status, string FileName, ArchiveFormat Format, long Size, string Sha256, string? Version, string? Notes,
    bool AutoRelease, int? Entries, long? UncompressedSize, string? Reason, string? DeploymentId, bool FilesKept, string? CreatedBy, string? ReviewedBy,
    DateTime CreatedAt, DateTime UpdatedAt, DateTime? DistributedAt)
{
    public static UploadResponse From(Upload u, string environment) => new(
        u.Id, u.ProjectId, environment, u.Status, u.FileName, u.Format, u.Size, u.Sha256, u.Version, u.Notes, u.AutoRelease, u.Entries, u.UncompressedSize,
        u.Reason, u.DeploymentId, !u.FilesCollected, u.CreatedBy, u.ReviewedBy, u.CreatedAt, u.UpdatedAt, u.DistributedAt);
}

internal sealed record UploadChangeResponse(UploadStatus? From, UploadStatus To, string? Actor, string? Reason, DateTime At);

/// <summary>A <c>build.*</c> event: the upload, and its deployment once there is one.</summary>
internal sealed record UploadEventData(UploadResponse Upload, DeploymentResponse? Deployment);

/// <summary>
/// The one way an upload changes status: a guarded update (zero rows: someone else got there first), its history row and,
/// for the changes clients wait for, its <c>build.*</c> event, in one transaction.
/// </summary>
internal sealed class UploadStates(SlipwayDb db, TimeProvider time, RouterOptions router)
{
    public async Task<bool> TransitionAsync(string id, UploadStatus[] from, UploadStatus to, string? actor, string? reason, CancellationToken ct,
        Func<Task>? alsoInTransaction = null)
    {
        await using var tx = db.Database.CurrentTransaction is null ? await db.Database.BeginTransactionAsync(ct) : null;
        var previous = await db.Uploads.Where(u => u.Id == id).Select(u => (UploadStatus?)u.Status).FirstOrDefaultAsync(ct);
        var now = time.UtcNowMs();
        var changed = previous is { } status && from.Contains(status) && await db.Uploads.Where(u => u.Id == id && u.Status == status)
            .ExecuteUpdateAsync(s => s
                .SetProperty(u => u.Status, to)
                .SetProperty(u => u.UpdatedAt, now)
                .SetProperty(u => u.Reason, u => reason ?? u.Reason)
                .SetProperty(u => u.ReviewedBy, u => to == UploadStatus.Approved || to == UploadStatus.Rejected ? actor ?? u.ReviewedBy : u.ReviewedBy)
                .SetProperty(u => u.DistributedAt, u => to == UploadStatus.Distributed ? now : u.DistributedAt), ct) == 1;
        if (!changed)
        {
            if (tx is not null) await tx.RollbackAsync(ct);
            return false;
        }
        db.UploadHistory.Add(new UploadChange { Id = Ids.New(time), UploadId = id, FromStatus = previous, ToStatus = to, Actor = actor, Reason = reason, At = now });
        if (alsoInTransaction is not null) await alsoInTransaction();
        if (EventType(to) is { } type) await AddEventAsync(id, type, ct);
        await db.SaveChangesAsync(ct);
        if (tx is not null) await tx.CommitAsync(ct);
        return true;
    }

    /// <summary>A new upload with its first history row and <c>build.uploaded</c> (the caller's transaction, or its own).</summary>
    public async Task AddAsync(Upload upload, CancellationToken ct)
    {
        db.Uploads.Add(upload);
        db.UploadHistory.Add(new UploadChange { Id = Ids.New(time), UploadId = upload.Id, ToStatus = upload.Status, Actor = upload.CreatedBy, At = upload.CreatedAt });
        await db.SaveChangesAsync(ct);
        await AddEventAsync(upload.Id, "build.uploaded", ct);
        await db.SaveChangesAsync(ct);
    }

    /// <summary>
    /// A distributing upload follows its deployment: ready makes it distributed, failed or canceled makes it failed. Called by
    /// <see cref="DeploymentStates"/> inside the deployment's own terminal transition.
    /// </summary>
    public async Task FollowDeploymentAsync(string deploymentId, DeploymentStatus status, string? error, CancellationToken ct)
    {
        var uploadId = await db.Deployments.Where(d => d.Id == deploymentId).Select(d => d.UploadId).FirstOrDefaultAsync(ct);
        if (uploadId is null) return;
        var to = status == DeploymentStatus.Ready ? UploadStatus.Distributed : UploadStatus.Failed;
        var reason = status == DeploymentStatus.Ready ? null : $"Deployment {deploymentId} ended {ApiEnums.Text(status)}: {error?.Split('\n')[0]}";
        await TransitionAsync(uploadId, [UploadStatus.Distributing], to, null, reason, ct);
    }

    public async Task<UploadResponse> ResponseAsync(string id, CancellationToken ct)
    {
        var upload = await db.Uploads.FirstAsync(u => u.Id == id, ct);
        var environment = await db.Environments.Where(e => e.Id == upload.EnvironmentId).Select(e => e.Name).FirstAsync(ct);
        return UploadResponse.From(upload, environment);
    }

    private async Task AddEventAsync(string id, string type, CancellationToken ct)
    {
        var upload = await db.Uploads.FirstAsync(u => u.Id == id, ct);
        var environment = await db.Environments.FirstAsync(e => e.Id == upload.EnvironmentId, ct);
        DeploymentResponse? deployment = null;
        if (upload.DeploymentId is { } deploymentId)
        {
            var row = await db.Deployments.FirstAsync(d => d.Id == deploymentId, ct);
            var project = await db.Projects.FirstAsync(p => p.Id == upload.ProjectId, ct);
            var liveEnvironment = await db.Environments.FirstAsync(e => e.Id == row.EnvironmentId, ct);
            deployment = DeploymentResponse.From(row, project, liveEnvironment, router);
        }
        db.Events.Add(Event.Of(time, upload.WorkspaceId, upload.ProjectId, type, new UploadEventData(UploadResponse.From(upload, environment.Name), deployment)));
    }

    private static string? EventType(UploadStatus to) => to switch
    {
        UploadStatus.Approved => "build.approved",
        UploadStatus.Rejected => "build.rejected",
        UploadStatus.Distributed => "build.distributed",
        UploadStatus.Uploaded or UploadStatus.Validating or UploadStatus.PendingApproval or UploadStatus.Distributing or UploadStatus.Failed => null,
        _ => null,
    };
}
