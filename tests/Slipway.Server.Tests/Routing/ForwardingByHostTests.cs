using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Slipway.Server.Routing;
using Slipway.Server.Tests.Support;
using static Slipway.Server.Tests.Routing.RouterTesting;

namespace Slipway.Server.Tests.Routing;

public sealed class ForwardingByHostTests : IAsyncLifetime
{
    private SlipwayServer server = null!;
    private TestBackend alpha = null!;
    private TestBackend beta = null!;
    private HttpClient client = null!;

    public async Task InitializeAsync()
    {
        alpha = await TestBackend.StartAsync("alpha");
        beta = await TestBackend.StartAsync("beta");
        server = await SlipwayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Slipway:Router:ResponseHeadersTimeout"] = "00:00:01",
            ["Slipway:Router:FixedRoutes:pinned.example.test"] = beta.Address.ToString(),
        });
        client = server.RouterClient();
        server.SetRoutes(
            ("alpha.localhost", To(alpha)),
            ("beta.localhost", To(beta)),
            ("pinned.example.test", To(alpha)),
            ("idle.localhost", RouteTarget.NoLiveRelease),
            ("down.localhost", new RouteTarget("dep-down", TestBackend.DeadAddress(), null)),
            ("127.0.0.1", To(alpha)));
    }

    public async Task DisposeAsync()
    {
        client.Dispose();
        await server.DisposeAsync();
        await alpha.DisposeAsync();
        await beta.DisposeAsync();
    }

    private async Task<(HttpStatusCode Status, string Body, HttpResponseMessage Response)> SendAsync(string host, string path,
        HttpMethod? method = null, Action<HttpRequestMessage>? configure = null)
    {
        using var request = For(host, method ?? HttpMethod.Get, path);
        configure?.Invoke(request);
        var response = await client.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), response);
    }

    [Fact]
    public async Task Request_ForEachKnownHost_ReachesThatHostsBackend()
    {
        var (status, body, _) = await SendAsync("alpha.localhost", "/");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("alpha", JsonNode.Parse(body)!["backend"]!.GetValue<string>());

        (status, body, _) = await SendAsync("Beta.LOCALHOST.:8000", "/");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("beta", JsonNode.Parse(body)!["backend"]!.GetValue<string>());
    }

    [Fact]
    public async Task Request_MethodPathAndQuery_ArriveUnchanged()
    {
        var (status, body, _) = await SendAsync("alpha.localhost", "/a/b%2Fc?x=1&y=%20z", HttpMethod.Put,
            r => r.Content = new StringContent("payload", Encoding.UTF8, "text/plain"));

        Assert.Equal(HttpStatusCode.OK, status);
        var echo = JsonNode.Parse(body)!;
        Assert.Equal("PUT", echo["method"]!.GetValue<string>());
        Assert.Equal("/a/b%2Fc?x=1&y=%20z", echo["target"]!.GetValue<string>());
        Assert.Equal("text/plain; charset=utf-8", echo["headers"]!["content-type"]!.GetValue<string>());
        Assert.Equal("7", echo["headers"]!["content-length"]!.GetValue<string>());
    }

    [Fact]
    public async Task Request_WithNetworkPathTarget_StaysOnTheUpstream()
    {
        var response = await server.RawAsync("GET //evil.example/x HTTP/1.1\nHost: alpha.localhost\nConnection: close\n");

        Assert.Equal(200, RawStatus(response));
        Assert.Contains("\"target\":\"//evil.example/x\"", response);
    }

    [Fact]
    public async Task Request_ForFixedRoute_WinsOverComputedRoute()
    {
        var (status, body, _) = await SendAsync("pinned.example.test", "/");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("beta", JsonNode.Parse(body)!["backend"]!.GetValue<string>());
    }

    [Fact]
    public async Task Request_ForUnknownHost_Is404Page()
    {
        var (status, body, response) = await SendAsync("nobody.localhost", "/");

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("text/html", response.Content.Headers.ContentType!.MediaType);
        Assert.Contains("404 Not found", body);
    }

    [Fact]
    public async Task Request_ForHostWithoutLiveRelease_Is503Page()
    {
        var (status, body, response) = await SendAsync("idle.localhost", "/");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Contains("No live release", body);
        Assert.NotNull(response.Headers.RetryAfter);
    }

    [Fact]
    public async Task Request_WhenBackendRefusesConnections_Is502Page()
    {
        var (status, body, _) = await SendAsync("down.localhost", "/");

        Assert.Equal(HttpStatusCode.BadGateway, status);
        Assert.Contains("502 Bad gateway", body);
        Assert.Contains(server.Logs.Lines, line => line.Contains("Upstream", StringComparison.Ordinal) && line.Contains("(502)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Request_WhenBackendAnswersTooLate_Is504Page()
    {
        var (status, body, _) = await SendAsync("alpha.localhost", "/slow");

        Assert.Equal(HttpStatusCode.GatewayTimeout, status);
        Assert.Contains("504 Gateway timeout", body);
    }

    [Fact]
    public async Task Request_Headers_CarryForwardedForProtoAndHostWithoutHopByHop()
    {
        var (status, body, _) = await SendAsync("alpha.localhost", "/", configure: r =>
        {
            r.Headers.Connection.Add("X-Hop-In");
            r.Headers.TryAddWithoutValidation("X-Hop-In", "secret");
            r.Headers.TryAddWithoutValidation("Keep-Alive", "timeout=5");
            r.Headers.TryAddWithoutValidation("Proxy-Authorization", "Basic Zm9vOmJhcg==");
            r.Headers.TryAddWithoutValidation("TE", "trailers");
            r.Headers.TryAddWithoutValidation("X-Forwarded-For", "203.0.113.9");
            r.Headers.TryAddWithoutValidation("X-Forwarded-Host", "evil.example");
            r.Headers.TryAddWithoutValidation("X-Custom", "kept");
        });

        Assert.Equal(HttpStatusCode.OK, status);
        var headers = JsonNode.Parse(body)!["headers"]!.AsObject();
        Assert.Equal("alpha.localhost", headers["host"]!.GetValue<string>());
        // The router is the edge: a client-sent chain is replaced, not trusted (TrustForwardedFor is off by default).
        Assert.Equal("127.0.0.1", headers["x-forwarded-for"]!.GetValue<string>());
        Assert.Equal("http", headers["x-forwarded-proto"]!.GetValue<string>());
        Assert.Equal("alpha.localhost", headers["x-forwarded-host"]!.GetValue<string>());
        Assert.Equal("kept", headers["x-custom"]!.GetValue<string>());
        foreach (var dropped in new[] { "x-hop-in", "keep-alive", "proxy-authorization", "te", "upgrade", "transfer-encoding" })
        {
            Assert.False(headers.ContainsKey(dropped), $"{dropped} reached the backend");
        }
    }

    [Fact]
    public async Task Response_HopByHopHeaders_StayOnTheBackendsHop()
    {
        var (status, body, response) = await SendAsync("alpha.localhost", "/hop");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("hop", body);
        Assert.Equal("yes", response.Headers.GetValues("X-Kept").Single());
        Assert.False(response.Headers.Contains("X-Hop-Out"));
        Assert.False(response.Headers.Contains("Keep-Alive"));
    }

    [Fact]
    public async Task WebSocket_ThroughRouter_EchoesMessages()
    {
        using var socket = new ClientWebSocket();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var router = server.RouterAddress();
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{router.Port}/ws"), timeout.Token);

        var buffer = new byte[256 * 1024];
        foreach (var message in new[] { "hello", "second message", new string('x', 100_000) })
        {
            await socket.SendAsync(Encoding.UTF8.GetBytes(message), WebSocketMessageType.Text, true, timeout.Token);
            var received = new StringBuilder();
            WebSocketReceiveResult result;
            do
            {
                result = await socket.ReceiveAsync(buffer, timeout.Token);
                received.Append(Encoding.UTF8.GetString(buffer, 0, result.Count));
            }
            while (!result.EndOfMessage);
            Assert.Equal(message, received.ToString());
        }
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);
        Assert.Equal(WebSocketState.Closed, socket.State);
        Assert.Equal("bye", socket.CloseStatusDescription);
    }

    [Fact]
    public async Task Upgrade_RefusedByBackend_RelaysItsAnswer()
    {
        var (status, _, _) = await SendAsync("alpha.localhost", "/ws", configure: r =>
        {
            r.Headers.Connection.Add("Upgrade");
            r.Headers.Upgrade.ParseAdd("not-a-websocket");
        });

        Assert.Equal((HttpStatusCode)426, status);
    }

    [Fact]
    public async Task Replace_WhileRequestsFlow_SwapsWithoutAFailedRequest()
    {
        var table = server.Service<RouteTable>();
        var seen = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        // The host exists before the first request: a client that overtook the swapper's first write would see a 404.
        table.Replace(new Dictionary<string, RouteTarget> { ["swap.localhost"] = To(beta) });
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        var swapper = Task.Run(async () =>
        {
            var flip = true;
            while (!stop.IsCancellationRequested)
            {
                table.Replace(new Dictionary<string, RouteTarget> { ["swap.localhost"] = To(flip ? alpha : beta) });
                flip = !flip;
                await Task.Delay(2);
            }
        });
        var clients = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    using var request = For("swap.localhost", HttpMethod.Get, "/");
                    using var response = await client.SendAsync(request);
                    var body = await response.Content.ReadAsStringAsync();
                    if (response.StatusCode != HttpStatusCode.OK) failures.Add($"{(int)response.StatusCode}: {body}");
                    else seen.AddOrUpdate(JsonNode.Parse(body)!["backend"]!.GetValue<string>(), 1, (_, n) => n + 1);
                }
                catch (Exception e)
                {
                    failures.Add(e.Message);
                }
            }
        })).ToArray();
        await Task.WhenAll(clients.Append(swapper)).WaitAsync(TimeSpan.FromSeconds(30));

        // A failure names every replacement that did not come from this test (which always writes its host + the pinned one).
        var foreign = server.Logs.Lines.Where(l => l.Contains("Route table replaced", StringComparison.Ordinal) && !l.Contains(": 2 host", StringComparison.Ordinal));
        Assert.True(failures.IsEmpty, $"{string.Join("\n", failures.Take(3))}\nOther replacements: {string.Join("\n", foreign)}");
        Assert.True(seen.GetValueOrDefault("alpha") > 0 && seen.GetValueOrDefault("beta") > 0, $"Saw {string.Join(", ", seen)}");
    }
}
