using System.Diagnostics;
using Slipway.Server.Observability;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Observability;

public sealed class ScrapingMetricsTests : IAsyncLifetime
{
    private const string Requests = "slipway_http_requests_total";
    private const string Duration = "slipway_http_request_duration_seconds";
    private const string ProjectRoute = "/api/v1/projects/{id}";
    private SlipwayServer server = null!;

    public async Task InitializeAsync() => server = await SlipwayServer.StartAsync();

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task Scrape_AfterRequests_CountsExactlyThoseRequestsByRouteTemplate()
    {
        var user = await server.RegisterUserAsync();
        var projectId = (await server.CreateProjectAsync(user.Token))["id"]!.GetValue<string>();
        var unknownPath = $"/no/such/page-{Guid.NewGuid():N}";
        var before = await ScrapeAsync();

        for (var i = 0; i < 3; i++) (await server.GetAsync($"/api/v1/projects/{projectId}", user.Token)).AssertStatus(200);
        for (var i = 0; i < 2; i++) (await server.GetAsync($"/api/v1/projects/{projectId}")).AssertError(401, "unauthenticated");
        for (var i = 0; i < 2; i++) (await server.GetAsync(unknownPath)).AssertError(404, "not_found");
        var (after, text) = await ScrapeWithTextAsync();

        double Delta(string name, params (string, string)[] labels) => after.Value(name, labels) - before.Value(name, labels);
        Assert.Equal(3, Delta(Requests, ("method", "GET"), ("route", ProjectRoute), ("status", "200")));
        Assert.Equal(2, Delta(Requests, ("method", "GET"), ("route", ProjectRoute), ("status", "401")));
        Assert.Equal(2, Delta(Requests, ("method", "GET"), ("route", HttpMetrics.Unmatched), ("status", "404")));
        Assert.Equal(5, Delta(Duration + "_count", ("method", "GET"), ("route", ProjectRoute)));
        Assert.Equal(5, Delta(Duration + "_bucket", ("method", "GET"), ("route", ProjectRoute), ("le", "+Inf")));
        Assert.True(Delta(Duration + "_sum", ("method", "GET"), ("route", ProjectRoute)) > 0);
        Assert.DoesNotContain(projectId, text, StringComparison.Ordinal);
        Assert.DoesNotContain(unknownPath, text, StringComparison.Ordinal);
        Assert.True(after.Value("slipway_http_requests_in_flight") >= 1, "the scrape itself is in flight");
    }

