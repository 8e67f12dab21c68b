using Slipway.Server.Data;
using Slipway.Server.Hosting;
using Slipway.Server.Routing;
using Slipway.Server.Runtime;

namespace Slipway.Server.Deployments;

/// <summary>
/// Computes the router's whole table from the database (live releases, environment hosts, custom domains) and swaps
/// it in at once. Called after every change that moves traffic, and periodically as a safety net.
/// </summary>
internal sealed class RouteSync(IServiceScopeFactory scopes, RouteTable table, Supervisor supervisor, RouterOptions options,
    IConfiguration configuration, ILogger<RouteSync> logger) : BackgroundService
{
    private readonly SemaphoreSlim gate = new(1, 1);
    private readonly string releases = configuration.ReleasesDirectory();
    private Dictionary<string, RouteTarget>? lastWritten;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Deployment> goingLive = new(StringComparer.Ordinal);

    /// <summary>
    /// Routes a release that is about to become live, and keeps routing it through every rebuild until
    /// <see cref="SettleAsync"/>: a rebuild that reads the database in between must not swap the old release back.
    /// </summary>
    public Task RouteAheadAsync(Deployment deployment, CancellationToken ct)
    {
        goingLive[deployment.EnvironmentId] = deployment;
        return RebuildAsync(ct);
    }

    /// <summary>The switch committed (or failed): the database is the truth for that environment again.</summary>
    public Task SettleAsync(string environmentId, CancellationToken ct)
    {
        goingLive.TryRemove(environmentId, out _);
        return RebuildAsync(ct);
    }

    public async Task RebuildAsync(CancellationToken ct)
    {
        await gate.WaitAsync(ct);
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
            var environments = await (from e in db.Environments
                                      join p in db.Projects on e.ProjectId equals p.Id
                                      join d in db.Deployments on e.LiveDeploymentId equals d.Id into live
                                      from d in live.DefaultIfEmpty()
                                      select new { EnvironmentId = e.Id, Environment = e.Name, Project = p.Name, Live = d }).ToListAsync(ct);
            var domains = await db.Domains.Select(d => new { d.Hostname, d.EnvironmentId }).ToListAsync(ct);
            var targets = environments.ToDictionary(e => e.EnvironmentId,
                e => Target(goingLive.TryGetValue(e.EnvironmentId, out var ahead) ? ahead : e.Live));
            // First come, first served, in creation order: names are checked for collisions when they are created, and
            // whatever slipped through (an older database) never lets a later name take over an earlier one's host.
            var map = new Dictionary<string, RouteTarget>(StringComparer.OrdinalIgnoreCase);
            foreach (var e in environments.OrderBy(e => e.EnvironmentId, StringComparer.Ordinal))
            {
                map.TryAdd($"{Hosts.EnvironmentLabel(e.Project, e.Environment)}.{options.BaseDomain}", targets[e.EnvironmentId]);
            }
            foreach (var d in domains.OrderBy(d => d.Hostname, StringComparer.Ordinal))
            {
                if (targets.TryGetValue(d.EnvironmentId, out var target)) map.TryAdd(d.Hostname, target);
            }
            // Only a real change is written: the periodic pass must not churn the table (or its log) every few seconds.
            if (lastWritten is not null && lastWritten.Count == map.Count && map.All(r => lastWritten.TryGetValue(r.Key, out var t) && t == r.Value)) return;
            table.Replace(map);
            lastWritten = map;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>A host with no live release, or whose process is gone, still routes: the router answers 503.</summary>
    private RouteTarget Target(Deployment? live) => live switch
    {
        null => RouteTarget.NoLiveRelease,
        { StaticDirectory: { } dir } => new RouteTarget(live.Id, null, Path.GetFullPath(Path.Combine(releases, live.Id, dir))),
        _ => new RouteTarget(live.Id, supervisor.Find(live.Id)?.Upstream, null),
    };

    /// <summary>The first table is in place before the router starts listening.</summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await RebuildAsync(cancellationToken);
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(5));
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await RebuildAsync(stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // The table stays as it was; the next tick tries again.
                    logger.LogWarning(ex, "Could not refresh the route table");
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
