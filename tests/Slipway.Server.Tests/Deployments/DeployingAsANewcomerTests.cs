using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Deployments;

/// <summary>The first mistakes and omissions of a new user get a deployment that works, or an error that says what to do.</summary>
public sealed class DeployingAsANewcomerTests : IAsyncLifetime
{
    private static readonly TimeSpan Deploy = TimeSpan.FromSeconds(90);
    private SlipwayServer server = null!;
    private TestUser user = null!;

    public async Task InitializeAsync()
    {
        var settings = EngineSettings.Fast;
        // Long, so that a failure that comes fast is seen not to have waited for it.
        settings["Slipway:Runtime:HealthCheckTimeout"] = "00:01:00";
        server = await SlipwayServer.StartAsync(settings);
        user = await server.RegisterUserAsync();
    }

    public async Task DisposeAsync() => await server.DisposeAsync();

    private async Task<string> ProjectAsync(string name, GitRepo repo, object? extra = null)
    {
        var body = new Dictionary<string, object?> { ["repo_url"] = repo.BarePath, ["start_command"] = "node server.js" };
        foreach (var (key, value) in System.Text.Json.JsonSerializer.SerializeToNode(extra ?? new { })!.AsObject()) body[key] = value?.DeepClone();
        return (await server.CreateProjectAsync(user.Token, name, body))["id"]!.GetValue<string>();
    }

    [Fact]
    public async Task ProjectWithoutBranch_DeploysTheRepositorysHead_AndShowsWhichBranchThatWas()
    {
        using var repo = GitRepo.Create("trunk");
        var sha = repo.Commit("on trunk", SampleApps.Node("trunk-app"), branch: "trunk");
        // The reference document's form: its `port` is accepted and means nothing (the app is told $PORT).
        var projectId = await ProjectAsync("head-trunk", repo, new { port = 3000 });
        var project = (await server.GetAsync($"/api/v1/projects/{projectId}", user.Token)).AssertStatus(200).Json;
        Assert.Null(project["branch"]);
        Assert.Null(project["port"]);
        Assert.Null(Assert.Single(project["environments"]!.AsArray())!["effective_branch"]);

        var queued = await server.DeployAsync(user.Token, projectId);
        Assert.Null(queued["branch"]);
        var ready = await server.WaitForStatusAsync(user.Token, queued["id"]!.GetValue<string>(), Deploy, "ready");

        Assert.Equal("trunk", ready["branch"]!.GetValue<string>());
        Assert.Equal(sha, ready["commit_sha"]!.GetValue<string>());
        Assert.Equal("trunk-app", await server.RouterGetStringAsync("head-trunk.localhost", "/"));

        // A requested commit without a branch: the branch is asked of the remote.
        var pinned = (await server.PostAsync("/api/v1/deployments", new { project_id = projectId, commit_sha = sha }, user.Token)).AssertStatus(201).Json;
        Assert.Equal("trunk", (await server.WaitForStatusAsync(user.Token, pinned["id"]!.GetValue<string>(), Deploy, "ready"))["branch"]!.GetValue<string>());
    }

    [Fact]
    public async Task RepositoryWhoseHeadHasNoCommits_FailsSayingSo()
    {
        using var repo = GitRepo.Create("main");
        repo.Commit("only on master", SampleApps.Node("master-app"), branch: "master");
        var projectId = await ProjectAsync("head-missing", repo);

        var failed = await server.WaitForStatusAsync(user.Token, (await server.DeployAsync(user.Token, projectId))["id"]!.GetValue<string>(), Deploy, "failed");

        Assert.StartsWith($"The default branch (HEAD) of {repo.BarePath} has no commits: push it, or set the project's branch.",
            failed["error"]!.GetValue<string>(), StringComparison.Ordinal);
        (await server.PatchAsync($"/api/v1/projects/{projectId}", new { branch = "master" }, user.Token)).AssertStatus(200);
        var ready = await server.WaitForStatusAsync(user.Token, (await server.DeployAsync(user.Token, projectId))["id"]!.GetValue<string>(), Deploy, "ready");
        Assert.Equal("master", ready["branch"]!.GetValue<string>());
    }