    [Fact]
    public async Task Scrape_Always_ServesTextFormatWithTypedFamilies()
    {
        (await server.GetAsync("/ready")).AssertStatus(200);
        var response = (await server.GetAsync("/metrics")).AssertStatus(200);
        var metrics = PrometheusText.Parse(response.Body);

        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Header("Content-Type"));
        Assert.Equal("counter", metrics[Requests].Type);
        Assert.Equal("histogram", metrics[Duration].Type);
        Assert.Equal("gauge", metrics["slipway_http_requests_in_flight"].Type);
        foreach (var counter in (string[])["process_cpu_seconds_total", "dotnet_gc_collections_total", "dotnet_gc_pause_seconds_total", "dotnet_threadpool_completed_items_total"])
        {
            Assert.Equal("counter", metrics[counter].Type);
        }
        foreach (var gauge in (string[])["process_resident_memory_bytes", "process_start_time_seconds", "process_open_fds",
                     "dotnet_gc_heap_size_bytes", "dotnet_threadpool_threads", "dotnet_threadpool_queue_length"])
        {
            Assert.Equal("gauge", metrics[gauge].Type);
        }
        Assert.Equal(["0", "1", "2"], metrics["dotnet_gc_collections_total"].Samples.Select(s => s.Labels["generation"]));
        Assert.True(metrics.Value("process_resident_memory_bytes") > 1 << 20);
        Assert.True(metrics.Value("process_open_fds") > 3);
        Assert.True(metrics.Value("dotnet_threadpool_threads") >= 1);
        var started = DateTimeOffset.FromUnixTimeMilliseconds((long)(metrics.Value("process_start_time_seconds") * 1000));
        Assert.InRange(started, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow);
        Assert.Contains(metrics[Requests].Samples, s => s.Labels["route"] == "/ready");
    }

    [Fact]
    public async Task Scrape_RouteWithQuotesBackslashesAndNewline_EscapesTheLabelValue()
    {
        const string tricky = "/odd/{x:regex(^a\\\\d\"q\"$)}\nsecond line";
        server.Service<HttpMetrics>().Record("GET", tricky, 200, Stopwatch.Frequency * 7 / 1000);

        var (metrics, text) = await ScrapeWithTextAsync();

        Assert.Equal(1, metrics.Value(Requests, ("method", "GET"), ("route", tricky), ("status", "200")));
        Assert.Equal(1, metrics.Value(Duration + "_bucket", ("method", "GET"), ("route", tricky), ("le", "0.01")));
        Assert.Equal(0, metrics.Value(Duration + "_bucket", ("method", "GET"), ("route", tricky), ("le", "0.005")));
        Assert.Contains("route=\"/odd/{x:regex(^a\\\\\\\\d\\\"q\\\"$)}\\nsecond line\"", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Request_WithQueryToken_LogsOneLineWithRouteStatusAndIdButNoQuery()
    {
        var user = await server.RegisterUserAsync();
        var projectId = (await server.CreateProjectAsync(user.Token))["id"]!.GetValue<string>();
        var requestId = "req-log-" + Guid.NewGuid().ToString("N");

        (await server.SendAsync(HttpMethod.Get, $"/api/v1/projects/{projectId}?token=sekrit-query-value", token: user.Token,
            headers: new Dictionary<string, string> { ["X-Request-Id"] = requestId })).AssertStatus(200);

        var lines = await WaitForLogAsync(requestId);
        var line = Assert.Single(lines);
        Assert.Contains("Slipway.Requests", line, StringComparison.Ordinal);
        Assert.Contains($"GET {ProjectRoute} /api/v1/projects/{projectId} responded 200 in", line, StringComparison.Ordinal);
        Assert.Matches(@"DurationMs=\d+(\.\d+)?", line);
        Assert.DoesNotContain("sekrit", string.Join("\n", server.Logs.Lines), StringComparison.Ordinal);
        Assert.DoesNotContain(user.Token, string.Join("\n", server.Logs.Lines), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Request_UnknownMethod_IsCountedAsOtherNotAsItsName()
    {
        var method = "BREW" + Guid.NewGuid().ToString("N")[..6].ToUpperInvariant();
        await server.SendAsync(new HttpMethod(method), "/ready");

        var (metrics, text) = await ScrapeWithTextAsync();

        Assert.DoesNotContain(method, text, StringComparison.Ordinal);
        Assert.Contains(metrics[Requests].Samples, s => s.Labels["method"] == "OTHER");
    }

    private async Task<PrometheusText> ScrapeAsync() => (await ScrapeWithTextAsync()).Metrics;

    private async Task<(PrometheusText Metrics, string Text)> ScrapeWithTextAsync()
    {
        var response = (await server.GetAsync("/metrics")).AssertStatus(200);
        return (PrometheusText.Parse(response.Body), response.Body);
    }

    /// <summary>The line is written when the pipeline unwinds, which can be just after the client has its response.</summary>
    private async Task<List<string>> WaitForLogAsync(string requestId)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (true)
        {
            var lines = server.Logs.Lines.Where(l => l.Contains("Slipway.Requests", StringComparison.Ordinal)
                                                     && l.Contains(requestId, StringComparison.Ordinal)).ToList();
            if (lines.Count > 0 || DateTime.UtcNow > deadline)
            {
                await Task.Delay(100);
                return server.Logs.Lines.Where(l => l.Contains(requestId, StringComparison.Ordinal)).ToList();
            }
            await Task.Delay(20);
        }
    }
}
