using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Observability;

public sealed class ReportingReadinessTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Ready_AfterStart_Returns200()
    {
        await using var server = await SlipwayServer.StartAsync();

        var response = (await server.GetAsync("/ready")).AssertStatus(200);

        Assert.Equal("ready", response.Json["status"]!.GetValue<string>());
        Assert.Equal("no-store", response.Header("Cache-Control"));
    }

    [Fact]
    public async Task Ready_WhileBackgroundServicesAreStillStarting_Returns503()
    {
        var port = FreePort();
        var gate = new StartGate();
        var starting = SlipwayServer.StartAsync(new Dictionary<string, string?> { ["urls"] = $"http://127.0.0.1:{port}" },
            services: s => s.AddSingleton<IHostedService>(gate));
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(5) };
        await gate.Reached.WaitAsync(Patience);

        var (status, body) = await GetAsync(http, "/ready");
        gate.Release();
        await using var server = await starting.WaitAsync(Patience);

        Assert.Equal(503, status);
        Assert.Equal("not_ready", body["status"]!.GetValue<string>());
        Assert.Equal("starting", body["reason"]!.GetValue<string>());
        (await server.GetAsync("/ready")).AssertStatus(200);
    }

    [Fact]
    public async Task Ready_WhileShuttingDown_Returns503AndOtherRequestsStillWork()
    {
        var server = await SlipwayServer.StartAsync(new Dictionary<string, string?> { ["Slipway:Observability:ShutdownDrainSeconds"] = "3" });
        using var http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        Assert.Equal(200, (await GetAsync(http, "/ready")).Status);

        var stopping = server.DisposeAsync().AsTask();
        var (status, body) = await PollUntilAsync(http, "/ready", s => s == 503);
        var (healthStatus, _) = await GetAsync(http, "/health");
        await stopping.WaitAsync(Patience);

        Assert.Equal(503, status);
        Assert.Equal("not_ready", body["status"]!.GetValue<string>());
        Assert.Equal("shutting down", body["reason"]!.GetValue<string>());
        Assert.Equal(200, healthStatus);
        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync(new Uri("/ready", UriKind.Relative)));
    }

    private static async Task<(int Status, JsonNode Body)> GetAsync(HttpClient http, string path)
    {
        using var response = await http.GetAsync(new Uri(path, UriKind.Relative));
        return ((int)response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    private static async Task<(int Status, JsonNode Body)> PollUntilAsync(HttpClient http, string path, Func<int, bool> done)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            var result = await GetAsync(http, path);
            if (done(result.Status) || DateTime.UtcNow > deadline) return result;
            await Task.Delay(20);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>A background service whose start holds the host after Kestrel listens and before ApplicationStarted.</summary>
    private sealed class StartGate : IHostedLifecycleService
    {
        private readonly TaskCompletionSource reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource released = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Reached => reached.Task;

        public void Release() => released.TrySetResult();

        public async Task StartedAsync(CancellationToken cancellationToken)
        {
            reached.TrySetResult();
            await released.Task.WaitAsync(cancellationToken);
        }

        public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
