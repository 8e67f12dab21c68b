using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Logs;

/// <summary>Live build logs over NDJSON, Server-Sent Events and WebSocket: every line once, in order, then the end.</summary>
public sealed class FollowingLogsTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);
    private SlipwayServer server = null!;
    private TestUser user = null!;
    private readonly List<GitRepo> repos = [];

    public async Task InitializeAsync()
    {
        var settings = EngineSettings.Fast;
        // Small follower buffers, so a stalled follower really overflows and has to catch up from storage.
        settings["Slipway:Logs:SubscriberBuffer"] = "500";
        server = await SlipwayServer.StartAsync(settings);
        user = await server.RegisterUserAsync();
    }

    public async Task DisposeAsync()
    {
        await server.DisposeAsync();
        foreach (var repo in repos) repo.Dispose();
    }

    /// <summary>A static site whose build prints <paramref name="lines"/> numbered lines, a few at a time.</summary>
    private async Task<string> StartBuildAsync(string name, int lines, string tail = "true")
    {
        var repo = GitRepo.Create();
        repos.Add(repo);
        var files = SampleApps.Static(name);
        files["build.sh"] = $"i=1; while [ $i -le {lines} ]; do echo \"line $i\"; if [ $((i % 10)) -eq 0 ]; then sleep 0.05; fi; i=$((i+1)); done; {tail}\n";
        repo.Commit(name, files);
        var projectId = (await server.CreateProjectAsync(user.Token, name,
            new { repo_url = repo.BarePath, framework = "static", build_command = "sh build.sh" }))["id"]!.GetValue<string>();
        return (await server.DeployAsync(user.Token, projectId))["id"]!.GetValue<string>();
    }

    private HttpClient Client()
    {
        var client = new HttpClient { BaseAddress = server.BaseAddress, Timeout = Timeout };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", user.Token);
        return client;
    }

    private static void AssertBuildLinesInOrder(IReadOnlyList<JsonNode> messages, int lines)
    {
        var logs = messages.Where(m => m["type"]!.GetValue<string>() == "log").ToList();
        var seqs = logs.Select(m => m["seq"]!.GetValue<long>()).ToList();
        Assert.Equal(seqs.Count, seqs.Distinct().Count());
        Assert.Equal(seqs.Order(), seqs);
        Assert.Equal(Enumerable.Range((int)seqs[0], seqs.Count).Select(i => (long)i), seqs);
        var build = logs.Where(m => m["stream"]!.GetValue<string>() == "build").Select(m => m["message"]!.GetValue<string>()).ToList();
        Assert.Equal(Enumerable.Range(1, lines).Select(i => $"line {i}"), build);
    }

    [Fact]
    public async Task Ndjson_FollowsABuildToTheEnd_AndResumesAfterASeq()
    {
        var id = await StartBuildAsync("ndjson-site", 300);
        using var client = Client();
        using var response = await client.GetAsync($"/api/v1/logs/{id}?follow=true", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("application/x-ndjson", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("no", response.Headers.GetValues("X-Accel-Buffering").Single());
        var messages = new List<JsonNode>();
        using (var reader = new StreamReader(await response.Content.ReadAsStreamAsync()))
        {
            while (await reader.ReadLineAsync().WaitAsync(Timeout) is { } line) messages.Add(JsonNode.Parse(line)!);
        }
        Assert.Equal("end", messages[^1]["type"]!.GetValue<string>());
        Assert.Equal("ready", messages[^1]["status"]!.GetValue<string>());
        Assert.Contains(messages, m => m["type"]!.GetValue<string>() == "status" && m["status"]!.GetValue<string>() == "deploying");
        AssertBuildLinesInOrder(messages, 300);

        var middle = messages.Where(m => m["type"]!.GetValue<string>() == "log").ElementAt(100)["seq"]!.GetValue<long>();
        var rest = (await client.GetStringAsync($"/api/v1/logs/{id}?follow=true&after={middle}")).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(middle + 1, rest.First(m => m["type"]!.GetValue<string>() == "log")["seq"]!.GetValue<long>());
        Assert.Equal(messages.Count(m => m["type"]!.GetValue<string>() == "log" && m["seq"]!.GetValue<long>() > middle),
            rest.Count(m => m["type"]!.GetValue<string>() == "log"));
    }

    [Fact]
    public async Task LogItems_CarryAnIdAndCreatedAt_TheSameOnEveryReadAndTransport()
    {
        var id = await StartBuildAsync("ids-site", 30);
        using var client = Client();
        var followed = new Dictionary<long, JsonNode>();
        using (var response = await client.GetAsync($"/api/v1/logs/{id}?follow=true", HttpCompletionOption.ResponseHeadersRead))
        using (var reader = new StreamReader(await response.Content.ReadAsStreamAsync()))
        {
            while (await reader.ReadLineAsync().WaitAsync(Timeout) is { } line)
            {
                var message = JsonNode.Parse(line)!;
                if (message["type"]!.GetValue<string>() == "log") followed[message["seq"]!.GetValue<long>()] = message;
            }
        }

        var first = (await server.GetAsync($"/api/v1/logs/{id}?limit=1000", user.Token)).AssertStatus(200).Json["data"]!.AsArray();
        var second = (await server.GetAsync($"/api/v1/logs/{id}?limit=1000", user.Token)).AssertStatus(200).Json["data"]!.AsArray();

        Assert.True(first.Count >= 30);
        Assert.Equal(first.Select(l => l!["id"]!.GetValue<string>()), second.Select(l => l!["id"]!.GetValue<string>()));
        Assert.Equal(first.Count, first.Select(l => l!["id"]!.GetValue<string>()).Distinct().Count());
        foreach (var item in first)
        {
            var seq = item!["seq"]!.GetValue<long>();
            Assert.Equal($"{id}.{seq}", item["id"]!.GetValue<string>());
            Assert.Equal(item["timestamp"]!.GetValue<string>(), item["created_at"]!.GetValue<string>());
            Assert.Matches(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$", item["created_at"]!.GetValue<string>());
            Assert.Equal(item["id"]!.GetValue<string>(), followed[seq]["id"]!.GetValue<string>());
            Assert.Equal(item["created_at"]!.GetValue<string>(), followed[seq]["created_at"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task ServerSentEvents_ResumeFromLastEventId_AndEndWithEndEvent()
    {
        var id = await StartBuildAsync("sse-site", 120);
        await server.WaitForStatusAsync(user.Token, id, Timeout, "ready");
        using var client = Client();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/logs/{id}/events");
        request.Headers.Add("Last-Event-ID", "50");
        using var response = await client.SendAsync(request);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        var events = text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("id: 51\nevent: log\ndata: ", events[0]);
        Assert.StartsWith("event: end\ndata: ", events[^1]);
        Assert.Contains("\"status\":\"ready\"", events[^1]);
        Assert.DoesNotContain(events, e => e.StartsWith("id: 50\n", StringComparison.Ordinal));
    }

    [Fact]
    public async Task WebSocket_WithQueryToken_JoinsMidBuild_GetsBacklogAndLiveWithoutGap_ThenEnds()
    {
        var id = await StartBuildAsync("ws-site", 400);
        await server.WaitForStatusAsync(user.Token, id, Timeout, "building");
        await Task.Delay(300);
        using var socket = new ClientWebSocket();
        var uri = new Uri($"ws://{server.BaseAddress.Authority}/api/v1/logs/{id}/stream?token={Uri.EscapeDataString(user.Token)}");
        using var timeout = new CancellationTokenSource(Timeout);
        await socket.ConnectAsync(uri, timeout.Token);
        var messages = new List<JsonNode>();
        var buffer = new byte[64 * 1024];
        while (true)
        {
            using var message = new MemoryStream();
            WebSocketReceiveResult result;
            do
            {
                result = await socket.ReceiveAsync(buffer, timeout.Token);
                message.Write(buffer, 0, result.Count);
            }
            while (!result.EndOfMessage);
            if (result.MessageType == WebSocketMessageType.Close) break;
            messages.Add(JsonNode.Parse(Encoding.UTF8.GetString(message.ToArray()))!);
        }
        Assert.Equal(WebSocketCloseStatus.NormalClosure, socket.CloseStatus);
        Assert.Equal("end", messages[^1]["type"]!.GetValue<string>());
        Assert.Contains(messages, m => m["type"]!.GetValue<string>() == "status" && m["status"]!.GetValue<string>() == "deploying");
        AssertBuildLinesInOrder(messages, 400);
    }

    [Fact]
    public async Task FailedAndCanceledDeployments_EndWithTheirStatus()
    {
        var failed = await StartBuildAsync("fails-site", 10, "exit 3");
        var canceled = await StartBuildAsync("cancel-site", 10, "sleep 60");
        await server.WaitForStatusAsync(user.Token, canceled, Timeout, "building");
        using var client = Client();
        var follow = client.GetStringAsync($"/api/v1/logs/{canceled}?follow=true");
        await Task.Delay(500);
        (await server.PostAsync($"/api/v1/deployments/{canceled}/cancel", null, user.Token)).AssertStatus(200);
        Assert.Contains("\"type\":\"end\",\"status\":\"canceled\"", (await follow.WaitAsync(Timeout)).Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]);
        var failedEnd = (await client.GetStringAsync($"/api/v1/logs/{failed}?follow=true")).Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1];
        Assert.Contains("\"status\":\"failed\"", failedEnd);
    }

    [Fact]
    public async Task ManyConcurrentFollowers_EachGetEveryLineInOrder()
    {
        var id = await StartBuildAsync("crowd-site", 200);
        using var client = Client();
        var followers = Enumerable.Range(0, 100).Select(async _ =>
            (await client.GetStringAsync($"/api/v1/logs/{id}?follow=true")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList()).ToList();
        foreach (var messages in await Task.WhenAll(followers).WaitAsync(Timeout)) AssertBuildLinesInOrder(messages, 200);
    }

    [Fact]
    public async Task Retention_KeepsTheNewestLinesPerDeployment_AndDropsExpiredDeployments()
    {
        var id = await StartBuildAsync("retained-logs", 200);
        await server.WaitForStatusAsync(user.Token, id, Timeout, "ready");
        var options = server.Service<Slipway.Server.Logs.LogOptions>();
        var before = (await server.GetAsync($"/api/v1/logs/{id}?limit=1000", user.Token)).AssertStatus(200).Json["data"]!.AsArray();
        Assert.True(before.Count > 200);
        var lastSeq = before[^1]!["seq"]!.GetValue<long>();

        options.MaxLinesPerDeployment = 50;
        Assert.Equal(before.Count - 50, await server.Service<Slipway.Server.Logs.LogRetention>().RunOnceAsync(CancellationToken.None));
        var after = (await server.GetAsync($"/api/v1/logs/{id}?limit=1000", user.Token)).AssertStatus(200).Json["data"]!.AsArray();
        Assert.Equal(50, after.Count);
        Assert.Equal(lastSeq, after[^1]!["seq"]!.GetValue<long>());
        Assert.Equal(lastSeq - 49, after[0]!["seq"]!.GetValue<long>());

        // The deployment is live: age alone does not remove its lines; once another release is live, it does.
        options.RetainFor = TimeSpan.Zero;
        await server.Service<Slipway.Server.Logs.LogRetention>().RunOnceAsync(CancellationToken.None);
        Assert.Equal(50, (await server.GetAsync($"/api/v1/logs/{id}?limit=1000", user.Token)).Json["data"]!.AsArray().Count);
        var project = (await server.GetAsync($"/api/v1/deployments/{id}", user.Token)).Json["project_id"]!.GetValue<string>();
        await server.WaitForStatusAsync(user.Token, (await server.DeployAsync(user.Token, project))["id"]!.GetValue<string>(), Timeout, "ready");
        await server.Service<Slipway.Server.Logs.LogRetention>().RunOnceAsync(CancellationToken.None);
        Assert.Empty((await server.GetAsync($"/api/v1/logs/{id}?limit=1000", user.Token)).Json["data"]!.AsArray());
    }

    [Fact]
    public async Task StalledFollower_DoesNotSlowTheBuild_AndLaterGetsEveryLineOnce()
    {
        const int lines = 60_000;
        async Task<(string Id, TimeSpan Build)> BuildAsync(string name, Func<string, Task>? whileBuilding = null)
        {
            var repo = GitRepo.Create();
            repos.Add(repo);
            var files = SampleApps.Static(name);
            files["build.sh"] = $"seq 1 {lines} | sed 's/^/line /'\n";
            repo.Commit(name, files);
            var projectId = (await server.CreateProjectAsync(user.Token, name,
                new { repo_url = repo.BarePath, framework = "static", build_command = "sh build.sh" }))["id"]!.GetValue<string>();
            var id = (await server.DeployAsync(user.Token, projectId))["id"]!.GetValue<string>();
            if (whileBuilding is not null) await whileBuilding(id);
            var ready = await server.WaitForStatusAsync(user.Token, id, Timeout, "ready");
            return (id, TimeSpan.FromMilliseconds(ready["timings"]!["build_ms"]!.GetValue<long>()));
        }

        var baseline = await BuildAsync("unwatched-build");
        using var client = Client();
        HttpResponseMessage? stalled = null;
        var watched = await BuildAsync("stalled-build", async id =>
        {
            // Right after queuing (a follower may join at any state); headers only: the body is not read until the
            // build is over, so this follower's buffers fill up.
            stalled = await client.GetAsync($"/api/v1/logs/{id}?follow=true", HttpCompletionOption.ResponseHeadersRead);
        });

        // Loose on purpose (shared CI machines): a follower that blocked the producer would hold the build until the end.
        Assert.True(watched.Build < baseline.Build * 4 + TimeSpan.FromSeconds(3), $"build took {watched.Build} with a stalled follower, {baseline.Build} without");
        var messages = new List<JsonNode>();
        using (stalled!)
        using (var reader = new StreamReader(await stalled!.Content.ReadAsStreamAsync()))
        {
            while (await reader.ReadLineAsync().WaitAsync(Timeout) is { } line) messages.Add(JsonNode.Parse(line)!);
        }
        Assert.Equal("end", messages[^1]["type"]!.GetValue<string>());
        Assert.Contains(messages, m => m["type"]!.GetValue<string>() == "gap");
        AssertBuildLinesInOrder(messages, lines);
    }

    [Fact]
    public async Task ProjectLogs_PageThroughTheLiveAppsRuntimeLines_WithCursorAndLimit()
    {
        const int printed = 7;
        var repo = GitRepo.Create();
        repos.Add(repo);
        var files = SampleApps.Node("v1", buildScript: null);
        files["server.js"] = $$"""
            const http = require('http');
            for (let n = 1; n <= {{printed}}; n++) console.log('hello ' + n);
            const server = http.createServer((req, res) => res.end('ok'));
            server.listen(process.env.PORT, process.env.HOST);
            process.on('SIGTERM', () => server.close(() => process.exit(0)));
            """;
        repo.Commit("hello", files);
        var projectId = (await server.CreateProjectAsync(user.Token, "paged-runtime",
            new { repo_url = repo.BarePath, start_command = "node server.js" }))["id"]!.GetValue<string>();
        var deploymentId = (await server.DeployAsync(user.Token, projectId))["id"]!.GetValue<string>();
        await server.WaitForStatusAsync(user.Token, deploymentId, Timeout, "ready");

        // Every runtime line, in one page (the app prints them all at start; storing them may take a moment).
        List<JsonNode> all;
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            all = (await server.GetAsync($"/api/v1/projects/{projectId}/logs?limit=1000", user.Token)).AssertStatus(200).Json["data"]!
                .AsArray().Select(l => l!.DeepClone()).ToList();
            if (all.Count >= printed || DateTime.UtcNow > deadline) break;
            await Task.Delay(100);
        }
        Assert.Equal(Enumerable.Range(1, printed).Select(n => $"hello {n}"), all.Select(l => l["message"]!.GetValue<string>()));
        Assert.All(all, l => Assert.Equal("runtime", l["stream"]!.GetValue<string>()));
        Assert.All(all, l => Assert.Equal(deploymentId, l["deployment_id"]!.GetValue<string>()));
        var storedLines = (await server.GetAsync($"/api/v1/logs/{deploymentId}?limit=1000", user.Token)).AssertStatus(200).Json["data"]!.AsArray();
        Assert.Contains(storedLines, l => l!["stream"]!.GetValue<string>() != "runtime");

        // The shared paging rule: ?limit= per page, ?cursor= from the previous page's next_cursor, null on the last page.
        var paged = new List<JsonNode>();
        var pages = new List<int>();
        string? cursor = null;
        do
        {
            var page = (await server.GetAsync($"/api/v1/projects/{projectId}/logs?limit=3{(cursor is null ? "" : "&cursor=" + cursor)}", user.Token))
                .AssertStatus(200).Json;
            var data = page["data"]!.AsArray();
            pages.Add(data.Count);
            paged.AddRange(data.Select(l => l!.DeepClone()));
            cursor = page["next_cursor"]?.GetValue<string>();
            if (cursor is not null) Assert.Equal(data[^1]!["seq"]!.GetValue<long>().ToString(System.Globalization.CultureInfo.InvariantCulture), cursor);
        } while (cursor is not null && pages.Count < 10);
        Assert.Equal([3, 3, 1], pages);
        Assert.Equal(all.Select(l => l.ToJsonString()), paged.Select(l => l.ToJsonString()));

        // Bound and validated as GET /logs/{deployment_id} does.
        Assert.Equal(printed, (await server.GetAsync($"/api/v1/projects/{projectId}/logs", user.Token)).AssertStatus(200).Json["data"]!.AsArray().Count);
        (await server.GetAsync($"/api/v1/projects/{projectId}/logs?limit=0", user.Token)).AssertError(400, "validation_failed");
        (await server.GetAsync($"/api/v1/projects/{projectId}/logs?limit=1001", user.Token)).AssertError(400, "validation_failed");
        (await server.GetAsync($"/api/v1/projects/{projectId}/logs?cursor=abc", user.Token)).AssertError(400, "validation_failed");
    }

    [Fact]
    public async Task StreamsOfAnotherWorkspace_AreNotFound_AndNeedCredentials()
    {
        var id = await StartBuildAsync("private-site", 5);
        var stranger = await server.RegisterUserAsync();
        (await server.GetAsync($"/api/v1/logs/{id}?follow=true", stranger.Token)).AssertError(404, "not_found");
        (await server.GetAsync($"/api/v1/logs/{id}/events", stranger.Token)).AssertError(404, "not_found");
        (await server.GetAsync($"/api/v1/logs/{id}/events?token={Uri.EscapeDataString(stranger.Token)}")).AssertError(404, "not_found");
        (await server.GetAsync($"/api/v1/logs/{id}/events")).AssertError(401, "unauthenticated");
        // The WebSocket handshake is refused with the same statuses as the REST calls.
        async Task<HttpStatusCode> RefusedUpgradeAsync(string query)
        {
            using var socket = new ClientWebSocket();
            socket.Options.CollectHttpResponseDetails = true;
            await Assert.ThrowsAnyAsync<WebSocketException>(() =>
                socket.ConnectAsync(new Uri($"ws://{server.BaseAddress.Authority}/api/v1/logs/{id}/stream{query}"), CancellationToken.None));
            return socket.HttpStatusCode;
        }
        Assert.Equal(HttpStatusCode.NotFound, await RefusedUpgradeAsync($"?token={Uri.EscapeDataString(stranger.Token)}"));
        Assert.Equal(HttpStatusCode.Unauthorized, await RefusedUpgradeAsync(""));
        // ?token= is for streams only: a plain API call with it is still unauthenticated.
        (await server.GetAsync($"/api/v1/projects?token={Uri.EscapeDataString(user.Token)}")).AssertError(401, "unauthenticated");
        (await server.GetAsync($"/api/v1/logs/{id}?token={Uri.EscapeDataString(user.Token)}")).AssertError(401, "unauthenticated");
        (await server.GetAsync($"/api/v1/logs/{id}?follow=false&token={Uri.EscapeDataString(stranger.Token)}")).AssertError(401, "unauthenticated");
        (await server.GetAsync($"/api/v1/logs/{id}?follow=true&token={Uri.EscapeDataString(stranger.Token)}")).AssertError(404, "not_found");
    }

    /// <summary>
    /// The log storage thread runs at a lower CPU priority, and nothing else may inherit it: a thread-pool thread created
    /// from a lowered thread would be lowered too, and so would every build or app it starts, for good.
    /// </summary>
    [Fact]
    public async Task OnlyTheStorageThreadRunsLowered_ABuildAfterABusyLogRunsAtTheServersPriority()
    {
        if (!OperatingSystem.IsLinux()) return;
        static int NiceOf(string statPath)
        {
            var stat = File.ReadAllText(statPath);
            return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[16], System.Globalization.CultureInfo.InvariantCulture);
        }
        var serverNice = NiceOf("/proc/self/stat");

        var busy = await StartBuildAsync("busy-log-site", 1, "seq 1 50000");
        await server.WaitForStatusAsync(user.Token, busy, Timeout, "ready");
        var probe = await StartBuildAsync("nice-probe-site", 1, "awk '{ print \"nice=\" $19 }' /proc/self/stat; sleep 2");

        // While the probe build sleeps, its pipe readers are alive: they keep the normal priority (they wake followers
        // and the storage loop, i.e. queue thread-pool work, so their priority would spread).
        using var client = Client();
        var deadline = DateTime.UtcNow + Timeout;
        List<string> messages;
        do
        {
            var page = JsonNode.Parse(await client.GetStringAsync($"/api/v1/logs/{probe}?stream=build&limit=1000"))!;
            messages = page["data"]!.AsArray().Select(l => l!["message"]!.GetValue<string>()).ToList();
            if (messages.Any(m => m.StartsWith("nice=", StringComparison.Ordinal))) break;
            await Task.Delay(50);
        } while (DateTime.UtcNow < deadline);
        var readers = Directory.EnumerateDirectories("/proc/self/task")
            .Where(t => File.ReadAllText(Path.Combine(t, "comm")).Trim() is "slipway stdout" or "slipway stderr").ToList();
        Assert.NotEmpty(readers);
        Assert.All(readers, t => Assert.Equal(serverNice, NiceOf(Path.Combine(t, "stat"))));
        await server.WaitForStatusAsync(user.Token, probe, Timeout, "ready");
        Assert.Contains($"nice={serverNice}", messages);
        var storageThreads = Directory.EnumerateDirectories("/proc/self/task")
            .Where(t => File.ReadAllText(Path.Combine(t, "comm")).Trim() == "slipway log wri").ToList();
        Assert.NotEmpty(storageThreads);
        Assert.All(storageThreads, t => Assert.Equal(serverNice + Slipway.Server.Runtime.BackgroundPriority.Nice, NiceOf(Path.Combine(t, "stat"))));
    }
}
