using Slipway.Server.Tests.Support;
using Slipway.Server.Tests.Webhooks;

namespace Slipway.Server.Tests.Observability;

/// <summary>
/// The engine's metrics after real deployments (results by trigger, durations, live releases, log lines), router traffic
/// and webhook deliveries.
/// </summary>
public sealed class ScrapingEngineMetricsTests : IAsyncLifetime
{
    private static readonly TimeSpan Deploy = TimeSpan.FromSeconds(90);
    private SlipwayServer server = null!;
    private GitRepo repo = null!;

    public async Task InitializeAsync()
    {
        var settings = EngineSettings.Fast;
        foreach (var (key, value) in WebhookIntents.Settings(("RetrySchedule", "00:00:00,00:00:00.100"))) settings[key] = value;
        server = await SlipwayServer.StartAsync(settings);
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

    [Fact]
    public async Task AfterRouterTraffic_RequestsAndLatencyAreCountedPerProjectAndStatusClass_UnknownHostsAsOne()
    {
        var user = await server.RegisterUserAsync();
        repo.Commit("v1", SampleApps.Node("v1", buildScript: null));
        var project = (await server.CreateProjectAsync(user.Token, "metered-app",
            new { repo_url = repo.BarePath, build_command = "true", start_command = "node server.js" }))["id"]!.GetValue<string>();
        await server.CreateProjectAsync(user.Token, "idle-app");
        await server.WaitForStatusAsync(user.Token, (await server.DeployAsync(user.Token, project))["id"]!.GetValue<string>(), Deploy, "ready");
        var before = PrometheusText.Parse((await server.GetAsync("/metrics")).AssertStatus(200).Body);

        for (var i = 0; i < 7; i++) Assert.Equal("v1", await server.RouterGetStringAsync("metered-app.localhost", "/"));
        for (var i = 0; i < 3; i++)
        {
            using var unknown = await server.RouterGetAsync($"nobody-{i}.example.net", "/");
            Assert.Equal(System.Net.HttpStatusCode.NotFound, unknown.StatusCode);
        }
        using (var idle = await server.RouterGetAsync("idle-app.localhost", "/"))
        {
            Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, idle.StatusCode);
        }
        var after = PrometheusText.Parse((await server.GetAsync("/metrics")).AssertStatus(200).Body);

        (string, string) metered = ("project", "metered-app");
        Assert.Equal("counter", after["slipway_router_requests_total"].Type);
        Assert.Equal("histogram", after["slipway_router_request_duration_seconds"].Type);
        Assert.Equal(7, after.Value("slipway_router_requests_total", metered, ("status_class", "2xx"))
                        - before.Value("slipway_router_requests_total", metered, ("status_class", "2xx")));
        Assert.Equal(7, after.Value("slipway_router_request_duration_seconds_count", metered)
                        - before.Value("slipway_router_request_duration_seconds_count", metered));
        Assert.True(after.Value("slipway_router_request_duration_seconds_sum", metered) > before.Value("slipway_router_request_duration_seconds_sum", metered));
        Assert.Equal(3, after.Value("slipway_router_requests_total", ("project", "(unknown)"), ("status_class", "4xx")));
        Assert.Equal(1, after.Value("slipway_router_requests_total", ("project", "idle-app"), ("status_class", "5xx")));
        Assert.DoesNotContain(after["slipway_router_requests_total"].Samples, s => s.Labels["project"].Contains("example.net", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AfterWebhookDeliveries_TheyAreCountedByResult()
    {
        var user = await server.RegisterUserAsync();
        await using var ok = await WebhookReceiver.StartAsync();
        await using var refusing = await WebhookReceiver.StartAsync(fallback: new { status = 503 });
        var okId = (await server.CreateWebhookAsync(user.Token, ok.Url))["id"]!.GetValue<string>();
        var refusingId = (await server.CreateWebhookAsync(user.Token, refusing.Url))["id"]!.GetValue<string>();
        var before = PrometheusText.Parse((await server.GetAsync("/metrics")).AssertStatus(200).Body);

        await server.InsertEventsAsync(user.WorkspaceId, 2);
        foreach (var delivery in await WaitForAllAsync(okId, "succeeded", 2)) Assert.Equal("succeeded", delivery!["status"]!.GetValue<string>());
        await WaitForAllAsync(refusingId, "dead", 2);
        // Counted right after the outcome's commit, which the deliveries API may show a moment earlier.
        var after = await ScrapeUntilAsync(m => m.Value("slipway_webhook_deliveries_total", ("result", "dead")) - before.Value("slipway_webhook_deliveries_total", ("result", "dead")) >= 2);

        Assert.Equal("counter", after["slipway_webhook_deliveries_total"].Type);
        Assert.Equal(2, after.Value("slipway_webhook_deliveries_total", ("result", "succeeded")) - before.Value("slipway_webhook_deliveries_total", ("result", "succeeded")));
        // Two attempts per refused delivery (the retry schedule has two steps): the first is retried, the second is final.
        Assert.Equal(2, after.Value("slipway_webhook_deliveries_total", ("result", "retrying")) - before.Value("slipway_webhook_deliveries_total", ("result", "retrying")));
        Assert.Equal(2, after.Value("slipway_webhook_deliveries_total", ("result", "dead")) - before.Value("slipway_webhook_deliveries_total", ("result", "dead")));

        async Task<PrometheusText> ScrapeUntilAsync(Func<PrometheusText, bool> condition)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (true)
            {
                var scraped = PrometheusText.Parse((await server.GetAsync("/metrics")).AssertStatus(200).Body);
                if (condition(scraped) || DateTime.UtcNow > deadline) return scraped;
                await Task.Delay(20);
            }
        }

        async Task<System.Text.Json.Nodes.JsonArray> WaitForAllAsync(string webhookId, string status, int count)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (true)
            {
                var deliveries = await server.DeliveriesAsync(user.Token, webhookId);
                if (deliveries.Count == count && deliveries.All(d => d!["status"]!.GetValue<string>() == status)) return deliveries;
                Assert.True(DateTime.UtcNow < deadline, $"deliveries of {webhookId} did not all become {status}: {deliveries.ToJsonString()}");
                await Task.Delay(50);
            }
        }
    }
}
