using System.Globalization;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Auth;

/// <summary>Each test has its own server: failure counters are per process and the per-IP one is shared by every test on 127.0.0.1.</summary>
public sealed class ThrottlingFailedLoginsTests
{
    [Fact]
    public async Task Login_TooManyFailuresForOneAccount_Returns429WithRetryAfterEvenForTheRightPassword()
    {
        await using var server = await SlipwayServer.StartAsync(new Dictionary<string, string?> { ["Slipway:Auth:MaxFailedLoginsPerAccount"] = "3" });
        var victim = await server.RegisterUserAsync();
        var bystander = await server.RegisterUserAsync();
        for (var i = 0; i < 3; i++)
        {
            (await server.PostAsync("/api/v1/auth/login", new { email = victim.Email, password = "guess-" + i })).AssertError(401, "unauthenticated");
        }

        var limited = await server.PostAsync("/api/v1/auth/login", new { email = victim.Email, password = victim.Password });

        limited.AssertError(429, "rate_limited");
        Assert.True(int.Parse(limited.Header("Retry-After")!, CultureInfo.InvariantCulture) > 0);
        (await server.PostAsync("/api/v1/auth/login", new { email = bystander.Email, password = bystander.Password })).AssertStatus(200);
    }

    [Fact]
    public async Task Login_TooManyFailuresFromOneAddress_Returns429ForEveryAccount()
    {
        await using var server = await SlipwayServer.StartAsync(new Dictionary<string, string?> { ["Slipway:Auth:MaxFailedLoginsPerIp"] = "3" });
        var user = await server.RegisterUserAsync();
        for (var i = 0; i < 3; i++)
        {
            (await server.PostAsync("/api/v1/auth/login", new { email = $"spray-{i}@example.test", password = "Winter2026!" })).AssertError(401, "unauthenticated");
        }

        var limited = await server.PostAsync("/api/v1/auth/login", new { email = user.Email, password = user.Password });

        limited.AssertError(429, "rate_limited");
        Assert.True(int.Parse(limited.Header("Retry-After")!, CultureInfo.InvariantCulture) > 0);
    }

    [Fact]
    public async Task Login_DefaultLimitReached_Returns429()
    {
        await using var server = await SlipwayServer.StartAsync();
        var user = await server.RegisterUserAsync();
        for (var i = 0; i < 10; i++)
        {
            (await server.PostAsync("/api/v1/auth/login", new { email = user.Email, password = "guess-" + i })).AssertError(401, "unauthenticated");
        }
        var limited = await server.PostAsync("/api/v1/auth/login", new { email = user.Email, password = "guess-again" });
        limited.AssertError(429, "rate_limited");
        Assert.NotNull(limited.Header("Retry-After"));
    }
}
