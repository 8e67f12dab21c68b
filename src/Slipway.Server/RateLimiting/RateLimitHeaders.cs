using System.Globalization;

namespace Slipway.Server.RateLimiting;

/// <summary>
/// Writes the rate-limit headers when the response starts, so every answer to a counted request has them: successes,
/// errors thrown later (the error middleware clears the headers before it writes, but this runs after it), replays,
/// streams and the 429 itself.
/// </summary>
internal static class RateLimitHeaders
{
    public const string Limit = "X-RateLimit-Limit";
    public const string Remaining = "X-RateLimit-Remaining";
    public const string Reset = "X-RateLimit-Reset";
    public const string Policy = "RateLimit-Policy";
    public const string Current = "RateLimit";

    private static readonly object ItemKey = new();

    public static RateLimitDecision? Find(HttpContext context) => context.Items.TryGetValue(ItemKey, out var d) ? d as RateLimitDecision : null;

    /// <summary>The latest decision wins: after a refusal the middleware asks the limiter a second time.</summary>
    public static void Attach(HttpContext context, RateLimitDecision decision)
    {
        var first = Find(context) is null;
        context.Items[ItemKey] = decision;
        if (first) context.Response.OnStarting(static state => Write((HttpContext)state), context);
    }

    /// <summary>Whole seconds to wait before a retry can pass (at least 1).</summary>
    public static long RetryAfterSeconds(RateLimitDecision decision) => Math.Max(1, BucketState.CeilingSeconds(decision.Binding.TicksToNextToken));

    private static Task Write(HttpContext context)
    {
        if (Find(context) is not { } decision) return Task.CompletedTask;
        var binding = decision.Binding;
        var headers = context.Response.Headers;
        headers[Limit] = binding.Policy.Burst.ToString(CultureInfo.InvariantCulture);
        headers[Remaining] = binding.Remaining.ToString(CultureInfo.InvariantCulture);
        headers[Reset] = binding.FullAtUnixSeconds.ToString(CultureInfo.InvariantCulture);
        headers[Policy] = decision.Endpoint is { } own ? $"{own.Policy.PolicyField}, {decision.Tier.Policy.PolicyField}" : decision.Tier.Policy.PolicyField;
        headers[Current] = decision.Endpoint is { } state ? $"{Field(state)}, {Field(decision.Tier)}" : Field(decision.Tier);
        if (!decision.Allowed) headers.RetryAfter = RetryAfterSeconds(decision).ToString(CultureInfo.InvariantCulture);
        return Task.CompletedTask;
    }

    /// <summary>IETF draft: r = requests left, t = seconds within which no more than r will pass (until the next token).</summary>
    private static string Field(BucketState state) =>
        string.Create(CultureInfo.InvariantCulture, $"\"{state.Policy.Name}\";r={state.Remaining};t={BucketState.CeilingSeconds(state.TicksToNextToken)}");
}
