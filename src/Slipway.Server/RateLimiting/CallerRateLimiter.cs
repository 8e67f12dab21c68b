using System.Collections.Frozen;
using System.Threading.RateLimiting;
using Slipway.Server.Auth;
using Slipway.Server.Workspaces;

namespace Slipway.Server.RateLimiting;

/// <summary>
/// The global limiter of ASP.NET Core's rate-limiting middleware: one token bucket per API key, sized by the workspace
/// tier, one per user for a JWT (the <c>interactive</c> bucket: people, not scripts), and for endpoints that <c>RequireRateLimit(name)</c> a per-user bucket of that
/// policy as well. Anonymous requests (no <see cref="Caller"/>) pass uncounted. The buckets are our own
/// (<see cref="BucketSet"/>) because <c>TokenBucketRateLimiter</c> reads the Stopwatch instead of the injected
/// <see cref="TimeProvider"/> and <c>PartitionedRateLimiter.Create</c> takes one global lock on every acquire.
/// </summary>
internal sealed class CallerRateLimiter : PartitionedRateLimiter<HttpContext>
{
    private readonly BucketSet standard;
    private readonly BucketSet enterprise;
    private readonly BucketSet interactive;
    private readonly FrozenDictionary<string, BucketSet> policies;
    private readonly TimeProvider time;

    public CallerRateLimiter(RateLimitOptions options, TimeProvider time)
    {
        this.time = time;
        standard = new BucketSet(new BucketPolicy("standard", options.Standard));
        enterprise = new BucketSet(new BucketPolicy("enterprise", options.Enterprise));
        interactive = new BucketSet(new BucketPolicy("interactive", options.Interactive));
        policies = options.Policies.ToFrozenDictionary(p => p.Key, p => new BucketSet(new BucketPolicy(p.Key, p.Value)), StringComparer.Ordinal);
    }

    public override RateLimiterStatistics? GetStatistics(HttpContext resource) => null;

    /// <summary>One token per request, whatever <paramref name="permitCount"/> (the middleware always asks for one).</summary>
    protected override RateLimitLease AttemptAcquireCore(HttpContext resource, int permitCount)
    {
        var caller = Caller.Find(resource);
        if (caller is null) return Lease.Acquired;
        var now = time.GetUtcNow().UtcTicks;
        var tier = !caller.IsApiKey ? interactive : caller.Tier switch
        {
            RateLimitTier.Standard => standard,
            RateLimitTier.Enterprise => enterprise,
            _ => throw new InvalidOperationException($"No rate limit for tier {caller.Tier}."),
        };
        RateLimitDecision decision;
        if (resource.GetEndpoint()?.Metadata.GetMetadata<RequiredRateLimit>() is not { } required)
        {
            decision = new RateLimitDecision(tier.Take(caller.Id, now), null);
        }
        else
        {
            var own = policies.GetValueOrDefault(required.Policy)
                      ?? throw new InvalidOperationException($"No rate-limit policy '{required.Policy}' in {RateLimitOptions.SectionName}:Policies.");
            // The endpoint's own (scarcer) bucket first; a request refused by either bucket costs neither.
            var ownState = own.Take(caller.UserId, now);
            if (!ownState.Allowed)
            {
                decision = new RateLimitDecision(tier.Peek(caller.Id, now), ownState);
            }
            else
            {
                var tierState = tier.Take(caller.Id, now);
                decision = new RateLimitDecision(tierState, tierState.Allowed ? ownState : own.Refund(caller.UserId, now));
            }
        }
        RateLimitHeaders.Attach(resource, decision);
        return decision.Allowed ? Lease.Acquired : new Lease(TimeSpan.FromTicks(decision.Binding.TicksToNextToken));
    }

    /// <summary>
    /// Counts a request whose caller is learnt after the rate-limiting middleware ran (an API key in a multipart body, see
    /// <see cref="KeyInBody"/>); refused, it is the middleware's 429, headers and message included.
    /// </summary>
    public void Count(HttpContext context)
    {
        using var lease = AttemptAcquire(context);
        if (!lease.IsAcquired && RateLimitHeaders.Find(context) is { } decision)
        {
            throw new RateLimitedException((int)RateLimitHeaders.RetryAfterSeconds(decision), RateLimitingSetup.RejectionMessage(decision));
        }
    }

    /// <summary>Nothing queues: a refused request is answered at once (the middleware asks here after a refused attempt).</summary>
    protected override ValueTask<RateLimitLease> AcquireAsyncCore(HttpContext resource, int permitCount, CancellationToken cancellationToken) =>
        ValueTask.FromResult(AttemptAcquireCore(resource, permitCount));

    private sealed class Lease(TimeSpan? retryAfter) : RateLimitLease
    {
        public static readonly Lease Acquired = new(null);

        public override bool IsAcquired => retryAfter is null;

        public override IEnumerable<string> MetadataNames => retryAfter is null ? [] : [MetadataName.RetryAfter.Name];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = retryAfter is { } wait && metadataName == MetadataName.RetryAfter.Name ? wait : null;
            return metadata is not null;
        }
    }
}

/// <summary>What the limiter decided for one request: the caller's tier bucket and, on endpoints with their own policy, that bucket.</summary>
internal sealed record RateLimitDecision(BucketState Tier, BucketState? Endpoint)
{
    public bool Allowed => Tier.Allowed && Endpoint?.Allowed != false;

    /// <summary>The bucket that decides the next request (fewest tokens left, then the longest wait): the one the <c>X-RateLimit-*</c> headers describe.</summary>
    public BucketState Binding => Endpoint is { } own
                                  && (own.Remaining < Tier.Remaining || (own.Remaining == Tier.Remaining && own.TicksToNextToken > Tier.TicksToNextToken))
        ? own
        : Tier;
}
