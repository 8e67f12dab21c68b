using System.Collections.Concurrent;
using System.Diagnostics;

namespace Slipway.Server.Observability;

/// <summary>
/// Request counters and latency histograms, labelled by method, route TEMPLATE and status so cardinality stays
/// bounded whatever paths clients send. Recording is lock-free: a dictionary lookup and a few interlocked adds.
/// </summary>
internal sealed class HttpMetrics
{
    /// <summary>Route label of a request that matched no endpoint (404s, and 405s from routing).</summary>
    public const string Unmatched = "unmatched";

    /// <summary>Status recorded when the client went away before a response started (as nginx does).</summary>
    public const int ClientClosedRequest = 499;

    private readonly ConcurrentDictionary<(string Method, string Route, int Status), Counter> requests = new();
    private readonly ConcurrentDictionary<(string Method, string Route), Histogram> durations = new();
    private long inFlight;

    public void Started() => Interlocked.Increment(ref inFlight);

    public void Finished(string method, string route, int status, long elapsedTicks)
    {
        Interlocked.Decrement(ref inFlight);
        Record(method, route, status, elapsedTicks);
    }

    /// <summary>Counts one finished request; <paramref name="elapsedTicks"/> are <see cref="Stopwatch"/> ticks.</summary>
    public void Record(string method, string route, int status, long elapsedTicks)
    {
        method = MethodLabel(method);
        Interlocked.Increment(ref requests.GetOrAdd((method, route, status), static _ => new Counter()).Value);
        durations.GetOrAdd((method, route), static _ => new Histogram(Buckets.Latency)).Observe(elapsedTicks);
    }

    /// <summary>Known methods as themselves, anything else as OTHER: clients choose the method string.</summary>
    public static string MethodLabel(string method) => HttpMethods.GetCanonicalizedValue(method) switch
    {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    };

    public static string RouteLabel(HttpContext context) =>
        context.GetEndpoint() is RouteEndpoint { RoutePattern.RawText: { Length: > 0 } template } ? template : Unmatched;

    public void WriteTo(PrometheusWriter writer)
    {
        writer.Family("slipway_http_requests_total", "counter", "HTTP requests handled, by method, route template and status code.");
        foreach (var ((method, route, status), counter) in requests.OrderBy(r => r.Key.Route, StringComparer.Ordinal)
                     .ThenBy(r => r.Key.Method, StringComparer.Ordinal).ThenBy(r => r.Key.Status))
        {
            writer.Sample("slipway_http_requests_total", Volatile.Read(ref counter.Value),
                ("method", method), ("route", route), ("status", status.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        writer.Family("slipway_http_request_duration_seconds", "histogram", "Time from request start to the end of the handler, by method and route template.");
        Span<long> counts = stackalloc long[Buckets.Latency.Seconds.Count + 1];
        foreach (var ((method, route), histogram) in durations.OrderBy(r => r.Key.Route, StringComparer.Ordinal)
                     .ThenBy(r => r.Key.Method, StringComparer.Ordinal))
        {
            var sum = histogram.Snapshot(counts);
            writer.Histogram("slipway_http_request_duration_seconds", Buckets.Latency.Seconds, counts, sum, ("method", method), ("route", route));
        }

        writer.Family("slipway_http_requests_in_flight", "gauge", "HTTP requests currently being handled.");
        writer.Sample("slipway_http_requests_in_flight", Volatile.Read(ref inFlight));
    }
}
