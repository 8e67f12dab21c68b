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
    IConfiguration configuration) : BackgroundService
{
    private readonly SemaphoreSlim gate = new(1, 1);
    private readonly string releases = Path.Combine(configuration.DataDirectory(), "releases");
    private Dictionary<string, RouteTarget>? lastWritten;

    /// <param name="ct">Cancels the rebuild.</param>
    /// <param name="goingLive">A release about to become live in its environment: routed before the database says
    /// so, so that a client that sees <c>ready</c> never reaches the previous release.</param>
    public async Task RebuildAsync(CancellationToken ct, Deployment? goingLive = null)
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
                e => Target(goingLive is not null && goingLive.EnvironmentId == e.EnvironmentId ? goingLive : e.Live));
            var map = new Dictionary<string, RouteTarget>(StringComparer.OrdinalIgnoreCase);
            foreach (var e in environments) map[$"{Hosts.EnvironmentLabel(e.Project, e.Environment)}.{options.BaseDomain}"] = targets[e.EnvironmentId];
            foreach (var d in domains) map[d.Hostname] = targets[d.EnvironmentId];
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
        null => RouteTarget.NoLiveRelease(),
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
            while (await timer.WaitForNextTickAsync(stoppingToken)) await RebuildAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
