using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.SocketIo;

/// <summary>The Engine.IO / Socket.IO wire protocol spoken by hand: what a misbehaving or vanished client gets.</summary>
public sealed class EngineIoProtocolTests : IAsyncDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private SlipwayServer? server;

    public async ValueTask DisposeAsync()
    {
        if (server is not null) await server.DisposeAsync();
    }

    private async Task<SlipwayServer> StartAsync(Dictionary<string, string?>? settings = null)
    {
        var all = new Dictionary<string, string?> { ["Slipway:SocketIo:MaxPayload"] = "10000" };
        foreach (var (key, value) in settings ?? []) all[key] = value;
        server = await SlipwayServer.StartAsync(all);
        return server;
    }

    private static string Url(string? sid = null, string transport = "polling") =>
        $"/socket.io/?EIO=4&transport={transport}" + (sid is null ? "" : "&sid=" + Uri.EscapeDataString(sid));

    private static async Task<(int Status, string Body)> GetAsync(SlipwayServer s, string url)
    {
        using var response = await s.Http.GetAsync(url).WaitAsync(Timeout);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static async Task<(int Status, string Body)> PostAsync(SlipwayServer s, string url, string body)
    {
        using var response = await s.Http.PostAsync(url, new StringContent(body, Encoding.UTF8, "text/plain")).WaitAsync(Timeout);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static async Task<(string Sid, JsonNode Open)> HandshakeAsync(SlipwayServer s)
    {
        var (status, body) = await GetAsync(s, Url());
        Assert.Equal(200, status);
        Assert.StartsWith("0{", body, StringComparison.Ordinal);
        var open = JsonNode.Parse(body[1..])!;
        return (open["sid"]!.GetValue<string>(), open);
    }

    private static void AssertEngineError(int expectedStatus, int code, string message, (int Status, string Body) response)
    {
        Assert.Equal(expectedStatus, response.Status);
        var json = JsonNode.Parse(response.Body)!;
        Assert.Equal(code, json["code"]!.GetValue<int>());
        Assert.Equal(message, json["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task Handshake_OverPolling_ReturnsTheOpenPacket_AndAnonymousHttpIsAllowed()
    {
        var s = await StartAsync();
        var (sid, open) = await HandshakeAsync(s);

        Assert.Equal(20, sid.Length);
        Assert.Equal(["websocket"], open["upgrades"]!.AsArray().Select(u => u!.GetValue<string>()));
        Assert.Equal(25000, open["pingInterval"]!.GetValue<int>());
        Assert.Equal(20000, open["pingTimeout"]!.GetValue<int>());
        Assert.Equal(10000, open["maxPayload"]!.GetValue<int>());
        var openApi = (await s.GetAsync("/openapi.json")).AssertStatus(200).Body;
        Assert.DoesNotContain("socket.io", openApi, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownSid_UnknownTransport_AndOldProtocol_AreRefusedLikeTheReferenceServer()
    {
        var s = await StartAsync();
        AssertEngineError(400, 1, "Session ID unknown", await GetAsync(s, Url("nope")));
        AssertEngineError(400, 1, "Session ID unknown", await PostAsync(s, Url("nope"), "40"));
        AssertEngineError(400, 0, "Transport unknown", await GetAsync(s, Url(transport: "flashsocket")));
        AssertEngineError(400, 5, "Unsupported protocol version", await GetAsync(s, "/socket.io/?EIO=3&transport=polling"));
        AssertEngineError(400, 2, "Bad handshake method", await PostAsync(s, Url(), "40"));
    }

    [Fact]
    public async Task Polling_ConnectAndEventWithAck_AnswerInOnePayloadSeparatedByRecordSeparator()
    {
        var s = await StartAsync();
        var user = await s.RegisterUserAsync();
        var (sid, _) = await HandshakeAsync(s);

        var connect = "40" + new JsonObject { ["token"] = user.Token }.ToJsonString();
        Assert.Equal((200, "ok"), await PostAsync(s, Url(sid), connect + "\x1e" + "421[\"subscribe\",{\"deployment_id\":\"dep_missing\"}]"));
        var packets = new List<string>();
        while (packets.Count < 2) packets.AddRange((await GetAsync(s, Url(sid))).Body.Split('\x1e'));

        Assert.StartsWith("40{\"sid\":\"", packets[0], StringComparison.Ordinal);
        Assert.StartsWith("431[", packets[1], StringComparison.Ordinal);
        var ack = JsonNode.Parse(packets[1][3..])!.AsArray().Single()!;
        Assert.Equal("not_found", ack["error"]!["code"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("4x")]
    [InlineData("42[\"subscribe\"")]
    [InlineData("bAQID")]
    [InlineData("7")]
    [InlineData("45-[\"log\",{\"_placeholder\":true,\"num\":0}]")]
    public async Task MalformedOrBinaryPacket_ClosesTheSession_WithoutHurtingTheServer(string packet)
    {
        var s = await StartAsync();
        var (sid, _) = await HandshakeAsync(s);

        AssertEngineError(400, 3, "Bad request", await PostAsync(s, Url(sid), packet));

        AssertEngineError(400, 1, "Session ID unknown", await GetAsync(s, Url(sid)));
        (await s.GetAsync("/health")).AssertStatus(200);
        await HandshakeAsync(s);
    }

    [Fact]
    public async Task OversizedPayload_IsRefused_OverPollingAndWebSocket()
    {
        var s = await StartAsync();
        var (sid, _) = await HandshakeAsync(s);
        var big = "4" + new string('a', 10_000);

        var (status, _) = await PostAsync(s, Url(sid), big);
        Assert.Equal(413, status);
        AssertEngineError(400, 1, "Session ID unknown", await GetAsync(s, Url(sid)));

        using var socket = new ClientWebSocket();
        using var timeout = new CancellationTokenSource(Timeout);
        await socket.ConnectAsync(new Uri($"ws://{s.BaseAddress.Authority}{Url(transport: "websocket")}"), timeout.Token);
        Assert.StartsWith("0{", await ReceiveTextAsync(socket, timeout.Token), StringComparison.Ordinal);
        await socket.SendAsync(Encoding.UTF8.GetBytes(big), WebSocketMessageType.Text, true, timeout.Token);
        Assert.Null(await ReceiveTextAsync(socket, timeout.Token));
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, socket.CloseStatus);
    }

    [Fact]
    public async Task OverlappingPolls_CloseTheSession()
    {
        var s = await StartAsync();
        var (sid, _) = await HandshakeAsync(s);
        var first = GetAsync(s, Url(sid));
        await Task.Delay(300);
        var second = GetAsync(s, Url(sid));

        var answers = await Task.WhenAll(first, second);

        Assert.Contains((200, "1"), answers);
        AssertEngineError(400, 3, "Bad request", Assert.Single(answers, a => a.Status == 400));
        AssertEngineError(400, 1, "Session ID unknown", await GetAsync(s, Url(sid)));
    }

    [Fact]
    public async Task Heartbeat_ClientThatStopsAnswering_IsClosedAfterPingTimeout_OneThatAnswersStays()
    {
        var s = await StartAsync(new() { ["Slipway:SocketIo:PingInterval"] = "00:00:00.300", ["Slipway:SocketIo:PingTimeout"] = "00:00:01" });
        var (silent, _) = await HandshakeAsync(s);
        var (alive, _) = await HandshakeAsync(s);
        var answering = Task.Run(async () =>
        {
            for (var i = 0; i < 6; i++)
            {
                Assert.Equal((200, "2"), await GetAsync(s, Url(alive)));
                Assert.Equal((200, "ok"), await PostAsync(s, Url(alive), "3"));
            }
        });

        Assert.Equal((200, "2"), await GetAsync(s, Url(silent)));
        var watch = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal((200, "1"), await GetAsync(s, Url(silent)));
        Assert.True(watch.Elapsed > TimeSpan.FromMilliseconds(500), $"closed after {watch.Elapsed}");
        AssertEngineError(400, 1, "Session ID unknown", await GetAsync(s, Url(silent)));

        await answering;
        Assert.Equal((200, "2"), await GetAsync(s, Url(alive)));
    }

    [Fact]
    public async Task Upgrade_ProbeThenUpgradePacket_MovesTheSessionToWebSocket_WithoutLosingPackets()
    {
        var s = await StartAsync();
        var user = await s.RegisterUserAsync();
        var (sid, _) = await HandshakeAsync(s);
        Assert.Equal((200, "ok"), await PostAsync(s, Url(sid), "40" + new JsonObject { ["token"] = user.Token }.ToJsonString()));
        var pending = GetAsync(s, Url(sid));
        Assert.StartsWith("40{", (await pending).Body, StringComparison.Ordinal);
        pending = GetAsync(s, Url(sid));

        using var socket = new ClientWebSocket();
        using var timeout = new CancellationTokenSource(Timeout);
        await socket.ConnectAsync(new Uri($"ws://{s.BaseAddress.Authority}{Url(sid, "websocket")}"), timeout.Token);
        await SendTextAsync(socket, "2probe", timeout.Token);
        Assert.Equal("3probe", await ReceiveTextAsync(socket, timeout.Token));
        Assert.Equal((200, "6"), await pending);

        // Sent while the transports switch: it must come out of the WebSocket once the upgrade completes.
        Assert.Equal((200, "ok"), await PostAsync(s, Url(sid), "421[\"unsubscribe\",{\"deployment_id\":\"dep_x\"}]"));
        await SendTextAsync(socket, "5", timeout.Token);
        var ack = await ReceiveTextAsync(socket, timeout.Token);
        Assert.StartsWith("431[{\"error\":{\"code\":\"not_found\"", ack, StringComparison.Ordinal);

        await SendTextAsync(socket, "422[\"tail\",{}]", timeout.Token);
        Assert.StartsWith("432[{\"error\":{\"code\":\"unknown_event\"", await ReceiveTextAsync(socket, timeout.Token), StringComparison.Ordinal);
        AssertEngineError(400, 3, "Bad request", await GetAsync(s, Url(sid)));
    }

    [Fact]
    public async Task StalledPollingClient_FallsBehind_GetsAGap_ThenEveryLineOnceInOrder()
    {
        var s = await StartAsync(new() { ["Slipway:Logs:SubscriberBuffer"] = "200", ["Slipway:SocketIo:SendBuffer"] = "16" });
        var user = await s.RegisterUserAsync();
        using var repo = GitRepo.Create();
        var files = SampleApps.Static("stalled");
        // The build waits for the subscription (at most 60 s), so the follower is live, not replaying storage, when it writes.
        // The signal is a loopback port that starts listening: a sandboxed build shares the network, not the test's /tmp.
        var go = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        go.Start();
        var goPort = ((System.Net.IPEndPoint)go.LocalEndpoint).Port;
        go.Stop();
        go = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, goPort);
        files["build.sh"] = "node -e \"const net = require('net'), t = Date.now(); (function f() { const c = net.connect(" + goPort +
                            ", '127.0.0.1', () => { c.end(); process.exit(0); }); c.on('error', () => Date.now() - t > 60000 ? process.exit(0) : setTimeout(f, 50)); })()\"\n" +
                            "seq 1 5000 | sed 's/^/line /'\n";
        repo.Commit("stalled", files);
        var projectId = (await s.CreateProjectAsync(user.Token, "sio-stalled",
            new { repo_url = repo.BarePath, framework = "static", build_command = "sh build.sh" }))["id"]!.GetValue<string>();
        var id = (await s.DeployAsync(user.Token, projectId))["id"]!.GetValue<string>();

        var (sid, _) = await HandshakeAsync(s);
        await PostAsync(s, Url(sid), "40" + new JsonObject { ["token"] = user.Token }.ToJsonString());
        Assert.StartsWith("40{", (await GetAsync(s, Url(sid))).Body, StringComparison.Ordinal);
        await PostAsync(s, Url(sid), "420[\"subscribe\",{\"deployment_id\":\"" + id + "\"}]");
        var events = new List<JsonArray>();
        var ack = "";
        async Task PollAsync()
        {
            foreach (var packet in (await GetAsync(s, Url(sid))).Body.Split('\x1e'))
            {
                if (packet == "2") await PostAsync(s, Url(sid), "3");
                else if (packet.StartsWith("42[", StringComparison.Ordinal)) events.Add(JsonNode.Parse(packet[2..])!.AsArray());
                else if (packet.StartsWith("430[", StringComparison.Ordinal)) ack = packet;
            }
        }
        while (ack.Length == 0) await PollAsync();
        go.Start();
        // Nobody polls while the build runs: the socket's queue fills, then the follower's buffer overflows.
        await s.WaitForStatusAsync(user.Token, id, TimeSpan.FromSeconds(90), "ready");

        while (events.Count == 0 || events[^1][0]!.GetValue<string>() != "end") await PollAsync();
        go.Stop();
        Assert.StartsWith("430[{\"ok\":true", ack, StringComparison.Ordinal);
        Assert.Contains(events, e => e[0]!.GetValue<string>() == "gap");
        var logs = events.Where(e => e[0]!.GetValue<string>() == "log").Select(e => e[1]!).ToList();
        var stored = new List<JsonNode>();
        for (string? cursor = "0"; cursor is not null;)
        {
            var page = (await s.GetAsync($"/api/v1/logs/{id}?limit=1000&after={cursor}", user.Token)).AssertStatus(200).Json;
            stored.AddRange(page["data"]!.AsArray().Select(l => l!.DeepClone()));
            cursor = page["next_cursor"]?.GetValue<string>();
        }
        Assert.Equal(stored.Select(l => l.ToJsonString()), logs.Select(l => l.ToJsonString()));
        Assert.Equal(5000, logs.Count(l => l["stream"]!.GetValue<string>() == "build"));
    }

    [Fact]
    public async Task WebSocket_BinaryFrame_ClosesTheSession()
    {
        var s = await StartAsync();
        using var socket = new ClientWebSocket();
        using var timeout = new CancellationTokenSource(Timeout);
        await socket.ConnectAsync(new Uri($"ws://{s.BaseAddress.Authority}{Url(transport: "websocket")}"), timeout.Token);
        var open = JsonNode.Parse((await ReceiveTextAsync(socket, timeout.Token))![1..])!;
        Assert.Empty(open["upgrades"]!.AsArray());

        await socket.SendAsync(new byte[] { 4, 1, 2, 3 }, WebSocketMessageType.Binary, true, timeout.Token);

        Assert.Null(await ReceiveTextAsync(socket, timeout.Token));
        Assert.Equal(WebSocketCloseStatus.InvalidMessageType, socket.CloseStatus);
        AssertEngineError(400, 1, "Session ID unknown", await GetAsync(s, Url(open["sid"]!.GetValue<string>())));
    }

    private static Task SendTextAsync(ClientWebSocket socket, string text, CancellationToken ct) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, ct);

    /// <summary>The next text message, or null once the server closed.</summary>
    private static async Task<string?> ReceiveTextAsync(ClientWebSocket socket, CancellationToken ct)
    {
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, ct);
            if (result.MessageType == WebSocketMessageType.Close) return null;
            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage) return Encoding.UTF8.GetString(message.ToArray());
        }
    }
}
