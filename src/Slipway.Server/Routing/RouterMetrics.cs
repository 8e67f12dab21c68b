using System.Collections.Concurrent;
using Slipway.Server.Observability;

namespace Slipway.Server.Routing;

/// <summary>
/// The router's requests on <c>/metrics</c>: a count by status class and a latency histogram per project. The label is the
/// project's name from the route table (<see cref="RouteTarget.Project"/>), never the Host a client sent, so the series
/// are bounded by the projects: hosts that match no route share <see cref="UnknownHost"/>, operator-fixed routes
/// <see cref="FixedRoute"/>. Recording is a dictionary lookup and three interlocked adds.
/// </summary>
internal sealed class RouterMetrics
{
    public const string UnknownHost = "(unknown)";
    public const string FixedRoute = "(fixed)";

    private static readonly string[] Classes = ["1xx", "2xx", "3xx", "4xx", "5xx"];
    private readonly ConcurrentDictionary<string, ProjectSeries> projects = new(StringComparer.Ordinal);

    /// <summary>One finished router request; <paramref name="elapsedTicks"/> are <see cref="System.Diagnostics.Stopwatch"/> ticks.</summary>
    public void Record(string project, int status, long elapsedTicks)
    {
        var series = projects.GetOrAdd(project, static _ => new ProjectSeries());
        Interlocked.Increment(ref series.ByClass[Math.Clamp(status / 100, 1, 5) - 1]);
        series.Latency.Observe(elapsedTicks);
    }

    public void WriteTo(PrometheusWriter writer)
    {
        var ordered = projects.OrderBy(p => p.Key, StringComparer.Ordinal).ToList();
        writer.Family("slipway_router_requests_total", "counter", "Requests the router answered, by project and status class.");
        foreach (var (project, series) in ordered)
        {
            for (var i = 0; i < Classes.Length; i++)
            {
                if (Volatile.Read(ref series.ByClass[i]) is var count and > 0)
                {
                    writer.Sample("slipway_router_requests_total", count, ("project", project), ("status_class", Classes[i]));
                }
            }
        }
        writer.Family("slipway_router_request_duration_seconds", "histogram",
            "From the router receiving a request to the end of its response (of the tunnel, for an upgrade), by project.");
        Span<long> counts = stackalloc long[Buckets.Latency.Seconds.Count + 1];
        foreach (var (project, series) in ordered)
        {
            writer.Histogram("slipway_router_request_duration_seconds", Buckets.Latency.Seconds, counts, series.Latency.Snapshot(counts), ("project", project));
        }
    }

    private sealed class ProjectSeries
    {
        public readonly long[] ByClass = new long[5];
        public readonly Histogram Latency = new(Buckets.Latency);
    }
}