    [Fact]
    public async Task FailingBuild_KeepsItsCommitFrameworkAndTimings_AndARequestedCommitIsEchoedAtOnce()
    {
        using var repo = GitRepo.Create();
        var files = SampleApps.Node("broken");
        files["build.sh"] = "echo 'syntax error' >&2; exit 2\n";
        var sha = repo.Commit("broken build", files);
        var projectId = await ProjectAsync("known-early", repo, new { build_command = "sh build.sh" });

        var created = (await server.PostAsync("/api/v1/deployments", new { project_id = projectId, commit_sha = sha[..7] }, user.Token)).AssertStatus(201).Json;
        Assert.Equal(sha[..7], created["commit_sha"]!.GetValue<string>());
        Assert.Equal(sha[..7], (await server.GetAsync($"/api/v1/deployments/{created["id"]}", user.Token)).AssertStatus(200).Json["commit_sha"]!.GetValue<string>());
        var failed = await server.WaitForStatusAsync(user.Token, created["id"]!.GetValue<string>(), Deploy, "failed");

        Assert.Contains("exited with code 2", failed["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(sha, failed["commit_sha"]!.GetValue<string>());
        Assert.Equal("broken build", failed["commit_message"]!.GetValue<string>());
        Assert.Equal("node", failed["framework"]!.GetValue<string>());
        Assert.True(failed["timings"]!["clone_ms"]!.GetValue<long>() >= 0);
        Assert.True(failed["timings"]!["build_ms"]!.GetValue<long>() >= 0);
    }

    [Fact]
    public async Task RunningBuild_ShowsItsCommitFrameworkAndCloneTime_AndKeepsThemWhenCanceled()
    {
        using var repo = GitRepo.Create();
        var files = SampleApps.Node("slow");
        files["build.sh"] = "echo started; sleep 600\n";
        var sha = repo.Commit("slow build", files);
        var projectId = await ProjectAsync("known-while-running", repo, new { build_command = "sh build.sh" });
        var id = (await server.DeployAsync(user.Token, projectId))["id"]!.GetValue<string>();

        System.Text.Json.Nodes.JsonNode running = null!;
        await DeployingAppsTests.WaitUntilAsync(async () =>
        {
            running = (await server.GetAsync($"/api/v1/deployments/{id}", user.Token)).AssertStatus(200).Json;
            return running["framework"] is not null;
        }, TimeSpan.FromSeconds(60));
        Assert.Equal("building", running["status"]!.GetValue<string>());
        Assert.Equal(sha, running["commit_sha"]!.GetValue<string>());
        Assert.Equal("main", running["branch"]!.GetValue<string>());
        Assert.NotNull(running["timings"]!["clone_ms"]);

        (await server.PostAsync($"/api/v1/deployments/{id}/cancel", null, user.Token)).AssertStatus(200);
        var canceled = await server.WaitForStatusAsync(user.Token, id, Deploy, "canceled");
        Assert.Equal(sha, canceled["commit_sha"]!.GetValue<string>());
        Assert.Equal("node", canceled["framework"]!.GetValue<string>());
        await DeployingAppsTests.WaitUntilAsync(async () =>
            (await server.GetAsync($"/api/v1/deployments/{id}", user.Token)).Json["timings"]!["build_ms"] is not null, TimeSpan.FromSeconds(10));
        Assert.NotNull((await server.GetAsync($"/api/v1/deployments/{id}", user.Token)).Json["timings"]!["clone_ms"]);
    }

    [Fact]
    public async Task AppListeningOnAnotherPort_FailsSayingWhichPortAndHow_WithoutWaitingForTheHealthTimeout()
    {
        using var repo = GitRepo.Create();
        var side = FreePort();
        var files = SampleApps.Node("wrong-port");
        files["server.js"] = $$"""
            console.log('my PORT is ' + process.env.PORT);
            require('http').createServer((q, s) => s.end('wrong')).listen({{side}});
            """;
        repo.Commit("hard-coded port", files);
        var projectId = await ProjectAsync("wrong-port", repo);
        var watch = System.Diagnostics.Stopwatch.StartNew();

        var failed = await server.WaitForStatusAsync(user.Token, (await server.DeployAsync(user.Token, projectId))["id"]!.GetValue<string>(), Deploy, "failed");

        var error = failed["error"]!.GetValue<string>();
        var headline = System.Text.RegularExpressions.Regex.Match(error, $@"^The app listens on {side}, not on \$PORT \((\d+)\): bind to process\.env\.PORT\n");
        Assert.True(headline.Success, error);
        Assert.Contains($"my PORT is {headline.Groups[1].Value}", error, StringComparison.Ordinal);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"took {watch.Elapsed}: the health check's timeout was waited out");
        Assert.Equal("node", failed["framework"]!.GetValue<string>());
        Assert.NotNull(failed["timings"]!["release_ms"]);

        // A side port next to PORT is fine, even when it is opened first.
        files["server.js"] = $$"""
            require('http').createServer((q, s) => s.end('side')).listen({{side}});
            setTimeout(() => require('http').createServer((q, s) => s.end('fixed')).listen(process.env.PORT, process.env.HOST), 300);
            """;
        repo.Commit("binds PORT", files);
        await server.WaitForStatusAsync(user.Token, (await server.DeployAsync(user.Token, projectId))["id"]!.GetValue<string>(), Deploy, "ready");
        Assert.Equal("fixed", await server.RouterGetStringAsync("wrong-port.localhost", "/"));
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
