using System.Text.Json;
using System.Text.Json.Nodes;
using Slipway.Server.Tests.Support;
using SocketIOClient;

namespace Slipway.Server.Tests.SocketIo;

/// <summary>Live logs through off-the-shelf Socket.IO clients: every line once and in order, exactly as REST stores them.</summary>
public sealed class StreamingLogsOverSocketIoTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);
    private SlipwayServer server = null!;
    private TestUser user = null!;
    private readonly List<GitRepo> repos = [];

    public async Task InitializeAsync()
    {
        server = await SlipwayServer.StartAsync(EngineSettings.Fast);
        user = await server.RegisterUserAsync();
    }

    public async Task DisposeAsync()
    {
        await server.DisposeAsync();
        foreach (var repo in repos) repo.Dispose();
    }

    /// <summary>A static site whose build prints <paramref name="lines"/> numbered lines, a few at a time.</summary>
    private async Task<string> StartBuildAsync(string name, int lines)
    {
        var repo = GitRepo.Create();
        repos.Add(repo);
        var files = SampleApps.Static(name);
        files["build.sh"] = $"i=1; while [ $i -le {lines} ]; do echo \"line $i\"; if [ $((i % 10)) -eq 0 ]; then sleep 0.05; fi; i=$((i+1)); done\n";
        repo.Commit(name, files);
        var projectId = (await server.CreateProjectAsync(user.Token, name,
            new { repo_url = repo.BarePath, framework = "static", build_command = "sh build.sh" }))["id"]!.GetValue<string>();
        return (await server.DeployAsync(user.Token, projectId))["id"]!.GetValue<string>();
    }

    /// <summary>Every stored line of the deployment, as REST returns them (all pages).</summary>
    private async Task<List<JsonNode>> RestLinesAsync(string deploymentId, long after = 0)
    {
        var lines = new List<JsonNode>();
        var cursor = after.ToString(System.Globalization.CultureInfo.InvariantCulture);
        while (true)
        {
            var page = (await server.GetAsync($"/api/v1/logs/{deploymentId}?limit=1000&after={cursor}", user.Token)).AssertStatus(200).Json;
            lines.AddRange(page["data"]!.AsArray().Select(l => l!.DeepClone()));
            if (page["next_cursor"] is not { } next) return lines;
            cursor = next.GetValue<string>();
        }
    }

    private static void AssertSameLines(IReadOnlyList<JsonNode> expected, IEnumerable<JsonNode> actual) =>
        Assert.Equal(expected.Select(l => l.ToJsonString()), actual.Select(l => l.ToJsonString()));

    [Theory]
    [InlineData("websocket")]
    [InlineData("polling")]
    [InlineData("default")]
    public async Task NodeClient_FollowsABuild_GetsEveryLineOnceInOrder_StatusAndEnd(string transports)
    {
        var id = await StartBuildAsync("sio-" + transports, 300);
        var messages = await SocketIoClients.RunAsync(server, user.Token, transports == "default" ? null : [transports],
            [new { deployment_id = id }]);

        var ack = messages.Data("ack").Single();
        Assert.True(ack["ok"]?.GetValue<bool>() == true, ack.ToJsonString());
        Assert.Equal(id, ack["deployment_id"]!.GetValue<string>());
        Assert.Equal("end", messages[^1]["why"]!.GetValue<string>());
        var end = messages.Data("end").Single();
        Assert.Equal(id, end["deployment_id"]!.GetValue<string>());
        Assert.Equal("ready", end["status"]!.GetValue<string>());
        // The ack carries the status at subscription (a loaded machine may subscribe late); every change after it arrives, in order.
        string[] lifecycle = ["queued", "building", "deploying", "ready"];
        var seen = messages.Data("status").Where(s => s["deployment_id"]!.GetValue<string>() == id).Select(s => s["status"]!.GetValue<string>())
            .Prepend(ack["status"]!.GetValue<string>()).ToList();
        Assert.Equal(seen.OrderBy(s => Array.IndexOf(lifecycle, s)), seen);
        if (Array.IndexOf(lifecycle, seen[0]) < Array.IndexOf(lifecycle, "deploying")) Assert.Contains("deploying", seen);

        AssertSameLines(await RestLinesAsync(id), messages.Data("log"));
        Assert.Equal(Enumerable.Range(1, 300).Select(i => $"line {i}"),
            messages.Data("log").Where(l => l["stream"]!.GetValue<string>() == "build").Select(l => l["message"]!.GetValue<string>()));

        var finalTransport = messages[^1]["transport"]!.GetValue<string>();
        Assert.Equal(transports == "polling" ? "polling" : "websocket", finalTransport);
        if (transports == "default") Assert.Contains(messages, m => m.Event() == "upgrade");
        else Assert.DoesNotContain(messages, m => m.Event() == "upgrade");
    }

    [Fact]
    public async Task NodeClient_ResumingAfterASeq_GetsEveryLaterLineExactlyOnce()
    {
        var id = await StartBuildAsync("sio-resume", 200);
        var first = await SocketIoClients.RunAsync(server, user.Token, ["websocket"], [new { deployment_id = id }], stopAfterLogs: 60);
        var seen = first.Data("log").ToList();
        Assert.Equal(60, seen.Count);
        var after = seen[^1]["seq"]!.GetValue<long>();

        var rest = await SocketIoClients.RunAsync(server, user.Token, ["polling"], [new { deployment_id = id, after }]);
        Assert.Equal("end", rest[^1]["why"]!.GetValue<string>());
        AssertSameLines(await RestLinesAsync(id, after), rest.Data("log"));
        Assert.Equal(after + 1, rest.Data("log").First()["seq"]!.GetValue<long>());
        AssertSameLines(await RestLinesAsync(id), seen.Concat(rest.Data("log")));
    }

    [Fact]
    public async Task NodeClient_ProjectSubscription_ReceivesTheLiveAppsRuntimeLines()
    {
        var repo = GitRepo.Create();
        repos.Add(repo);
        var files = SampleApps.Node("v1", buildScript: null);
        files["server.js"] = """
            const http = require('http');
            let n = 0;
            setInterval(() => console.log('tick ' + (++n)), 100);
            const server = http.createServer((req, res) => res.end('ok'));
            server.listen(process.env.PORT, process.env.HOST);
            process.on('SIGTERM', () => server.close(() => process.exit(0)));
            """;
        repo.Commit("ticker", files);
        var projectId = (await server.CreateProjectAsync(user.Token, "sio-ticker",
            new { repo_url = repo.BarePath, start_command = "node server.js" }))["id"]!.GetValue<string>();
        var deploymentId = (await server.DeployAsync(user.Token, projectId))["id"]!.GetValue<string>();
        await server.WaitForStatusAsync(user.Token, deploymentId, Timeout, "ready");

        var messages = await SocketIoClients.RunAsync(server, user.Token, null, [new { project_id = projectId }], stopAfterLogs: 5);

        var ack = messages.Data("ack").Single();
        Assert.True(ack["ok"]?.GetValue<bool>() == true, ack.ToJsonString());
        Assert.Equal(deploymentId, ack["deployment_id"]!.GetValue<string>());
        Assert.Equal("production", ack["environment"]!.GetValue<string>());
        var logs = messages.Data("log").ToList();
        Assert.Equal(5, logs.Count);
        Assert.All(logs, l => Assert.Equal("runtime", l["stream"]!.GetValue<string>()));
        Assert.All(logs, l => Assert.Equal(deploymentId, l["deployment_id"]!.GetValue<string>()));
        Assert.All(logs, l => Assert.StartsWith("tick ", l["message"]!.GetValue<string>(), StringComparison.Ordinal));
        var seqs = logs.Select(l => l["seq"]!.GetValue<long>()).ToList();
        Assert.Equal(seqs.Order(), seqs);
        Assert.Equal(seqs.Count, seqs.Distinct().Count());
    }

    [Fact]
    public async Task NodeClient_SubscribingToAnotherWorkspacesResources_IsAckedNotFound()
    {
        var id = await StartBuildAsync("sio-private", 5);
        var projectId = (await server.GetAsync($"/api/v1/deployments/{id}", user.Token)).Json["project_id"]!.GetValue<string>();
        var stranger = await server.RegisterUserAsync();

        var messages = await SocketIoClients.RunAsync(server, stranger.Token, ["websocket"],
            [new { deployment_id = id }, new { project_id = projectId }, new { deployment_id = "dep_doesnotexist" }, new { nonsense = true }],
            keepGoing: true);

        var acks = messages.Data("ack").ToList();
        Assert.Equal(4, acks.Count);
        foreach (var ack in acks.Take(3))
        {
            Assert.Null(ack["ok"]);
            Assert.Equal("not_found", ack["error"]!["code"]!.GetValue<string>());
            Assert.False(string.IsNullOrWhiteSpace(ack["error"]!["message"]!.GetValue<string>()));
        }
        Assert.Equal("validation_failed", acks[3]["error"]!["code"]!.GetValue<string>());
        Assert.DoesNotContain(messages, m => m.Event() == "log");
    }

    [Fact]
    public async Task NodeClient_AtTheSubscriptionLimit_IsRefused_AndUnsubscribeFreesTheSlot()
    {
        server.Service<Slipway.Server.SocketIo.SocketIoOptions>().MaxSubscriptions = 1;
        var repo = GitRepo.Create();
        repos.Add(repo);
        var files = SampleApps.Static("sio-slow");
        files["build.sh"] = "echo started; sleep 30\n";
        repo.Commit("slow", files);
        var projectId = (await server.CreateProjectAsync(user.Token, "sio-slow",
            new { repo_url = repo.BarePath, framework = "static", build_command = "sh build.sh" }))["id"]!.GetValue<string>();
        var id = (await server.DeployAsync(user.Token, projectId))["id"]!.GetValue<string>();

        var messages = await SocketIoClients.RunStepsAsync(server, user.Token, ["websocket"],
        [
            ("subscribe", new { deployment_id = id }),
            ("subscribe", new { deployment_id = id }),
            ("subscribe", new { project_id = projectId }),
            ("unsubscribe", new { deployment_id = id }),
            ("unsubscribe", new { deployment_id = id }),
            ("subscribe", new { deployment_id = id }),
            ("tail", new { deployment_id = id }),
        ], keepGoing: true, finishAfterSteps: true);

        var acks = messages.Data("ack").ToList();
        Assert.Equal(7, acks.Count);
        Assert.True(acks[0]["ok"]!.GetValue<bool>());
        Assert.Equal("conflict", acks[1]["error"]!["code"]!.GetValue<string>());
        Assert.Equal("limit_exceeded", acks[2]["error"]!["code"]!.GetValue<string>());
        Assert.True(acks[3]["ok"]!.GetValue<bool>());
        Assert.Equal("not_found", acks[4]["error"]!["code"]!.GetValue<string>());
        Assert.True(acks[5]["ok"]!.GetValue<bool>());
        Assert.Equal("unknown_event", acks[6]["error"]!["code"]!.GetValue<string>());
        (await server.PostAsync($"/api/v1/deployments/{id}/cancel", null, user.Token)).AssertStatus(200);
    }

    [Fact]
    public async Task NodeClient_ProjectSubscription_WithAndWithoutTheDefaultEnvironment_IsOneSubscription()
    {
        var repo = GitRepo.Create();
        repos.Add(repo);
        repo.Commit("env-default", SampleApps.Node("v1", buildScript: null));
        var projectId = (await server.CreateProjectAsync(user.Token, "sio-env-default",
            new { repo_url = repo.BarePath, start_command = "node server.js" }))["id"]!.GetValue<string>();
        var deploymentId = (await server.DeployAsync(user.Token, projectId))["id"]!.GetValue<string>();
        await server.WaitForStatusAsync(user.Token, deploymentId, Timeout, "ready");

        var messages = await SocketIoClients.RunStepsAsync(server, user.Token, ["websocket"],
        [
            ("subscribe", new { project_id = projectId }),
            ("subscribe", new { project_id = projectId, environment = "production" }),
            ("unsubscribe", new { project_id = projectId, environment = "production" }),
            ("unsubscribe", new { project_id = projectId }),
            ("subscribe", new { project_id = projectId, environment = "production" }),
            ("subscribe", new { project_id = projectId }),
        ], keepGoing: true, finishAfterSteps: true);

        var acks = messages.Data("ack").ToList();
        Assert.Equal(6, acks.Count);
        Assert.True(acks[0]["ok"]!.GetValue<bool>(), acks[0].ToJsonString());
        Assert.Equal("production", acks[0]["environment"]!.GetValue<string>());
        Assert.Equal("conflict", acks[1]["error"]!["code"]!.GetValue<string>());
        Assert.True(acks[2]["ok"]!.GetValue<bool>(), acks[2].ToJsonString());
        Assert.Equal("not_found", acks[3]["error"]!["code"]!.GetValue<string>());
        Assert.True(acks[4]["ok"]!.GetValue<bool>(), acks[4].ToJsonString());
        Assert.Equal("conflict", acks[5]["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task DotNetClient_SocketIOClientPackage_ConnectsSubscribesAndReceivesEvents()
    {
        var id = await StartBuildAsync("sio-dotnet", 100);
        var events = new System.Collections.Concurrent.ConcurrentQueue<(string Name, JsonElement Data)>();
        var ended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var client = new SocketIOClient.SocketIO(server.BaseAddress, new SocketIOOptions
        {
            Auth = new Dictionary<string, string> { ["token"] = user.Token },
            Transport = SocketIOClient.Transport.TransportProtocol.WebSocket,
            Reconnection = false,
        });
        foreach (var name in new[] { "log", "status", "end" })
        {
            client.On(name, response =>
            {
                events.Enqueue((name, response.GetValue<JsonElement>()));
                if (name == "end") ended.TrySetResult();
            });
        }
        var connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.OnConnected += (_, _) => connected.TrySetResult();
        client.OnError += (_, error) => connected.TrySetException(new InvalidOperationException(error));
        await client.ConnectAsync().WaitAsync(Timeout);
        await connected.Task.WaitAsync(Timeout);
        Assert.True(client.Connected);

        var acked = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        await client.EmitAsync("subscribe", response => acked.TrySetResult(response.GetValue<JsonElement>()),
            new Dictionary<string, object> { ["deployment_id"] = id }).WaitAsync(Timeout);
        var ack = await acked.Task.WaitAsync(Timeout);
        Assert.True(ack.GetProperty("ok").GetBoolean());
        await ended.Task.WaitAsync(Timeout);
        await client.DisconnectAsync();

        var logs = events.Where(e => e.Name == "log").Select(e => JsonNode.Parse(e.Data.GetRawText())!).ToList();
        AssertSameLines(await RestLinesAsync(id), logs);
        Assert.Contains(events, e => e.Name == "status");
        Assert.Equal("ready", events.Single(e => e.Name == "end").Data.GetProperty("status").GetString());
    }
}
