using System.Collections.Concurrent;
using System.Globalization;

namespace Slipway.Server.RateLimiting;

/// <summary>A configured bucket as the limiter uses it: its name in the headers, its size, and the ticks one token takes to come back.</summary>
internal sealed class BucketPolicy
{
    public BucketPolicy(string name, BucketOptions options)
    {
        if (name.Length == 0 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            throw new InvalidOperationException($"Rate limit names are letters, digits, '-' and '_' ({RateLimitOptions.SectionName}: '{name}').");
        }
        if (!(options.RequestsPerMinute > 0) || double.IsInfinity(options.RequestsPerMinute) || options.Burst < 1)
        {
            throw new InvalidOperationException($"Rate limit '{name}' needs RequestsPerMinute > 0 and Burst >= 1 ({RateLimitOptions.SectionName}).");
        }
        Name = name;
        Burst = options.Burst;
        RequestsPerMinute = options.RequestsPerMinute;
        TokenTicks = Math.Max(1, (long)Math.Round(TimeSpan.TicksPerMinute / options.RequestsPerMinute));
        if ((double)Burst * TokenTicks > long.MaxValue / 4)
        {
            throw new InvalidOperationException($"Rate limit '{name}': Burst / RequestsPerMinute is too large ({RateLimitOptions.SectionName}).");
        }
        FullTicks = Burst * TokenTicks;
        // IETF draft: q requests per w seconds. q = the burst and w = the time an empty bucket takes to fill, so q/w is
        // the sustained rate and q what may be sent at once: "standard";q=10;w=10 is 60/min with a burst of 10.
        WindowSeconds = Math.Max(1, (FullTicks + TimeSpan.TicksPerSecond - 1) / TimeSpan.TicksPerSecond);
        PolicyField = string.Create(CultureInfo.InvariantCulture, $"\"{name}\";q={Burst};w={WindowSeconds}");
    }

    public string Name { get; }
    public int Burst { get; }
    public double RequestsPerMinute { get; }
    public long TokenTicks { get; }
    public long FullTicks { get; }
    public long WindowSeconds { get; }

    /// <summary>This policy's member of the <c>RateLimit-Policy</c> header.</summary>
    public string PolicyField { get; }
}

/// <summary>
/// A bucket as one request left it (or, for a refused request, found it): what the headers report. <c>Debt</c> is the
/// ticks until the bucket is full again (0: full), <c>Now</c> the clock in ticks.
/// </summary>
internal readonly record struct BucketState(BucketPolicy Policy, bool Allowed, long Debt, long Now)
{
    public int Remaining => (int)((Policy.FullTicks - Debt) / Policy.TokenTicks);

    /// <summary>Ticks until <see cref="Remaining"/> grows by one (0 when the bucket is full); for a refused request, the wait before a retry can pass.</summary>
    public long TicksToNextToken => Debt <= 0 ? 0 : Debt % Policy.TokenTicks is var part and > 0 ? part : Policy.TokenTicks;

    /// <summary>When the bucket is full again, in Unix seconds rounded up.</summary>
    public long FullAtUnixSeconds => CeilingSeconds(Now + Debt - DateTime.UnixEpoch.Ticks);

    public static long CeilingSeconds(long ticks) => (ticks + TimeSpan.TicksPerSecond - 1) / TimeSpan.TicksPerSecond;
}

/// <summary>
/// The buckets of one policy, one per partition key, kept as GCRA: a bucket is a single number, the moment it will be
/// full again, moved forward by one token's ticks per request with compare-and-swap. So the hot path takes no lock:
/// requests contend only when they share a bucket, and then only on one word. A full bucket is the same as an absent
/// one, so every <see cref="SweepEvery"/> new buckets the full ones are removed; a bucket is first marked retired (only
/// while still full), so a request racing the sweep never counts against a bucket that is being thrown away.
/// </summary>
internal sealed class BucketSet(BucketPolicy policy)
{
    private const long Retired = long.MaxValue;
    private const int SweepEvery = 1024;
    private readonly ConcurrentDictionary<string, Bucket> buckets = new(StringComparer.Ordinal);
    private int created;

    private sealed class Bucket
    {
        public long FullAt;
    }

    public BucketPolicy Policy => policy;

    internal int Count => buckets.Count;

    /// <summary>Takes one token if there is one; <paramref name="now"/> is in ticks.</summary>
    public BucketState Take(string key, long now)
    {
        while (true)
        {
            var bucket = Find(key, now);
            var fullAt = Volatile.Read(ref bucket.FullAt);
            if (fullAt == Retired)
            {
                buckets.TryRemove(new KeyValuePair<string, Bucket>(key, bucket));
                continue;
            }
            var debt = Math.Max(fullAt - now, 0);
            if (debt + policy.TokenTicks > policy.FullTicks) return new BucketState(policy, Allowed: false, debt, now);
            if (Interlocked.CompareExchange(ref bucket.FullAt, now + debt + policy.TokenTicks, fullAt) == fullAt)
            {
                return new BucketState(policy, Allowed: true, debt + policy.TokenTicks, now);
            }
        }
    }

    /// <summary>The bucket as it is, nothing taken.</summary>
    public BucketState Peek(string key, long now)
    {
        var fullAt = buckets.TryGetValue(key, out var bucket) ? Volatile.Read(ref bucket.FullAt) : 0;
        var debt = fullAt == Retired ? 0 : Math.Max(fullAt - now, 0);
        return new BucketState(policy, debt + policy.TokenTicks <= policy.FullTicks, debt, now);
    }

    /// <summary>Gives back the token <see cref="Take"/> took for a request that another bucket refused.</summary>
    public BucketState Refund(string key, long now)
    {
        if (buckets.TryGetValue(key, out var bucket))
        {
            var fullAt = Volatile.Read(ref bucket.FullAt);
            while (fullAt != Retired)
            {
                var seen = Interlocked.CompareExchange(ref bucket.FullAt, fullAt - policy.TokenTicks, fullAt);
                if (seen == fullAt) break;
                fullAt = seen;
            }
        }
        return Peek(key, now);
    }

    private Bucket Find(string key, long now)
    {
        if (buckets.TryGetValue(key, out var bucket)) return bucket;
        // Before adding: a new bucket is full, and the sweep would retire it at once.
        if (Interlocked.Increment(ref created) % SweepEvery == 0) Sweep(now);
        return buckets.GetOrAdd(key, static _ => new Bucket());
    }

    private void Sweep(long now)
    {
        foreach (var (key, bucket) in buckets)
        {
            var fullAt = Volatile.Read(ref bucket.FullAt);
            if (fullAt <= now && Interlocked.CompareExchange(ref bucket.FullAt, Retired, fullAt) == fullAt)
            {
                buckets.TryRemove(new KeyValuePair<string, Bucket>(key, bucket));
            }
        }
    }
}
