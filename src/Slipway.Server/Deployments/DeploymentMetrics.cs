using System.Collections.Concurrent;
using Slipway.Server.Hosting;
using Slipway.Server.Logs;
using Slipway.Server.Observability;
using Slipway.Server.Runtime;

namespace Slipway.Server.Deployments;

/// <summary>
/// What a platform operator watches on <c>/metrics</c> about the engine: deployments ended, by result and trigger
/// (counted where every transition happens, <see cref="DeploymentStates"/>), build and deployment durations, live
/// releases by <c>live_status</c> and their restarts (read from the <see cref="Supervisor"/> at scrape time), and
/// log lines ingested. Counters start at zero with the process, as Prometheus expects.
/// </summary>
internal sealed class DeploymentMetrics(Supervisor supervisor, LogWriter logs)
{
    private static readonly IReadOnlyList<double> Bounds = Buckets.Durations.Seconds;
    private readonly ConcurrentDictionary<(string Status, string Trigger), Counter> ended = new();
    private readonly ConcurrentDictionary<string, Histogram> durations = new(StringComparer.Ordinal);
    private readonly Histogram builds = new(Buckets.Durations);

    /// <summary>A deployment reached ready, failed or canceled (as stored by that transition).</summary>
    public void Ended(Deployment deployment)
    {
        var status = ApiEnums.Text(deployment.Status);
        Interlocked.Increment(ref ended.GetOrAdd((status, ApiEnums.Text(deployment.Trigger)), static _ => new Counter()).Value);
        if (deployment.FinishedAt is { } finished)
        {
            durations.GetOrAdd(status, static _ => new Histogram(Buckets.Durations)).Observe((long)(finished - deployment.CreatedAt).TotalMilliseconds);
        }
        if (deployment is { BuildStartedAt: { } started, BuildFinishedAt: { } built }) builds.Observe((long)(built - started).TotalMilliseconds);
    }

    public void WriteTo(PrometheusWriter writer)
    {
        writer.Family("slipway_deployments_total", "counter", "Deployments that ended since the server started, by result (status) and trigger.");
        foreach (var ((status, trigger), count) in ended.OrderBy(e => e.Key)) writer.Sample("slipway_deployments_total", Volatile.Read(ref count.Value), ("status", status), ("trigger", trigger));

        writer.Family("slipway_deployment_duration_seconds", "histogram", "From the trigger to the end of a deployment, by result.");
        Span<long> counts = stackalloc long[Bounds.Count + 1];
        foreach (var (status, histogram) in durations.OrderBy(d => d.Key, StringComparer.Ordinal))
        {
            var sum = histogram.Snapshot(counts);
            writer.Histogram("slipway_deployment_duration_seconds", Bounds, counts, sum, ("status", status));
        }
        writer.Family("slipway_build_duration_seconds", "histogram", "Clone, build and pack of each deployment that built (rollbacks do not).");
        writer.Histogram("slipway_build_duration_seconds", Bounds, counts, builds.Snapshot(counts));

        var running = supervisor.Running;
        writer.Family("slipway_live_releases", "gauge", "Release processes the supervisor runs, by live_status.");
        foreach (var group in running.GroupBy(r => ApiEnums.Text(r.Status)).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            writer.Sample("slipway_live_releases", (long)group.Count(), ("live_status", group.Key));
        }
        writer.Family("slipway_release_restarts", "gauge", "Restarts after an exit, summed over the releases running now.");
        writer.Sample("slipway_release_restarts", (long)running.Sum(r => r.Restarts));

        writer.Family("slipway_log_lines_ingested_total", "counter", "Deployment and runtime log lines written since the server started.");
        writer.Sample("slipway_log_lines_ingested_total", logs.Appended);
    }
}
