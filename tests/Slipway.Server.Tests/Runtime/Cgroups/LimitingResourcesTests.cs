using System.Globalization;
using System.Text.Json.Nodes;
using Slipway.Server.Tests.Deployments;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Runtime.Cgroups;

/// <summary>Real cgroups, real processes: what a project's <c>resources</c> do to its builds and releases.</summary>
public sealed class LimitingResourcesTests
{
    private const string HogServer = """
        const http = require('http');
        const hog = [];
        // Not the pid: in the sandbox's PID namespace every start gets the same one.
        const start = Date.now() + '-' + Math.random();
        http.createServer((req, res) => {
          if (req.url === '/hog') { res.end('hogging'); setInterval(() => hog.push(Buffer.alloc(16 << 20, 1)), 10); return; }
          res.end('hog ' + start);
        }).listen(process.env.PORT, process.env.HOST);
        process.on('SIGTERM', () => process.exit(0));
        """;

    [Fact]
    public async Task AppThatExceedsItsMemory_IsKilledInItsCgroup_ReportedAndRestarted_WhileItsNeighbourServes()
    {
        using var repo = GitRepo.Create();
        var files = SampleApps.Node("calm", buildScript: null);
        files["hog.js"] = HogServer;
        repo.Commit("two servers", files);
        await using var server = await SlipwayServer.StartAsync(EngineSettings.Fast);
        var user = await server.RegisterUserAsync();
        var calm = (await server.CreateProjectAsync(user.Token, "calm", new { repo_url = repo.BarePath, start_command = "node server.js" }))["id"]!.GetValue<string>();
        await server.WaitForStatusAsync(user.Token, (await server.DeployAsync(user.Token, calm))["id"]!.GetValue<string>(), TimeSpan.FromSeconds(90), "ready");
        var hog = await server.CreateProjectAsync(user.Token, "hog",
            new { repo_url = repo.BarePath, start_command = "node hog.js", resources = new { memory_mb = 96 } });
        Assert.Equal(96, hog["resources"]!["memory_mb"]!.GetValue<int>());
        var hogId = hog["id"]!.GetValue<string>();
        var deployment = (await server.DeployAsync(user.Token, hogId))["id"]!.GetValue<string>();
        await server.WaitForStatusAsync(user.Token, deployment, TimeSpan.FromSeconds(90), "ready");
        var firstPid = await server.RouterGetStringAsync("hog.localhost", "/");
        Assert.Null((await server.GetAsync($"/api/v1/projects/{hogId}", user.Token)).AssertStatus(200).Json["live_last_exit"]);

        Assert.Equal("hogging", await server.RouterGetStringAsync("hog.localhost", "/hog"));

        JsonNode project = null!;
        await DeployingAppsTests.WaitUntilAsync(async () =>
        {
            Assert.Equal("calm", await server.RouterGetStringAsync("calm.localhost", "/"));
            project = (await server.GetAsync($"/api/v1/projects/{hogId}", user.Token)).AssertStatus(200).Json;
            return project["live_last_exit"] is not null;
        }, TimeSpan.FromSeconds(30));
        Assert.Equal("Killed: out of memory (limit 96 MB)", project["live_last_exit"]!.GetValue<string>());
        await DeployingAppsTests.WaitUntilAsync(async () =>
        {
            Assert.Equal("calm", await server.RouterGetStringAsync("calm.localhost", "/"));
            var response = await server.RouterGetAsync("hog.localhost", "/");
            // Served by a new process, and back to running (the router may reach it before its first health check).
            return response.IsSuccessStatusCode && await response.Content.ReadAsStringAsync() != firstPid
                && (await server.GetAsync($"/api/v1/projects/{hogId}", user.Token)).Json["live_status"]!.GetValue<string>() == "running";
        }, TimeSpan.FromSeconds(30));
        project = (await server.GetAsync($"/api/v1/projects/{hogId}", user.Token)).AssertStatus(200).Json;
        Assert.Equal("running", project["live_status"]!.GetValue<string>());
        Assert.Equal("Killed: out of memory (limit 96 MB)", project["live_last_exit"]!.GetValue<string>());
        var log = (await server.GetAsync($"/api/v1/logs/{deployment}?limit=1000", user.Token)).AssertStatus(200).Body;
        Assert.Contains("Killed: out of memory (limit 96 MB), restarting in", log, StringComparison.Ordinal);
        (await server.GetAsync("/health")).AssertStatus(200);
    }

