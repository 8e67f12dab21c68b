using Slipway.Server.Tests.ApiKeys;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.RateLimiting;

public sealed class TurningRateLimitsOffTests
{
    [Fact]
    public async Task Disabled_NoRequestIsRefused_AndNoHeadersAreSent()
    {
        await using var server = await SlipwayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Slipway:RateLimits:Enabled"] = "false",
            ["Slipway:RateLimits:Standard:RequestsPerMinute"] = "1",
            ["Slipway:RateLimits:Standard:Burst"] = "1",
        });
        var user = await server.RegisterUserAsync();
        var key = await server.KeyAsync(user.Token);

        for (var i = 0; i < 5; i++)
        {
            var response = (await server.GetAsync("/api/v1/projects", key)).AssertStatus(200);
            Assert.Null(response.Header("X-RateLimit-Limit"));
            Assert.Null(response.Header("RateLimit-Policy"));
        }
    }

    [Fact]
    public async Task Enabled_TheSameSettings_RefuseTheSecondRequest()
    {
        await using var server = await SlipwayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Slipway:RateLimits:Interactive:RequestsPerMinute"] = "1",
            ["Slipway:RateLimits:Interactive:Burst"] = "1",
        });
        var user = await server.RegisterUserAsync();

        (await server.GetAsync("/api/v1/projects", user.Token)).AssertError(429, "rate_limited");
    }
}
