using Slipway.Server.Data;
using Slipway.Server.Hosting;
using Slipway.Server.Routing;
using Slipway.Server.Runtime;

namespace Slipway.Server.Deployments;

/// <summary>
/// Computes the router's whole table from the database (live releases, environment hosts, custom domains) and swaps
/// it in at once. Called after every change that moves traffic, and periodically as a safety net. Two plain SQL reads
/// rather than EF Core: the first table is built before anything is served, and must not wait for EF Core's model.
/// </summary>
internal sealed class RouteSync(DbConnections connections, RouteTable table, Supervisor supervisor, RouterOptions options,
    IConfiguration configuration, ILogger<RouteSync> logger) : BackgroundService
{
    private readonly SemaphoreSlim gate = new(1, 1);
    private readonly string releases = configuration.ReleasesDirectory();
    private Dictionary<string, RouteTarget>? lastWritten;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Live> goingLive = new(StringComparer.Ordinal);

    /// <summary>
    /// Routes a release that is about to become live, and keeps routing it through every rebuild until
    /// <see cref="SettleAsync"/>: a rebuild that reads the database in between must not swap the old release back.
    /// </summary>
    public Task RouteAheadAsync(Deployment deployment, CancellationToken ct)
    {
        goingLive[deployment.EnvironmentId] = new Live(deployment.Id, deployment.StaticDirectory);
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
            var environments = new List<(string EnvironmentId, string Environment, string Project, Live? Live)>();
            var domains = new List<(string Hostname, string EnvironmentId)>();
            await using (var connection = await connections.OpenAsync(ct))
            {
                await using var command = connection.CreateCommand();
                command.CommandText = """
                    SELECT e.id, e.name, p.name, d.id, d.static_directory FROM environments e
                    JOIN projects p ON p.id = e.project_id LEFT JOIN deployments d ON d.id = e.live_deployment_id;
                    """;
                await using (var rows = await command.ExecuteReaderAsync(ct))
                {
                    while (await rows.ReadAsync(ct))
                    {
                        var live = rows.IsDBNull(3) ? null : new Live(rows.GetString(3), rows.IsDBNull(4) ? null : rows.GetString(4));
                        environments.Add((rows.GetString(0), rows.GetString(1), rows.GetString(2), live));
                    }
                }
                command.CommandText = "SELECT hostname, environment_id FROM domains;";
                await using (var rows = await command.ExecuteReaderAsync(ct))
                {
                    while (await rows.ReadAsync(ct)) domains.Add((rows.GetString(0), rows.GetString(1)));
                }
            }
            var targets = environments.ToDictionary(e => e.EnvironmentId,
                e => Target(goingLive.TryGetValue(e.EnvironmentId, out var ahead) ? ahead : e.Live) with { Project = e.Project });
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
    private RouteTarget Target(Live? live) => live switch
    {
        null => RouteTarget.NoLiveRelease,
        { StaticDirectory: { } dir } => new RouteTarget(live.Id, null, Path.GetFullPath(Path.Combine(releases, live.Id, dir))),
        _ => new RouteTarget(live.Id, supervisor.Find(live.Id)?.Upstream, null),
    };

    /// <summary>
    /// The first table is in place before the API serves. The router's listener starts just before this (it is registered
    /// first): a request in that moment finds no route.
    /// </summary>
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

    /// <summary>The live release of an environment: what its route needs of the deployment.</summary>
    private sealed record Live(string Id, string? StaticDirectory);
}
