using System.Globalization;
using Microsoft.AspNetCore.RateLimiting;
using Slipway.Server.Hosting;

namespace Slipway.Server.RateLimiting;

/// <summary>Endpoint metadata: this endpoint also takes a token from the caller's bucket of a named per-user policy.</summary>
internal sealed record RequiredRateLimit(string Policy);

internal static class RateLimitingSetup
{
    public static WebApplicationBuilder AddRateLimits(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(RateLimitOptions.SectionName).Get<RateLimitOptions>() ?? new RateLimitOptions();
        builder.Services.AddSingleton(options);
        if (!options.Enabled) return builder;
        builder.Services.AddSingleton<CallerRateLimiter>();
        builder.Services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.OnRejected = (rejected, _) => new ValueTask(WriteRejectionAsync(rejected.HttpContext));
        });
        builder.Services.AddOptions<RateLimiterOptions>().Configure<CallerRateLimiter>((o, limiter) => o.GlobalLimiter = limiter);
        return builder;
    }

    /// <summary>After authentication (buckets belong to the caller) and before idempotency (a replay is a request too; a 429 is never stored).</summary>
    public static IApplicationBuilder UseRateLimits(this IApplicationBuilder app) =>
        app.ApplicationServices.GetRequiredService<RateLimitOptions>().Enabled ? app.UseRateLimiter() : app;

    /// <summary>
    /// Adds a per-user bucket of the named policy in <c>Slipway:RateLimits:Policies</c> to this endpoint, on top of the
    /// caller's tier bucket; e.g. <c>.RequireRateLimit(RateLimitPolicies.Distribution)</c>: 1 request per 2 minutes per user.
    /// </summary>
    public static TBuilder RequireRateLimit<TBuilder>(this TBuilder builder, string policy) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new RequiredRateLimit(policy));

    private static Task WriteRejectionAsync(HttpContext context)
    {
        var decision = RateLimitHeaders.Find(context);
        return ApiErrors.WriteAsync(context, 429, "rate_limited", decision is null ? ApiErrors.DefaultMessage(429) : RejectionMessage(decision));
    }

    public static string RejectionMessage(RateLimitDecision decision)
    {
        var policy = decision.Binding.Policy;
        return string.Create(CultureInfo.InvariantCulture,
            $"Too many requests: the '{policy.Name}' limit is {policy.Burst} at once, then {policy.RequestsPerMinute:0.##} per minute. "
            + $"Retry after {RateLimitHeaders.RetryAfterSeconds(decision)} s.");
    }
}
