using System.Diagnostics;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Deployments;

/// <summary>Real repositories, real builds, real processes, real traffic through the router.</summary>
public sealed class DeployingAppsTests : IAsyncLifetime
{
    private static readonly TimeSpan Deploy = TimeSpan.FromSeconds(90);
    private SlipwayServer server = null!;
    private TestUser user = null!;
    private GitRepo repo = null!;

    public async Task InitializeAsync()
    {
        server = await SlipwayServer.StartAsync(EngineSettings.Fast);
        user = await server.RegisterUserAsync();
        repo = GitRepo.Create();
    }

    public async Task DisposeAsync()
    {
        await server.DisposeAsync();
        repo.Dispose();
    }

    private async Task<string> NodeProjectAsync(string name, object? extra = null)
    {
        var body = new Dictionary<string, object?>
        {
            ["repo_url"] = repo.BarePath, ["build_command"] = $"sh build.sh && echo {BuildRan}",
            ["start_command"] = "node server.js",
        };
        foreach (var (key, value) in System.Text.Json.JsonSerializer.SerializeToNode(extra ?? new { })!.AsObject()) body[key] = value?.DeepClone();
        return (await server.CreateProjectAsync(user.Token, name, body))["id"]!.GetValue<string>();
    }

    private static Dictionary<string, string> NodeApp(string version, string build = "echo built > build.txt")
    {
        var files = SampleApps.Node(version, buildScript: null);
        files["build.sh"] = build + "\n";
        return files;
    }

