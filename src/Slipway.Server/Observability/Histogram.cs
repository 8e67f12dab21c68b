using System.Diagnostics;

namespace Slipway.Server.Observability;

/// <summary>
/// Bucket bounds in seconds (as Prometheus shows them) and the integer unit observations come in: one shared instance
/// per family, so recording compares integers and never converts.
/// </summary>
internal sealed class Buckets(IReadOnlyList<double> seconds, long unitsPerSecond)
{
    /// <summary>Request latencies, observed in <see cref="Stopwatch"/> ticks.</summary>
    public static readonly Buckets Latency = new([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], Stopwatch.Frequency);

    /// <summary>Builds and deployments, observed in milliseconds.</summary>
    public static readonly Buckets Durations = new([0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900], 1000);

    public IReadOnlyList<double> Seconds { get; } = seconds;
    public long UnitsPerSecond { get; } = unitsPerSecond;
    public long[] Units { get; } = seconds.Select(b => (long)(b * unitsPerSecond)).ToArray();
}

/// <summary>A histogram over <see cref="Buckets"/>, recorded lock-free.</summary>
internal sealed class Histogram(Buckets buckets)
{
    private readonly long[] counts = new long[buckets.Units.Length + 1];
    private long sum;

    public Buckets Buckets => buckets;

    public void Observe(long units)
    {
        var bounds = buckets.Units;
        var i = 0;
        while (i < bounds.Length && units > bounds[i]) i++;
        Interlocked.Increment(ref counts[i]);
        Interlocked.Add(ref sum, units);
    }

    /// <summary>
    /// Per-bucket counts and the sum in seconds. The total is the sum of the buckets, never a separate counter, so
    /// <c>_count</c> always equals the <c>+Inf</c> bucket even while observations are being recorded.
    /// </summary>
    public double Snapshot(Span<long> into)
    {
        for (var i = 0; i < counts.Length; i++) into[i] = Volatile.Read(ref counts[i]);
        return (double)Volatile.Read(ref sum) / buckets.UnitsPerSecond;
    }
}

/// <summary>A counter cell in a dictionary of labelled series, incremented with <see cref="Interlocked"/>.</summary>
internal sealed class Counter
{
    public long Value;
}
