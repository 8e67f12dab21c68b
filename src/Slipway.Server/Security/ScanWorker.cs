using System.Threading.Channels;
using Slipway.Server.Builds;
using Slipway.Server.Data;
using Slipway.Server.Deployments;
using Slipway.Server.Events;
using Slipway.Server.Hosting;
using Slipway.Server.Projects;
using Slipway.Server.Runtime.Sandbox;

namespace Slipway.Server.Security;

/// <summary>Wakes the scan worker; the database is the source of truth, a wake-up only says "look again".</summary>
internal sealed class ScanQueue
{
    private readonly Channel<bool> wakeups = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    public void Wake() => wakeups.Writer.TryWrite(true);

    public ValueTask<bool> WaitAsync(CancellationToken ct) => wakeups.Reader.WaitToReadAsync(ct);

    public void Drain()
    {
        while (wakeups.Reader.TryRead(out _))
        {
        }
    }
}

/// <summary>
/// Runs queued scans one at a time: check the commit out, run the repository's scanners, store their SARIF. A scan
/// always ends <c>completed</c> or <c>failed</c>: on start, scans a restart interrupted are marked failed.
/// </summary>
internal sealed class ScanWorker(IServiceScopeFactory scopes, ScanQueue queue, GitSource git, ScanRunner runner, ScannerCatalog catalog,
    Sandbox sandbox, ReleaseFiles files, IConfiguration configuration, TimeProvider time, ILogger<ScanWorker> logger) : BackgroundService
{
    private readonly string work = Path.Combine(configuration.DataDirectory(), "work");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await RecoverAsync(stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            queue.Drain();
            try
            {
                while (await ClaimAsync(stoppingToken) is { } id) await RunAsync(id, stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                SecurityLog.LoopFailed(logger, e);
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

    /// <summary>The oldest queued scan, moved to <c>running</c> by a guarded update (zero rows: someone else took it).</summary>
    private async Task<string?> ClaimAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
        while (await db.Scans.Where(s => s.Status == ScanStatus.Queued && s.Source == ScanSource.Scanner).OrderBy(s => s.Id).Select(s => s.Id).FirstOrDefaultAsync(ct) is { } id)
        {
            var now = time.UtcNowMs();
            var claimed = await db.Scans.Where(s => s.Id == id && s.Status == ScanStatus.Queued)
                .ExecuteUpdateAsync(u => u.SetProperty(s => s.Status, ScanStatus.Running).SetProperty(s => s.StartedAt, now), ct);
            if (claimed == 1) return id;
        }
        return null;
    }

    private async Task RunAsync(string id, CancellationToken ct)
    {
        var directory = Path.Combine(work, $"scan-{id}");
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
        var scan = await db.Scans.FirstAsync(s => s.Id == id, ct);
        try
        {
            var project = await db.Projects.FirstAsync(p => p.Id == scan.ProjectId, ct);
            var settings = await db.RepositorySettings.FirstOrDefaultAsync(s => s.ProjectId == project.Id, ct);
            var scanners = catalog.For(settings);
            var cloneUrl = scope.ServiceProvider.GetRequiredService<RepoCredentials>().CloneUrl(project);
            var checkout = await git.CheckoutAsync(cloneUrl, scan.Branch ?? project.Branch, scan.CommitSha, Path.Combine(directory, "src"), (_, _) => { }, ct);
            scan.CommitSha = checkout.CommitSha;
            scan.Branch ??= ProjectRules.Blank(checkout.Branch);
            var ingestion = scope.ServiceProvider.GetRequiredService<SarifIngestion>();
            var identity = await sandbox.IdentityAsync(db, project.Id, ct);
            await runner.ScanAsync(scan, project, checkout.Directory, Path.Combine(directory, "out"), scanners, ingestion, identity, (_, _) => { }, ct);
            SecurityLog.ScanCompleted(logger, scan.Id, scan.ProjectId, scan.NewCount, scan.FixedCount, scan.UnchangedCount);
        }
        catch (Exception e) when (e is ScanFailedException or BuildException)
        {
            await FailAsync(db, time, scan, e.Message, CancellationToken.None);
            SecurityLog.ScanFailed(logger, scan.Id, scan.ProjectId, e.Message);
        }
        finally
        {
            files.DeleteDirectory(directory);
        }
    }

    /// <summary>Stores a scan as failed with its reason (nothing of its results was stored) and says so with an event.</summary>
    public static async Task FailAsync(SlipwayDb db, TimeProvider time, Scan scan, string error, CancellationToken ct)
    {
        db.ChangeTracker.Clear();
        scan.Status = ScanStatus.Failed;
        scan.Error = error;
        scan.Results = scan.NewCount = scan.FixedCount = scan.UnchangedCount = 0;
        scan.FinishedAt = time.UtcNowMs();
        db.Scans.Update(scan);
        db.Events.Add(Event.Of(time, scan.WorkspaceId, scan.ProjectId, "scan.completed", ScanResponse.From(scan)));
        await db.SaveChangesAsync(ct);
    }

    /// <summary>Scans a restart interrupted never finish by themselves: they end failed, and may be started again.</summary>
    private async Task RecoverAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
        foreach (var scan in await db.Scans.Where(s => s.Status == ScanStatus.Running).ToListAsync(ct))
        {
            SecurityLog.Interrupted(logger, scan.Id);
            await FailAsync(db, time, scan, "The server restarted while this scan ran; start a new scan.", ct);
        }
        if (Directory.Exists(work))
        {
            foreach (var leftover in Directory.EnumerateDirectories(work, "scan-*").Concat(Directory.EnumerateDirectories(work, "upload-*")))
                files.DeleteDirectory(leftover);
        }
    }
}
