namespace Slipway.Server.RateLimiting;

/// <summary>One token bucket: it holds <see cref="Burst"/> tokens, each request takes one, and tokens come back at <see cref="RequestsPerMinute"/>.</summary>
internal sealed class BucketOptions
{
    public double RequestsPerMinute { get; set; }
    public int Burst { get; set; }
}

internal sealed class RateLimitOptions
{
    public const string SectionName = "Slipway:RateLimits";

    /// <summary>Off: no request is counted and no rate-limit header is sent (sign-in throttling is separate and stays on).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// Per user for a JWT (the CLI, the browser): a person clicking and typing never meets the scripts' limits, whatever
    /// the tier of their workspaces.
    /// </summary>
    public BucketOptions Interactive { get; set; } = new() { RequestsPerMinute = 600, Burst = 100 };

    /// <summary>Per API key, by its workspace's tier.</summary>
    public BucketOptions Standard { get; set; } = new() { RequestsPerMinute = 60, Burst = 10 };

    public BucketOptions Enterprise { get; set; } = new() { RequestsPerMinute = 300, Burst = 50 };

    /// <summary>
    /// Per-user limits that single endpoints add with <c>RequireRateLimit(name)</c>, on top of the tier bucket.
    /// <c>distribution</c> (1 per 2 minutes) is for distributing a build.
    /// </summary>
    public Dictionary<string, BucketOptions> Policies { get; set; } = new(StringComparer.Ordinal)
    {
        [RateLimitPolicies.Distribution] = new() { RequestsPerMinute = 0.5, Burst = 1 },
    };
}

/// <summary>The names endpoints pass to <c>RequireRateLimit</c>.</summary>
internal static class RateLimitPolicies
{
    public const string Distribution = "distribution";
}
