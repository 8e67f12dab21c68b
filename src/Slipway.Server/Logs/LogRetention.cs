using Slipway.Server.Data;

namespace Slipway.Server.Logs;

internal sealed class LogOptions
{
    public const string SectionName = "Slipway:Logs";

    /// <summary>Lines kept per deployment; the oldest go first (0: no limit).</summary>
    public long MaxLinesPerDeployment { get; set; } = 100_000;

    /// <summary>Lines of deployments that ended longer ago than this are removed (live releases keep theirs).</summary>
    public TimeSpan RetainFor { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Lines kept in total across all deployments; the oldest deployments' lines go first (0: no limit).</summary>
    public long MaxTotalLines { get; set; } = 10_000_000;

    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Latest events kept in memory per followed deployment, shared by its live followers; one that falls further behind
    /// is told (gap) and catches up from storage.
    /// </summary>
    public int SubscriberBuffer { get; set; } = 100_000;
}

/// <summary>Enforces the log limits with set-based deletes, periodically (and on demand for operators and tests).</summary>
internal sealed partial class LogRetention(IServiceScopeFactory scopes, LogOptions options, TimeProvider time, ILogger<LogRetention> logger)
    : BackgroundService
{
    public async Task<int> RunOnceAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
        var removed = 0;
        var live = db.Environments.Where(e => e.LiveDeploymentId != null).Select(e => e.LiveDeploymentId!);

        var cutoff = time.GetUtcNow().UtcDateTime - options.RetainFor;
        var expired = db.Deployments.Where(d => d.FinishedAt != null && d.FinishedAt < cutoff && !live.Contains(d.Id)).Select(d => d.Id);
        removed += await db.LogLines.Where(l => expired.Contains(l.DeploymentId)).ExecuteDeleteAsync(ct);

        if (options.MaxLinesPerDeployment > 0)
        {
            var over = await db.LogLines.GroupBy(l => l.DeploymentId)
                .Select(g => new { DeploymentId = g.Key, Max = g.Max(l => l.Seq), Count = g.LongCount() })
                .Where(g => g.Count > options.MaxLinesPerDeployment).ToListAsync(ct);
            foreach (var d in over)
            {
                var keepFrom = d.Max - options.MaxLinesPerDeployment;
                removed += await db.LogLines.Where(l => l.DeploymentId == d.DeploymentId && l.Seq <= keepFrom).ExecuteDeleteAsync(ct);
            }
        }

        if (options.MaxTotalLines > 0)
        {
            var total = await db.LogLines.LongCountAsync(ct);
            if (total > options.MaxTotalLines)
            {
                // Oldest deployments first (ids sort by creation), never the live ones.
                var candidates = await db.LogLines.Where(l => !live.Contains(l.DeploymentId)).GroupBy(l => l.DeploymentId)
                    .Select(g => new { DeploymentId = g.Key, Count = g.LongCount() }).OrderBy(g => g.DeploymentId).ToListAsync(ct);
                foreach (var d in candidates)
                {
                    if (total <= options.MaxTotalLines) break;
                    removed += await db.LogLines.Where(l => l.DeploymentId == d.DeploymentId).ExecuteDeleteAsync(ct);
                    total -= d.Count;
                }
            }
        }
        if (removed > 0) Removed(logger, removed);
        return removed;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.SweepInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await RunOnceAsync(stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    SweepFailed(logger, ex);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    [LoggerMessage(EventId = 5002, Level = LogLevel.Information, Message = "Log retention removed {Count} lines")]
    private static partial void Removed(ILogger logger, int count);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Warning, Message = "Log retention pass failed; the next one retries")]
    private static partial void SweepFailed(ILogger logger, Exception ex);
}