    [Fact]
    public async Task BuildThatExceedsItsMemory_FailsWithTheReason()
    {
        using var repo = GitRepo.Create();
        var files = SampleApps.Node("greedy", buildScript: null);
        files["build.js"] = "const hog = []; setInterval(() => hog.push(Buffer.alloc(16 << 20, 1)), 10);\n";
        repo.Commit("greedy build", files);
        await using var server = await SlipwayServer.StartAsync(EngineSettings.Fast);
        var user = await server.RegisterUserAsync();
        var projectId = (await server.CreateProjectAsync(user.Token, "greedy",
            new { repo_url = repo.BarePath, build_command = "node build.js", start_command = "node server.js", resources = new { memory_mb = 80 } }))["id"]!.GetValue<string>();

        var deployment = await server.WaitForStatusAsync(user.Token, (await server.DeployAsync(user.Token, projectId))["id"]!.GetValue<string>(),
            TimeSpan.FromSeconds(90), "failed");

        Assert.Contains("The build command failed. Killed: out of memory (limit 80 MB).", deployment["error"]!.GetValue<string>(), StringComparison.Ordinal);
        (await server.GetAsync("/health")).AssertStatus(200);
    }

    [Fact]
    public async Task ForkBombInABuild_IsStoppedByThePidsLimit_AndNothingOfItSurvives()
    {
        var marker = Random.Shared.Next(10_000_000, 99_999_999).ToString(CultureInfo.InvariantCulture);
        using var repo = GitRepo.Create();
        var files = SampleApps.Node("bomb", buildScript: null);
        // Each sleep leaves the process group (setsid): only the cgroup still holds it. Bounded: 300 at most.
        files["bomb.sh"] = $"i=0\nwhile [ $i -lt 300 ]; do i=$((i+1)); setsid sleep {marker} & done\necho spawned all $i\n";
        repo.Commit("bomb", files);
        await using var server = await SlipwayServer.StartAsync(EngineSettings.Fast);
        var user = await server.RegisterUserAsync();
        var projectId = (await server.CreateProjectAsync(user.Token, "bomb",
            new { repo_url = repo.BarePath, build_command = "sh bomb.sh", start_command = "node server.js", resources = new { pids = 24 } }))["id"]!.GetValue<string>();

        var deployment = (await server.DeployAsync(user.Token, projectId))["id"]!.GetValue<string>();
        var most = 0;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        JsonNode status;
        do
        {
            most = Math.Max(most, ProcessCensus.WithArgument(marker).Count);
            status = (await server.GetAsync($"/api/v1/deployments/{deployment}", user.Token)).AssertStatus(200).Json;
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), "the build never ended");
        }
        while (status["status"]!.GetValue<string>() is "queued" or "building");

        Assert.Equal("failed", status["status"]!.GetValue<string>());
        Assert.Contains("The build command exited with code 2", status["error"]!.GetValue<string>(), StringComparison.Ordinal);
        var log = (await server.GetAsync($"/api/v1/logs/{deployment}?limit=1000", user.Token)).AssertStatus(200).Body;
        Assert.Contains("Cannot fork", log, StringComparison.Ordinal);
        Assert.DoesNotContain("spawned all", log, StringComparison.Ordinal);
        Assert.True(most <= 24, $"{most} sleeps ran at once under a limit of 24");
        await RuntimeTesting.UntilAsync(() => ProcessCensus.WithArgument(marker).Count == 0, "every sleep of the bomb is gone");
        (await server.GetAsync("/health")).AssertStatus(200);
    }

    [Fact]
    public async Task Resources_OutOfRange_Are400WithDetailsPerField_AndDefaultsAndMaximaComeFromConfiguration()
    {
        var settings = EngineSettings.Fast;
        settings["Slipway:Runtime:Resources:Default:MemoryMb"] = "300";
        settings["Slipway:Runtime:Resources:Default:Cpus"] = "0.5";
        settings["Slipway:Runtime:Resources:Default:Pids"] = "100";
        settings["Slipway:Runtime:Resources:Max:MemoryMb"] = "2048";
        settings["Slipway:Runtime:Resources:Max:Cpus"] = "2";
        settings["Slipway:Runtime:Resources:Max:Pids"] = "1000";
        await using var server = await SlipwayServer.StartAsync(settings);
        var user = await server.RegisterUserAsync();

        var created = await server.CreateProjectAsync(user.Token, "limits");
        Assert.Equal(300, created["resources"]!["memory_mb"]!.GetValue<int>());
        Assert.Equal(0.5, created["resources"]!["cpus"]!.GetValue<double>());
        Assert.Equal(100, created["resources"]!["pids"]!.GetValue<int>());

        var refused = await server.PostAsync("/api/v1/projects", new
        {
            name = "too-big", repo_url = "https://example.com/a/b.git", resources = new { memory_mb = 4096, cpus = 2.5, pids = 2 },
        }, user.Token);
        refused.AssertStatus(400);
        Assert.Equal("validation_failed", refused.Json["error"]!["code"]!.GetValue<string>());
        var details = refused.Json["error"]!["details"]!.AsArray().ToDictionary(d => d!["field"]!.GetValue<string>(), d => d!["message"]!.GetValue<string>());
        Assert.Equal("must be between 16 and 2048, or 0 for the instance default", details["resources.memory_mb"]);
        Assert.Equal("must be between 0.01 and 2 in steps of 0.01, or 0 for the instance default", details["resources.cpus"]);
        Assert.Equal("must be between 8 and 1000, or 0 for the instance default", details["resources.pids"]);

        var id = created["id"]!.GetValue<string>();
        (await server.PatchAsync($"/api/v1/projects/{id}", new { resources = new { cpus = 0.125 } }, user.Token)).AssertStatus(400);
        var patched = (await server.PatchAsync($"/api/v1/projects/{id}", new { resources = new { memory_mb = 2048, cpus = 1.25 } }, user.Token)).AssertStatus(200).Json;
        Assert.Equal(2048, patched["resources"]!["memory_mb"]!.GetValue<int>());
        Assert.Equal(1.25, patched["resources"]!["cpus"]!.GetValue<double>());
        Assert.Equal(100, patched["resources"]!["pids"]!.GetValue<int>());
        var read = (await server.GetAsync($"/api/v1/projects/{id}", user.Token)).AssertStatus(200).Json;
        Assert.Equal(2048, read["resources"]!["memory_mb"]!.GetValue<int>());
        Assert.Equal(1.25, read["resources"]!["cpus"]!.GetValue<double>());

        // An environment overrides field by field; 0 drops an override (the project's value applies again).
        var staging = (await server.PostAsync($"/api/v1/projects/{id}/environments", new { name = "staging", resources = new { pids = 200 } }, user.Token))
            .AssertStatus(201).Json;
        Assert.Equal(200, staging["resources"]!["pids"]!.GetValue<int>());
        Assert.Null(staging["resources"]!["memory_mb"]);
        Assert.Equal(200, staging["effective_resources"]!["pids"]!.GetValue<int>());
        Assert.Equal(2048, staging["effective_resources"]!["memory_mb"]!.GetValue<int>());
        var environment = $"/api/v1/projects/{id}/environments/{staging["id"]}";
        var badEnvironment = (await server.PatchAsync(environment, new { resources = new { memory_mb = 8 } }, user.Token)).AssertStatus(400).Json;
        Assert.Equal("resources.memory_mb", badEnvironment["error"]!["details"]![0]!["field"]!.GetValue<string>());
        staging = (await server.PatchAsync(environment, new { resources = new { pids = 0 } }, user.Token)).AssertStatus(200).Json;
        Assert.Null(staging["resources"]!["pids"]);
        Assert.Equal(100, staging["effective_resources"]!["pids"]!.GetValue<int>());

        var reset = (await server.PatchAsync($"/api/v1/projects/{id}", new { resources = new { memory_mb = 0 } }, user.Token)).AssertStatus(200).Json;
        Assert.Equal(300, reset["resources"]!["memory_mb"]!.GetValue<int>());
    }
}

/// <summary>Processes on this machine, found by what they run: the tests' way to count what a server left alive.</summary>
internal static class ProcessCensus
{
    /// <summary>Live (not zombie) processes with <paramref name="argument"/> as one of their arguments.</summary>
    public static IReadOnlyList<int> WithArgument(string argument) =>
        Where(pid => File.ReadAllText($"/proc/{pid}/cmdline").Split('\0').Contains(argument));

    /// <summary>Live processes whose environment holds <paramref name="variable"/> (<c>NAME=value</c>) and whose program is <paramref name="program"/>.</summary>
    public static IReadOnlyList<int> WithEnvironment(string program, string variable) =>
        Where(pid => File.ReadAllText($"/proc/{pid}/cmdline").Split('\0')[0].EndsWith(program, StringComparison.Ordinal)
                     && File.ReadAllText($"/proc/{pid}/environ").Split('\0').Contains(variable));

    private static List<int> Where(Func<int, bool> matches)
    {
        var found = new List<int>();
        foreach (var entry in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), out var pid)) continue;
            try
            {
                if (RuntimeTesting.IsAlive(pid) && matches(pid)) found.Add(pid);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
        return found;
    }
}
