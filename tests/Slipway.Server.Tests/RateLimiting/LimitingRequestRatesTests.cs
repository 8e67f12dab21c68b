using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Slipway.Server.Auth;
using Slipway.Server.RateLimiting;
using Slipway.Server.Tests.ApiKeys;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.RateLimiting;

/// <summary>
/// The tier buckets of api-conventions.md with their real sizes (standard 60/min burst 10, enterprise 300/min burst 50)
/// on a clock the test moves, so every header value is exact. Each test has its own server: buckets live in the process.
/// </summary>
public sealed class LimitingRequestRatesTests : IAsyncLifetime
{
    private const string DistributePath = "/api/v1/test/distribute";
    private readonly long start = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    private readonly ManualTimeProvider clock;
    private SlipwayServer server = null!;

    public LimitingRequestRatesTests() => clock = new ManualTimeProvider(DateTimeOffset.FromUnixTimeSeconds(start));

    public async Task InitializeAsync() => server = await SlipwayServer.StartAsync(
        new Dictionary<string, string?>
        {
            ["Slipway:RateLimits:Standard:RequestsPerMinute"] = "60",
            ["Slipway:RateLimits:Standard:Burst"] = "10",
            ["Slipway:RateLimits:Enterprise:RequestsPerMinute"] = "300",
            ["Slipway:RateLimits:Enterprise:Burst"] = "50",
            ["Slipway:RateLimits:Interactive:RequestsPerMinute"] = "600",
            ["Slipway:RateLimits:Interactive:Burst"] = "100",
        },
        services: s => s.AddSingleton<TimeProvider>(clock),
        // A stand-in for build distribution until that endpoint exists: the same policy it will use.
        map: app => app.MapPost(DistributePath, () => TypedResults.Ok()).RequireScope(Scopes.DeploymentsWrite)
            .RequireRateLimit(RateLimitPolicies.Distribution));

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task StandardKey_BurstUsedUp_Returns429ThenRefillsOneTokenPerSecond()
    {
        var user = await server.RegisterUserAsync();
        var key = await server.KeyAsync(user.Token);

        for (var i = 1; i <= 10; i++)
        {
            var response = (await server.GetAsync("/api/v1/projects", key)).AssertStatus(200);
            AssertHeaders(response, limit: 10, remaining: 10 - i, reset: start + i, policy: "\"standard\";q=10;w=10", current: $"\"standard\";r={10 - i};t=1");
            Assert.Null(response.Header("Retry-After"));
        }

        var refused = await server.GetAsync("/api/v1/projects", key);
        refused.AssertError(429, "rate_limited");
        Assert.Equal("1", refused.Header("Retry-After"));
        AssertHeaders(refused, limit: 10, remaining: 0, reset: start + 10, policy: "\"standard\";q=10;w=10", current: "\"standard\";r=0;t=1");
        Assert.Contains("Retry after 1 s", refused.Json["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);

        clock.Advance(TimeSpan.FromSeconds(1));
        AssertHeaders((await server.GetAsync("/api/v1/projects", key)).AssertStatus(200), 10, 0, start + 11, "\"standard\";q=10;w=10", "\"standard\";r=0;t=1");

        clock.Advance(TimeSpan.FromMilliseconds(500));
        var halfway = await server.GetAsync("/api/v1/projects", key);
        halfway.AssertError(429, "rate_limited");
        Assert.Equal("1", halfway.Header("Retry-After"));
        AssertHeaders(halfway, 10, 0, start + 11, "\"standard\";q=10;w=10", "\"standard\";r=0;t=1");

        clock.Advance(TimeSpan.FromSeconds(10));
        AssertHeaders((await server.GetAsync("/api/v1/projects", key)).AssertStatus(200), 10, 9, start + 13, "\"standard\";q=10;w=10", "\"standard\";r=9;t=1");
    }

    [Fact]
    public async Task EnterpriseWorkspace_KeyAndMembers_GetFiftyAtOnceAndFivePerSecond()
    {
        var admin = await server.RegisterUserAsync();
        var member = await server.RegisterUserAsync();
        await server.AddMemberAsync(admin.Token, admin.WorkspaceId, member, "developer");
        var key = await server.KeyAsync(admin.Token);
        Assert.Equal("\"standard\";q=10;w=10", (await server.GetAsync("/api/v1/projects", key)).AssertStatus(200).Header("RateLimit-Policy"));

        (await server.PatchAsync($"/api/v1/workspaces/{admin.WorkspaceId}", new { tier = "enterprise" }, admin.Token)).AssertStatus(200);

        for (var i = 1; i <= 50; i++)
        {
            var response = (await server.GetAsync("/api/v1/projects", key)).AssertStatus(200);
            // 50 tokens, one back every 200 ms: full again 0.2 s per token used, rounded up to the second.
            AssertHeaders(response, 50, 50 - i, start + (i + 4) / 5, "\"enterprise\";q=50;w=10", $"\"enterprise\";r={50 - i};t=1");
        }
        var refused = await server.GetAsync("/api/v1/projects", key);
        refused.AssertError(429, "rate_limited");
        Assert.Equal("1", refused.Header("Retry-After"));
        AssertHeaders(refused, 50, 0, start + 10, "\"enterprise\";q=50;w=10", "\"enterprise\";r=0;t=1");

        clock.Advance(TimeSpan.FromMilliseconds(200));
        (await server.GetAsync("/api/v1/projects", key)).AssertStatus(200);
        (await server.GetAsync("/api/v1/projects", key)).AssertError(429, "rate_limited");

        // People's sessions are not limited by tier: every JWT has the interactive bucket.
        Assert.Equal("\"interactive\";q=100;w=10", (await server.GetAsync("/api/v1/projects", member.Token)).AssertStatus(200).Header("RateLimit-Policy"));
        var outsider = await server.RegisterUserAsync();
        Assert.Equal("\"interactive\";q=100;w=10", (await server.GetAsync("/api/v1/projects", outsider.Token)).AssertStatus(200).Header("RateLimit-Policy"));
    }

    [Fact]
    public async Task OneKeyExhausted_OtherKeyAndTheUsersSession_KeepTheirOwnBuckets()
    {
        var user = await server.RegisterUserAsync();
        var first = await server.KeyAsync(user.Token);
        var second = await server.KeyAsync(user.Token);
        for (var i = 0; i < 10; i++) (await server.GetAsync("/api/v1/projects", first)).AssertStatus(200);
        (await server.GetAsync("/api/v1/projects", first)).AssertError(429, "rate_limited");

        Assert.Equal("9", (await server.GetAsync("/api/v1/projects", second)).AssertStatus(200).Header("X-RateLimit-Remaining"));
        // The session has spent 3 of its own (interactive) tokens: RegisterUserAsync's /auth/me and the two key creations.
        Assert.Equal("96", (await server.GetAsync("/api/v1/projects", user.Token)).AssertStatus(200).Header("X-RateLimit-Remaining"));
        var other = await server.RegisterUserAsync();
        Assert.Equal("98", (await server.GetAsync("/api/v1/projects", other.Token)).AssertStatus(200).Header("X-RateLimit-Remaining"));
    }

    [Fact]
    public async Task InteractiveCaller_IsNotLimitedAtSixtyPerMinute_WhileKeysAre()
    {
        var user = await server.RegisterUserAsync();
        var key = await server.KeyAsync(user.Token);

        for (var i = 0; i < 90; i++)
        {
            var session = (await server.GetAsync("/api/v1/projects", user.Token)).AssertStatus(200);
            Assert.Equal("\"interactive\";q=100;w=10", session.Header("RateLimit-Policy"));
        }
        for (var i = 0; i < 10; i++) (await server.GetAsync("/api/v1/projects", key)).AssertStatus(200);
        (await server.GetAsync("/api/v1/projects", key)).AssertError(429, "rate_limited");
        Assert.Equal("7", (await server.GetAsync("/api/v1/projects", user.Token)).AssertStatus(200).Header("X-RateLimit-Remaining"));
    }

    [Fact]
    public async Task ErrorsToACountedCaller_CarryHeadersAndCount()
    {
        var user = await server.RegisterUserAsync();
        var reader = await server.KeyAsync(user.Token, ["projects:read"]);

        var notFound = await server.GetAsync($"/api/v1/projects/{Guid.CreateVersion7()}", reader);
        notFound.AssertError(404, "not_found");
        Assert.Equal("9", notFound.Header("X-RateLimit-Remaining"));
        var wrongScope = await server.GetAsync("/api/v1/api-keys", reader);
        wrongScope.AssertError(403, "insufficient_scope");
        Assert.Equal("8", wrongScope.Header("X-RateLimit-Remaining"));
        var invalid = await server.PostAsync("/api/v1/projects", new { name = "" }, user.Token);
        invalid.AssertError(400);
        Assert.NotNull(invalid.Header("X-RateLimit-Remaining"));
    }

    [Fact]
    public async Task AnonymousAndUnauthenticatedRequests_AreNotCounted()
    {
        for (var i = 0; i < 15; i++)
        {
            foreach (var path in new[] { "/health", "/ready", "/metrics" })
            {
                var response = (await server.GetAsync(path)).AssertStatus(200);
                Assert.Null(response.Header("X-RateLimit-Limit"));
                Assert.Null(response.Header("RateLimit"));
            }
            var unauthenticated = await server.GetAsync("/api/v1/projects", "slp_" + new string('A', 43));
            unauthenticated.AssertError(401, "unauthenticated");
            Assert.Null(unauthenticated.Header("X-RateLimit-Limit"));
        }
        var login = await server.PostAsync("/api/v1/auth/login", new { email = "nobody@example.test", password = "wrong password" });
        login.AssertError(401, "unauthenticated");
        Assert.Null(login.Header("X-RateLimit-Limit"));
        var registered = await server.PostAsync("/api/v1/auth/register", new { email = "anon@example.test", name = "Anon", password = "correct horse battery" });
        Assert.Null(registered.AssertStatus(201).Header("X-RateLimit-Limit"));
    }

    [Fact]
    public async Task DistributionPolicy_OnePerTwoMinutesPerUser_OnTopOfTheTierBucket()
    {
        var user = await server.RegisterUserAsync();
        var key = await server.KeyAsync(user.Token);
        var otherKey = await server.KeyAsync(user.Token);

        var first = (await server.PostAsync(DistributePath, null, key)).AssertStatus(200);
        AssertHeaders(first, limit: 1, remaining: 0, reset: start + 120, policy: "\"distribution\";q=1;w=120, \"standard\";q=10;w=10",
            current: "\"distribution\";r=0;t=120, \"standard\";r=9;t=1");

        var again = await server.PostAsync(DistributePath, null, key);
        again.AssertError(429, "rate_limited");
        Assert.Equal("120", again.Header("Retry-After"));
        // Refused by the distribution bucket: the tier bucket was not charged.
        AssertHeaders(again, 1, 0, start + 120, "\"distribution\";q=1;w=120, \"standard\";q=10;w=10", "\"distribution\";r=0;t=120, \"standard\";r=9;t=1");
        // Per user, not per key; other endpoints only use the tier bucket.
        (await server.PostAsync(DistributePath, null, otherKey)).AssertError(429, "rate_limited");
        Assert.Equal("\"standard\";r=8;t=1", (await server.GetAsync("/api/v1/projects", key)).AssertStatus(200).Header("RateLimit"));
        var someoneElse = await server.RegisterUserAsync();
        (await server.PostAsync(DistributePath, null, someoneElse.Token)).AssertStatus(200);

        clock.Advance(TimeSpan.FromMinutes(2));
        (await server.PostAsync(DistributePath, null, key)).AssertStatus(200);
    }

    [Fact]
    public async Task DistributionPolicy_TierBucketEmpty_RefusesWithoutSpendingTheDistributionToken()
    {
        var user = await server.RegisterUserAsync();
        var key = await server.KeyAsync(user.Token);
        for (var i = 0; i < 10; i++) (await server.GetAsync("/api/v1/projects", key)).AssertStatus(200);

        var refused = await server.PostAsync(DistributePath, null, key);
        refused.AssertError(429, "rate_limited");
        Assert.Equal("1", refused.Header("Retry-After"));
        AssertHeaders(refused, 10, 0, start + 10, "\"distribution\";q=1;w=120, \"standard\";q=10;w=10", "\"distribution\";r=1;t=0, \"standard\";r=0;t=1");

        clock.Advance(TimeSpan.FromSeconds(1));
        (await server.PostAsync(DistributePath, null, key)).AssertStatus(200);
    }

    [Fact]
    public async Task IdempotentReplay_CountsAsARequest_AndARefusalIsNotStored()
    {
        var user = await server.RegisterUserAsync();
        var key = await server.KeyAsync(user.Token);
        var body = new { name = "replayed", repo_url = "https://example.com/acme/app.git" };
        var headers = new Dictionary<string, string> { ["Idempotency-Key"] = "once" };
        for (var i = 0; i < 10; i++) (await server.GetAsync("/api/v1/projects", key)).AssertStatus(200);

        (await server.SendAsync(HttpMethod.Post, "/api/v1/projects", body, key, headers)).AssertError(429, "rate_limited");
        clock.Advance(TimeSpan.FromSeconds(1));
        var created = (await server.SendAsync(HttpMethod.Post, "/api/v1/projects", body, key, headers)).AssertStatus(201);
        Assert.Null(created.Header("Idempotent-Replayed"));
        clock.Advance(TimeSpan.FromSeconds(1));
        var replayed = (await server.SendAsync(HttpMethod.Post, "/api/v1/projects", body, key, headers)).AssertStatus(201);
        Assert.Equal("true", replayed.Header("Idempotent-Replayed"));
        Assert.Equal("0", replayed.Header("X-RateLimit-Remaining"));
        (await server.SendAsync(HttpMethod.Post, "/api/v1/projects", body, key, headers)).AssertError(429, "rate_limited");
    }

    private static void AssertHeaders(ApiResponse response, int limit, int remaining, long reset, string policy, string current)
    {
        Assert.Equal(limit.ToString(CultureInfo.InvariantCulture), response.Header("X-RateLimit-Limit"));
        Assert.Equal(remaining.ToString(CultureInfo.InvariantCulture), response.Header("X-RateLimit-Remaining"));
        Assert.Equal(reset.ToString(CultureInfo.InvariantCulture), response.Header("X-RateLimit-Reset"));
        Assert.Equal(policy, response.Header("RateLimit-Policy"));
        Assert.Equal(current, response.Header("RateLimit"));
    }
}
