using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Observability;

/// <summary>The engine's metrics after real deployments: results by trigger, durations, live releases, log lines.</summary>
public sealed class ScrapingEngineMetricsTests : IAsyncLifetime
{
    private static readonly TimeSpan Deploy = TimeSpan.FromSeconds(90);
    private SlipwayServer server = null!;
    private GitRepo repo = null!;

    public async Task InitializeAsync()
    {
        server = await SlipwayServer.StartAsync(EngineSettings.Fast);
        repo = GitRepo.Create();
    }

    public async Task DisposeAsync()
    {
        await server.DisposeAsync();
        repo.Dispose();
    }

    [Fact]
    public async Task AfterAReadyAndAFailedDeployment_MetricsCountThemAndTheLiveRelease()
    {
        var user = await server.RegisterUserAsync();
        var before = PrometheusText.Parse((await server.GetAsync("/metrics")).AssertStatus(200).Body);
        var app = SampleApps.Node("v1", buildScript: null);
        app["build.sh"] = "echo built\n";
        repo.Commit("good", app);
        var project = (await server.CreateProjectAsync(user.Token, "metrics-app",
            new { repo_url = repo.BarePath, build_command = "sh build.sh", start_command = "node server.js" }))["id"]!.GetValue<string>();
        await server.WaitForStatusAsync(user.Token, (await server.DeployAsync(user.Token, project))["id"]!.GetValue<string>(), Deploy, "ready");
        app["build.sh"] = "exit 5\n";
        repo.Commit("bad", app);
        await server.WaitForStatusAsync(user.Token, (await server.DeployAsync(user.Token, project))["id"]!.GetValue<string>(), Deploy, "failed");

        var response = (await server.GetAsync("/metrics")).AssertStatus(200);
        var after = PrometheusText.Parse(response.Body);

        Assert.Equal("counter", after["slipway_deployments_total"].Type);
        Assert.Equal(1, after.Value("slipway_deployments_total", ("status", "ready"), ("trigger", "manual")));
        Assert.Equal(1, after.Value("slipway_deployments_total", ("status", "failed"), ("trigger", "manual")));
        Assert.Equal(1, after.Value("slipway_deployment_duration_seconds_count", ("status", "ready")));
        Assert.Equal(1, after.Value("slipway_deployment_duration_seconds_count", ("status", "failed")));
        Assert.Equal(2, after.Value("slipway_build_duration_seconds_count"));
        Assert.True(after.Value("slipway_deployment_duration_seconds_sum", ("status", "ready")) > 0);
        Assert.Equal(1, after.Value("slipway_live_releases", ("live_status", "running")));
        Assert.Equal(0, after.Value("slipway_release_restarts"));
        Assert.True(after.Value("slipway_log_lines_ingested_total") > before.Value("slipway_log_lines_ingested_total"));
    }
}