    [Fact]
    public async Task NodeApp_DeploysAndServesThroughRouter_WithEnvVarsMaskedInLogs()
    {
        var sha = repo.Commit("first version", NodeApp("v1", "echo building with $GREETING && echo built > build.txt"));
        var projectId = await NodeProjectAsync("node-one");
        (await server.PostAsync("/api/v1/env", new { project_id = projectId, key = "GREETING", value = "hello-s3cret-value" }, user.Token)).AssertStatus(201);

        var deployment = await server.DeployAsync(user.Token, projectId);
        Assert.Equal("queued", deployment["status"]!.GetValue<string>());
        var ready = await server.WaitForStatusAsync(user.Token, deployment["id"]!.GetValue<string>(), Deploy, "ready");

        Assert.True(ready["is_live"]!.GetValue<bool>());
        Assert.Equal(sha, ready["commit_sha"]!.GetValue<string>());
        Assert.Equal("first version", ready["commit_message"]!.GetValue<string>());
        Assert.Equal("manual", ready["trigger"]!.GetValue<string>());
        Assert.Equal(64, ready["artifact"]!["sha256"]!.GetValue<string>().Length);
        Assert.True(ready["timings"]!["total_ms"]!.GetValue<long>() > 0);
        Assert.Equal("v1", await server.RouterGetStringAsync("node-one.localhost", "/"));
        Assert.Equal("built\n", await server.RouterGetStringAsync("node-one.localhost", "/build"));
        Assert.Contains("hello-s3cret-value", await server.RouterGetStringAsync("node-one.localhost", "/env"));

        var logs = (await server.GetAsync($"/api/v1/logs/{ready["id"]}?limit=1000", user.Token)).AssertStatus(200);
        Assert.Contains("building with ****", logs.Body);
        Assert.DoesNotContain("hello-s3cret-value", logs.Body);
        Assert.DoesNotContain(server.Logs.Lines, l => l.Contains("hello-s3cret-value", StringComparison.Ordinal));

        var project = (await server.GetAsync($"/api/v1/projects/{projectId}", user.Token)).AssertStatus(200).Json;
        Assert.Equal(ready["id"]!.GetValue<string>(), project["live_deployment_id"]!.GetValue<string>());
        Assert.Equal("running", project["live_status"]!.GetValue<string>());
        var build = (await server.GetAsync($"/api/v1/builds/{ready["build_id"]}", user.Token)).AssertStatus(200).Json;
        Assert.Equal("succeeded", build["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task AppThatExitsBeforeItIsHealthy_FailsWithThatAsTheHeadline_WithoutWaitingForTheHealthTimeout()
    {
        repo.Commit("crashes", NodeApp("crashes"));
        var projectId = await NodeProjectAsync("node-exits", new { start_command = "echo missing config >&2; exit 1" });
        var watch = System.Diagnostics.Stopwatch.StartNew();

        var failed = await server.WaitForStatusAsync(user.Token, (await server.DeployAsync(user.Token, projectId))["id"]!.GetValue<string>(), Deploy, "failed");

        Assert.StartsWith("The start command exited with code 1 before answering on /.", failed["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("missing config", failed["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"took {watch.Elapsed}: the health check's timeout was waited out");
    }

    [Fact]
    public async Task FailingBuild_EndsFailed_AndOldReleaseKeepsServing()
    {
        repo.Commit("good", NodeApp("good"));
        var projectId = await NodeProjectAsync("node-fails");
        await server.WaitForStatusAsync(user.Token, (await server.DeployAsync(user.Token, projectId))["id"]!.GetValue<string>(), Deploy, "ready");

        repo.Commit("bad", NodeApp("bad", "echo compiling; echo 'syntax error on line 3' >&2; exit 7"));
        var failed = await server.WaitForStatusAsync(user.Token, (await server.DeployAsync(user.Token, projectId))["id"]!.GetValue<string>(), Deploy, "failed");

        Assert.Contains("exited with code 7", failed["error"]!.GetValue<string>());
        Assert.NotNull(failed["timings"]!["clone_ms"]);
        Assert.NotNull(failed["timings"]!["build_ms"]);
        Assert.Contains("syntax error on line 3", failed["error"]!.GetValue<string>());
        Assert.False(failed["is_live"]!.GetValue<bool>());
        Assert.Equal("good", await server.RouterGetStringAsync("node-fails.localhost", "/"));
        var build = (await server.GetAsync($"/api/v1/builds/{failed["build_id"]}", user.Token)).AssertStatus(200).Json;
        Assert.Equal("failed", build["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task FailingHealthCheck_LeavesOldReleaseServing()
    {
        repo.Commit("healthy", NodeApp("healthy"));
        var projectId = await NodeProjectAsync("node-unhealthy", new { health_check_path = "/" });
        await server.WaitForStatusAsync(user.Token, (await server.DeployAsync(user.Token, projectId))["id"]!.GetValue<string>(), Deploy, "ready");

        var broken = NodeApp("broken");
        broken["server.js"] = "require('http').createServer((q, s) => { s.statusCode = 500; s.end('down'); }).listen(process.env.PORT, process.env.HOST);";
        repo.Commit("broken", broken);
        var failed = await server.WaitForStatusAsync(user.Token, (await server.DeployAsync(user.Token, projectId))["id"]!.GetValue<string>(), Deploy, "failed");

        Assert.Contains("health check", failed["error"]!.GetValue<string>());
        // It built, but never went live: its artifact is freed (nothing can roll back to it).
        Assert.Null(failed["artifact"]);
        var live = (await server.GetAsync($"/api/v1/projects/{projectId}", user.Token)).Json["live_deployment_id"]!.GetValue<string>();
        var liveSha = (await server.GetAsync($"/api/v1/deployments/{live}", user.Token)).Json["artifact"]!["sha256"]!.GetValue<string>();
        // Freed just after the failure is committed (files follow the database), so it may take a moment.
        string[] Unexpected() => Directory.GetFiles(Path.Combine(server.DataDirectory, "artifacts"), "*.tar.gz")
            .Where(f => !Path.GetFileName(f).StartsWith(liveSha, StringComparison.Ordinal)).ToArray();
        await WaitUntilAsync(() => Unexpected().Length == 0, TimeSpan.FromSeconds(5));
        Assert.Empty(Unexpected());
        Assert.Equal("healthy", await server.RouterGetStringAsync("node-unhealthy.localhost", "/"));
    }

    [Fact]
    public async Task StaticSite_IsServedByTheRouter()
    {
        repo.Commit("site", SampleApps.Static("Hello static"));
        var projectId = (await server.CreateProjectAsync(user.Token, "static-one", new { repo_url = repo.BarePath, framework = "static" }))["id"]!.GetValue<string>();
        var ready = await server.WaitForStatusAsync(user.Token, (await server.DeployAsync(user.Token, projectId))["id"]!.GetValue<string>(), Deploy, "ready");
        Assert.Equal("static", ready["framework"]!.GetValue<string>());

        var page = await server.RouterGetAsync("static-one.localhost", "/");
        Assert.Equal(200, (int)page.StatusCode);
        Assert.Contains("Hello static", await page.Content.ReadAsStringAsync());
        Assert.StartsWith("text/html", page.Content.Headers.ContentType!.ToString());
        var missing = await server.RouterGetAsync("static-one.localhost", "/nope");
        Assert.Equal(404, (int)missing.StatusCode);
        Assert.Contains("custom not found", await missing.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task CancelMidBuild_EndsCanceled_AndKillsTheBuildTree()
    {
        var marker = $"{Random.Shared.Next(1000, 9999)}.{Random.Shared.Next(100, 999)}";
        repo.Commit("slow", NodeApp("slow", $"sleep {marker} & sleep {marker}; wait"));
        var projectId = await NodeProjectAsync("node-cancel");
        var id = (await server.DeployAsync(user.Token, projectId))["id"]!.GetValue<string>();
        await server.WaitForStatusAsync(user.Token, id, Deploy, "building");
        await WaitUntilAsync(() => SleepersAlive(marker) > 0, TimeSpan.FromSeconds(30));

        var canceled = (await server.PostAsync($"/api/v1/deployments/{id}/cancel", null, user.Token)).AssertStatus(200).Json;
        Assert.Equal("canceled", canceled["status"]!.GetValue<string>());
        await WaitUntilAsync(() => SleepersAlive(marker) == 0, TimeSpan.FromSeconds(5));
        (await server.PostAsync($"/api/v1/deployments/{id}/cancel", null, user.Token)).AssertError(409, "invalid_state");
        var build = (await server.GetAsync($"/api/v1/builds/{canceled["build_id"]}", user.Token)).AssertStatus(200).Json;
        Assert.Equal("canceled", build["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task RollbackReusesTheRelease_WithoutBuilding_AndRedeployRebuildsTheSameCommit()
    {
        var first = repo.Commit("one", NodeApp("one"));
        var projectId = await NodeProjectAsync("node-rollback");
        var v1 = await server.WaitForStatusAsync(user.Token, (await server.DeployAsync(user.Token, projectId))["id"]!.GetValue<string>(), Deploy, "ready");
        repo.Commit("two", NodeApp("two"));
        var v2 = await server.WaitForStatusAsync(user.Token, (await server.DeployAsync(user.Token, projectId))["id"]!.GetValue<string>(), Deploy, "ready");
        Assert.Equal("two", await server.RouterGetStringAsync("node-rollback.localhost", "/"));
        Assert.Equal(2, await BuildsRunAsync(projectId));

        var rollback = (await server.PostAsync($"/api/v1/deployments/{v1["id"]}/rollback", null, user.Token)).AssertStatus(201).Json;
        Assert.Equal("rollback", rollback["trigger"]!.GetValue<string>());
        Assert.Equal(v1["id"]!.GetValue<string>(), rollback["source_deployment_id"]!.GetValue<string>());
        var rolled = await server.WaitForStatusAsync(user.Token, rollback["id"]!.GetValue<string>(), Deploy, "ready");
        Assert.Equal("one", await server.RouterGetStringAsync("node-rollback.localhost", "/"));
        Assert.Equal(first, rolled["commit_sha"]!.GetValue<string>());
        Assert.Equal(2, await BuildsRunAsync(projectId));

        var back = (await server.PostAsync($"/api/v1/projects/{projectId}/rollback", new { }, user.Token)).AssertStatus(201).Json;
        await server.WaitForStatusAsync(user.Token, back["id"]!.GetValue<string>(), Deploy, "ready");
        Assert.Equal("two", await server.RouterGetStringAsync("node-rollback.localhost", "/"));
        Assert.Equal(2, await BuildsRunAsync(projectId));

        var redeploy = (await server.PostAsync($"/api/v1/deployments/{v1["id"]}/redeploy", null, user.Token)).AssertStatus(201).Json;
        Assert.Equal("redeploy", redeploy["trigger"]!.GetValue<string>());
        var rebuilt = await server.WaitForStatusAsync(user.Token, redeploy["id"]!.GetValue<string>(), Deploy, "ready");
        Assert.Equal(first, rebuilt["commit_sha"]!.GetValue<string>());
        Assert.Equal("one", await server.RouterGetStringAsync("node-rollback.localhost", "/"));
        Assert.Equal(3, await BuildsRunAsync(projectId));

        (await server.PostAsync($"/api/v1/deployments/{v2["id"]}/cancel", null, user.Token)).AssertError(409, "invalid_state");
    }

    [Fact]
    public async Task RuntimeCrash_IsRestarted()
    {
        repo.Commit("crashy", NodeApp("alive"));
        var projectId = await NodeProjectAsync("node-crash");
        await server.WaitForStatusAsync(user.Token, (await server.DeployAsync(user.Token, projectId))["id"]!.GetValue<string>(), Deploy, "ready");
        Assert.Equal("bye", await server.RouterGetStringAsync("node-crash.localhost", "/crash"));
        string? answer = null;
        await WaitUntilAsync(async () =>
        {
            var response = await server.RouterGetAsync("node-crash.localhost", "/");
            answer = response.IsSuccessStatusCode ? await response.Content.ReadAsStringAsync() : null;
            return answer == "alive";
        }, TimeSpan.FromSeconds(20));
        Assert.Equal("alive", answer);
    }

    [Fact]
    public async Task Redeploy_UnderConstantTraffic_FailsNoRequest()
    {
        repo.Commit("steady", NodeApp("steady"));
        var projectId = await NodeProjectAsync("node-steady");
        var first = await server.WaitForStatusAsync(user.Token, (await server.DeployAsync(user.Token, projectId))["id"]!.GetValue<string>(), Deploy, "ready");

        using var stop = new CancellationTokenSource();
        var failures = new List<string>();
        var sent = 0;
        var traffic = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var response = await server.RouterGetAsync("node-steady.localhost", "/");
                    if (!response.IsSuccessStatusCode) lock (failures) failures.Add($"{(int)response.StatusCode}");
                }
                catch (HttpRequestException ex)
                {
                    lock (failures) failures.Add(ex.Message);
                }
                Interlocked.Increment(ref sent);
            }
        });
        var redeploy = (await server.PostAsync($"/api/v1/deployments/{first["id"]}/redeploy", null, user.Token)).AssertStatus(201).Json;
        await server.WaitForStatusAsync(user.Token, redeploy["id"]!.GetValue<string>(), Deploy, "ready");
        await Task.Delay(TimeSpan.FromSeconds(3));
        await stop.CancelAsync();
        await traffic.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(sent > 50, $"only {sent} requests were sent");
        Assert.Empty(failures);
    }

    [Fact]
    public async Task DeletingTheProject_StopsItsProcess_RemovesItsRoute_AndFreesItsFiles()
    {
        repo.Commit("doomed", NodeApp("doomed"));
        var projectId = await NodeProjectAsync("node-doomed");
        var ready = await server.WaitForStatusAsync(user.Token, (await server.DeployAsync(user.Token, projectId))["id"]!.GetValue<string>(), Deploy, "ready");
        var release = Path.Combine(server.DataDirectory, "releases", ready["id"]!.GetValue<string>());
        var artifact = Path.Combine(server.DataDirectory, "artifacts", ready["artifact"]!["sha256"]!.GetValue<string>() + ".tar.gz");
        Assert.True(Directory.Exists(release));
        Assert.True(File.Exists(artifact));
        var pid = server.Service<Slipway.Server.Runtime.Supervisor>().Find(ready["id"]!.GetValue<string>())!.ProcessId;

        (await server.DeleteAsync($"/api/v1/projects/{projectId}", user.Token)).AssertStatus(204);

        Assert.Equal(404, (int)(await server.RouterGetAsync("node-doomed.localhost", "/")).StatusCode);
        await WaitUntilAsync(() => !Runtime.RuntimeTesting.IsAlive(pid), TimeSpan.FromSeconds(10));
        Assert.False(Directory.Exists(release));
        Assert.False(File.Exists(artifact));
        (await server.GetAsync($"/api/v1/deployments/{ready["id"]}", user.Token)).AssertError(404, "not_found");
    }

    [Fact]
    public async Task CustomDomainAndStagingEnvironment_AreRoutedToTheirOwnReleases()
    {
        repo.Commit("prod", NodeApp("production-build"));
        var projectId = await NodeProjectAsync("node-hosts");
        await server.WaitForStatusAsync(user.Token, (await server.DeployAsync(user.Token, projectId))["id"]!.GetValue<string>(), Deploy, "ready");
        (await server.PostAsync("/api/v1/domains", new { project_id = projectId, domain = "www.hosts-example.test" }, user.Token)).AssertStatus(201);
        Assert.Equal("production-build", await server.RouterGetStringAsync("www.hosts-example.test", "/"));

        repo.Commit("staging", NodeApp("staging-build"), branch: "develop");
        (await server.PostAsync($"/api/v1/projects/{projectId}/environments", new { name = "staging", branch = "develop" }, user.Token)).AssertStatus(201);
        Assert.Equal(503, (int)(await server.RouterGetAsync("node-hosts-staging.localhost", "/")).StatusCode);
        var staging = await server.WaitForStatusAsync(user.Token, (await server.DeployAsync(user.Token, projectId, "staging"))["id"]!.GetValue<string>(), Deploy, "ready");
        Assert.Equal("http://node-hosts-staging.localhost:8000", staging["url"]!.GetValue<string>());
        Assert.Equal("staging-build", await server.RouterGetStringAsync("node-hosts-staging.localhost", "/"));
        Assert.Equal("production-build", await server.RouterGetStringAsync("node-hosts.localhost", "/"));
        Assert.Equal(404, (int)(await server.RouterGetAsync("unknown-host.localhost", "/")).StatusCode);

        var stagingPid = server.Service<Slipway.Server.Runtime.Supervisor>().Find(staging["id"]!.GetValue<string>())!.ProcessId;
        (await server.DeleteAsync($"/api/v1/projects/{projectId}/environments/{staging["environment_id"]}", user.Token)).AssertStatus(204);
        Assert.Equal(404, (int)(await server.RouterGetAsync("node-hosts-staging.localhost", "/")).StatusCode);
        await WaitUntilAsync(() => !Runtime.RuntimeTesting.IsAlive(stagingPid), TimeSpan.FromSeconds(10));
        Assert.False(Directory.Exists(Path.Combine(server.DataDirectory, "releases", staging["id"]!.GetValue<string>())));
        Assert.Equal("production-build", await server.RouterGetStringAsync("node-hosts.localhost", "/"));
    }

    [Fact]
    public async Task Artifact_DownloadsWithETagAndRanges()
    {
        repo.Commit("artifact", NodeApp("artifact"));
        var projectId = await NodeProjectAsync("node-artifact");
        var ready = await server.WaitForStatusAsync(user.Token, (await server.DeployAsync(user.Token, projectId))["id"]!.GetValue<string>(), Deploy, "ready");
        var sha = ready["artifact"]!["sha256"]!.GetValue<string>();
        var size = ready["artifact"]!["size"]!.GetValue<long>();

        using var client = new HttpClient { BaseAddress = server.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", user.Token);
        using var full = await client.GetAsync($"/api/v1/builds/{ready["build_id"]}/artifact");
        Assert.Equal(200, (int)full.StatusCode);
        Assert.Equal($"\"{sha}\"", full.Headers.ETag!.Tag);
        Assert.Equal(size, full.Content.Headers.ContentLength);
        var bytes = await full.Content.ReadAsByteArrayAsync();
        Assert.Equal(sha, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)));

        using var range = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/builds/{ready["build_id"]}/artifact");
        range.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(10, 19);
        using var partial = await client.SendAsync(range);
        Assert.Equal(206, (int)partial.StatusCode);
        Assert.Equal(bytes[10..20], await partial.Content.ReadAsByteArrayAsync());
    }

    private const string BuildRan = "build-ran-marker";

    /// <summary>
    /// Builds run for the project, counted from the build output of its deployments (a sandboxed build cannot leave a
    /// mark anywhere else on the host).
    /// </summary>
    private async Task<int> BuildsRunAsync(string projectId)
    {
        var count = 0;
        var deployments = (await server.GetAsync($"/api/v1/deployments?project_id={projectId}&limit=100", user.Token)).AssertStatus(200).Json;
        foreach (var deployment in deployments["data"]!.AsArray())
        {
            var logs = (await server.GetAsync($"/api/v1/logs/{deployment!["id"]}?limit=1000", user.Token)).AssertStatus(200).Json;
            count += logs["data"]!.AsArray().Count(l => l!["stream"]!.GetValue<string>() == "build" && l["message"]!.GetValue<string>() == BuildRan);
        }
        return count;
    }

    private static int SleepersAlive(string marker)
    {
        var count = 0;
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                if (cmdline.StartsWith("sleep " + marker, StringComparison.Ordinal)) count++;
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        return count;
    }

    internal static Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout) => WaitUntilAsync(() => Task.FromResult(condition()), timeout);

    internal static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (!await condition())
        {
            if (watch.Elapsed > timeout) throw new TimeoutException($"condition not met within {timeout}");
            await Task.Delay(100);
        }
    }
}
