namespace Slipway.Server.Tests.Support;

/// <summary>Engine settings for tests: router on a random port, short health polling, drain and backoff.</summary>
public static class EngineSettings
{
    public static Dictionary<string, string?> Fast => new()
    {
        ["Slipway:Router:Urls"] = "http://127.0.0.1:0",
        ["Slipway:Runtime:HealthCheckInterval"] = "00:00:00.100",
        ["Slipway:Runtime:HealthCheckTimeout"] = "00:00:15",
        ["Slipway:Runtime:DrainGrace"] = "00:00:00.500",
        ["Slipway:Runtime:StopTimeout"] = "00:00:03",
        ["Slipway:Runtime:RestartBackoffInitial"] = "00:00:00.200",
        ["Slipway:Builds:MaxConcurrentBuilds"] = "2",
    };
}
