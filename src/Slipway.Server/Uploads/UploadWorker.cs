using System.Threading.Channels;
using Slipway.Server.Builds;
using Slipway.Server.Data;

namespace Slipway.Server.Uploads;

/// <summary>Wakes the upload worker; the database is the source of truth, a wake-up only says "look again".</summary>
internal sealed class UploadQueue
{
    private readonly Channel<bool> wakeups = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    public void Wake() => wakeups.Writer.TryWrite(true);

    public ValueTask<bool> WaitAsync(CancellationToken ct) => wakeups.Reader.WaitToReadAsync(ct);
}

/// <summary>
/// Validates received uploads one at a time: <c>uploaded → validating</c>, the archive checked and extracted to staging, then
/// moved into place; <c>approved</c> (automatic approval, distributed at once with <c>auto_release</c>) or
/// <c>pending_approval</c>; a refused archive ends <c>rejected</c> with its reason and nothing of it on disk. On start, an
/// upload a crash caught mid-validation ends <c>failed</c>: its staging may be half written, so it is removed, never resumed.
/// </summary>
internal sealed partial class UploadWorker(IServiceScopeFactory scopes, UploadQueue queue, UploadFiles files, ArchiveValidator validator,
    TimeProvider time, ILogger<UploadWorker> logger) : BackgroundService
{
    public const string Interrupted = "Interrupted by a server restart during validation; upload it again.";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await RecoverAsync(stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                while (await ClaimAsync(stoppingToken) is { } id) await ValidateAsync(id, stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LoopFailed(logger, e);
            }
            using var idle = new CancellationTokenSource(TimeSpan.FromSeconds(2), time);
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, idle.Token);
            try
            {
                await queue.WaitAsync(wait.Token);
            }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
            {
            }
        }
    }

    private async Task RecoverAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
        var states = scope.ServiceProvider.GetRequiredService<UploadStates>();
        foreach (var id in await db.Uploads.Where(u => u.Status == UploadStatus.Validating).Select(u => u.Id).ToListAsync(ct))
        {
            // Files first: once it reads failed, nothing of it is left on disk.
            files.DeleteAll(id);
            await db.Uploads.Where(u => u.Id == id).ExecuteUpdateAsync(s => s.SetProperty(u => u.FilesCollected, true), ct);
            await states.TransitionAsync(id, [UploadStatus.Validating], UploadStatus.Failed, null, Interrupted, ct);
        }
    }

    private async Task<string?> ClaimAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
        var states = scope.ServiceProvider.GetRequiredService<UploadStates>();
        foreach (var id in await db.Uploads.Where(u => u.Status == UploadStatus.Uploaded).OrderBy(u => u.Id).Select(u => u.Id).Take(8).ToListAsync(ct))
        {
            if (await states.TransitionAsync(id, [UploadStatus.Uploaded], UploadStatus.Validating, null, null, ct)) return id;
        }
        return null;
    }

    private async Task ValidateAsync(string id, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
        var states = scope.ServiceProvider.GetRequiredService<UploadStates>();
        var upload = await db.Uploads.FirstAsync(u => u.Id == id, ct);
        var staging = files.StagingPath(id);
        ArchiveSummary summary;
        try
        {
            files.DeleteDirectory(staging);
            summary = await validator.ExtractAsync(files.ArchivePath(id), upload.Format, staging, ct);
            Directory.Move(staging, files.TreePath(id));
            files.DeleteFile(files.ArchivePath(id));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            files.DeleteAll(id);
            if (await GoneAsync(db, id)) return;
            var rejected = e is UnsafeArchiveException;
            if (!rejected) ValidationCrashed(logger, e, id);
            await db.Uploads.Where(u => u.Id == id).ExecuteUpdateAsync(s => s.SetProperty(u => u.FilesCollected, true), CancellationToken.None);
            await states.TransitionAsync(id, [UploadStatus.Validating], rejected ? UploadStatus.Rejected : UploadStatus.Failed, null,
                rejected ? e.Message : "Slipway hit an internal error while validating; see the server log.", CancellationToken.None);
            return;
        }
        if (await GoneAsync(db, id))
        {
            files.DeleteAll(id);
            return;
        }
        await db.Uploads.Where(u => u.Id == id).ExecuteUpdateAsync(s => s
            .SetProperty(u => u.Entries, summary.Entries).SetProperty(u => u.UncompressedSize, summary.UncompressedBytes), ct);
        var approval = await db.Projects.Where(p => p.Id == upload.ProjectId).Select(p => p.UploadApproval).FirstAsync(ct);
        if (approval == UploadApproval.Manual)
        {
            await states.TransitionAsync(id, [UploadStatus.Validating], UploadStatus.PendingApproval, null, null, ct);
            return;
        }
        await scope.ServiceProvider.GetRequiredService<UploadDistribution>().ApproveAsync(id, [UploadStatus.Validating], null, ct);
    }

    /// <summary>
    /// Whether the upload's project or environment was deleted while it validated. Their teardown removed the files it found,
    /// but extraction goes on (recreating the staging directory) and then moves the tree into place: only this side sees the end.
    /// </summary>
    private static async Task<bool> GoneAsync(SlipwayDb db, string id) => !await db.Uploads.AnyAsync(u => u.Id == id, CancellationToken.None);

    [LoggerMessage(EventId = 14002, Level = LogLevel.Error, Message = "The upload loop failed; retrying")]
    private static partial void LoopFailed(ILogger logger, Exception ex);

    [LoggerMessage(EventId = 14003, Level = LogLevel.Error, Message = "Validating upload {UploadId} failed with an internal error")]
    private static partial void ValidationCrashed(ILogger logger, Exception ex, string uploadId);
}
