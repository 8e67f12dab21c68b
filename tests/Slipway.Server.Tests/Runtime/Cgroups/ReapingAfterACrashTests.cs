using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Slipway.Server.Runtime;
using Slipway.Server.Runtime.Cgroups;
using Slipway.Server.Tests.Deployments;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Runtime.Cgroups;

/// <summary>
/// The real server binary, SIGKILLed while apps and a build run (they live on in their own sessions), then started
/// again on the same data directory: the leftovers are stopped before anything is brought back.
/// </summary>
public sealed class ReapingAfterACrashTests
{
    private static readonly TimeSpan Deploy = TimeSpan.FromSeconds(90);

    [Theory]
    [InlineData(null)]
    [InlineData("none")]
    public async Task ServerKilledWhileTwoAppsAndABuildRun_RestartLeavesOneCopyOfEachApp_AndFailsTheBuild(string? sandbox)
    {
        using var repo = GitRepo.Create();
        var files = SampleApps.Node("reaped", buildScript: null);
        files["build.sh"] = "true\n";
        repo.Commit("good", files);
        var dataDirectory = Directory.CreateTempSubdirectory("slipway-reap-").FullName;
        var settings = new Dictionary<string, string>
        {
            ["Slipway:DataDirectory"] = dataDirectory,
            ["Slipway:Projects:AllowLocalRepositories"] = "true",
            ["Slipway:Router:Urls"] = $"http://127.0.0.1:{FreePort()}",
            ["Slipway:Runtime:HealthCheckInterval"] = "00:00:00.100",
            ["Slipway:Runtime:StopTimeout"] = "00:00:03",
            ["Slipway:Builds:MaxConcurrentBuilds"] = "2",
            ["Slipway:RateLimits:Standard:RequestsPerMinute"] = "1000000",
            ["Slipway:RateLimits:Standard:Burst"] = "1000000",
            ["Slipway:RateLimits:Interactive:RequestsPerMinute"] = "1000000",
            ["Slipway:RateLimits:Interactive:Burst"] = "1000000",
        };
        if (sandbox is not null) settings["Slipway:Runtime:Sandbox"] = sandbox;
        try
        {
            var router = new Uri(settings["Slipway:Router:Urls"]);
            string token, stuck;
            var first = await ServerProcess.StartAsync(settings);
            await using (first)
            {
                using var http = new HttpClient { BaseAddress = first.BaseAddress };
                token = (await PostAsync(http, "/api/v1/auth/register", new { email = "reap@example.test", name = "Reap", password = "correct horse battery" }))["token"]!.GetValue<string>();
                http.DefaultRequestHeaders.Authorization = new("Bearer", token);
                var one = await CreateAndDeployAsync(http, "reap-one", repo);
                await CreateAndDeployAsync(http, "reap-two", repo);
                files["build.sh"] = "sleep 120\n";
                repo.Commit("slow build", files);
                stuck = (await PostAsync(http, "/api/v1/deployments", new { project_id = one }))["id"]!.GetValue<string>();
                await RuntimeTesting.UntilAsync(() => BuildSleeps(stuck) == 1, "the slow build runs", TimeSpan.FromSeconds(60));
                Assert.Single(AppProcesses("reap-one"));
                Assert.Single(AppProcesses("reap-two"));

                await first.KillAsync();
                Assert.Single(AppProcesses("reap-one"));
                Assert.Single(AppProcesses("reap-two"));
                Assert.Equal(1, BuildSleeps(stuck));
            }

            await using var second = await ServerProcess.StartAsync(settings);
            using (var http = new HttpClient { BaseAddress = second.BaseAddress })
            {
                http.DefaultRequestHeaders.Authorization = new("Bearer", token);
                await DeployingAppsTests.WaitUntilAsync(async () => (await GetAsync(http, $"/api/v1/deployments/{stuck}"))["status"]!.GetValue<string>() != "building",
                    TimeSpan.FromSeconds(30));
                var build = await GetAsync(http, $"/api/v1/deployments/{stuck}");
                Assert.Equal("failed", build["status"]!.GetValue<string>());
                Assert.Contains("Interrupted by server restart", build["error"]!.GetValue<string>(), StringComparison.Ordinal);
                // Killed at start-up; a killed process takes a moment to leave /proc on a loaded machine.
                await RuntimeTesting.UntilAsync(() => BuildSleeps(stuck) == 0, "the interrupted build is gone", TimeSpan.FromSeconds(10));
                foreach (var name in new[] { "reap-one", "reap-two" })
                {
                    await DeployingAppsTests.WaitUntilAsync(async () => (await RouterGetAsync(router, name)).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(30));
                    Assert.Equal("reaped", await (await RouterGetAsync(router, name)).Content.ReadAsStringAsync());
                    Assert.Single(AppProcesses(name));
                    var project = (await GetAsync(http, "/api/v1/projects?limit=100"))["data"]!.AsArray().Single(p => p!["name"]!.GetValue<string>() == name)!;
                    Assert.Equal("running", project["live_status"]!.GetValue<string>());
                    var log = await http.GetStringAsync($"/api/v1/logs/{project["live_deployment_id"]}?limit=1000");
                    Assert.DoesNotContain("EADDRINUSE", log, StringComparison.Ordinal);
                }
            }
            await second.KillAsync();
            // Clean up as the next start of that server would: whatever runs in its cgroups or recorded groups is stopped.
            Assert.Equal(2, await ReapAsync(dataDirectory, sandbox));
            await RuntimeTesting.UntilAsync(() => AppProcesses("reap-one").Count == 0, "the reaped app is gone", TimeSpan.FromSeconds(10));
        }
        finally
        {
            await ReapAsync(dataDirectory, sandbox);
            Directory.Delete(dataDirectory, recursive: true);
        }
    }

    [Fact]
    public async Task WithoutUsableCgroups_TheServerRefusesToStart_UnlessTheSandboxIsSwitchedOff()
    {
        // A cgroup parent inside a file: mkdir fails as it would on a read-only or missing cgroup file system.
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => SlipwayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Slipway:Runtime:CgroupParent"] = "/cgroup.procs",
        }));
        Assert.Contains("Slipway needs cgroups", refused.ToString(), StringComparison.Ordinal);
        Assert.Contains("Slipway:Runtime:Sandbox=none", refused.ToString(), StringComparison.Ordinal);

        await using var server = await SlipwayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Slipway:Runtime:CgroupParent"] = "/cgroup.procs",
            ["Slipway:Runtime:Sandbox"] = "none",
        });
        (await server.GetAsync("/health")).AssertStatus(200);
        Assert.Contains(server.Logs.Lines, l => l.Contains("Sandbox disabled", StringComparison.Ordinal));
    }

    private static async Task<int> ReapAsync(string dataDirectory, string? sandbox)
    {
        var leftovers = new Confinement(new RuntimeOptions(),
            new Slipway.Server.Runtime.Sandbox.SandboxOptions { Sandbox = sandbox == "none" ? Slipway.Server.Runtime.Sandbox.SandboxMode.None : Slipway.Server.Runtime.Sandbox.SandboxMode.Bubblewrap },
            dataDirectory, NullLogger<Confinement>.Instance);
        var reaped = await leftovers.ReapLeftoversAsync();
        leftovers.RemoveRoot();
        return reaped;
    }

    private static async Task<string> CreateAndDeployAsync(HttpClient http, string name, GitRepo repo)
    {
        var id = (await PostAsync(http, "/api/v1/projects", new { name, repo_url = repo.BarePath, build_command = "sh build.sh", start_command = "node server.js" }))["id"]!.GetValue<string>();
        var deployment = (await PostAsync(http, "/api/v1/deployments", new { project_id = id }))["id"]!.GetValue<string>();
        await DeployingAppsTests.WaitUntilAsync(async () => (await GetAsync(http, $"/api/v1/deployments/{deployment}"))["status"]!.GetValue<string>() is "ready" or "failed", Deploy);
        Assert.Equal("ready", (await GetAsync(http, $"/api/v1/deployments/{deployment}"))["status"]!.GetValue<string>());
        return id;
    }

    private static IReadOnlyList<int> AppProcesses(string project) => ProcessCensus.WithEnvironment("node", $"SLIPWAY_PROJECT_NAME={project}");

    private static int BuildSleeps(string deploymentId) => ProcessCensus.WithEnvironment("sleep", $"SLIPWAY_DEPLOYMENT_ID={deploymentId}").Count;

    private static async Task<JsonNode> PostAsync(HttpClient http, string path, object body)
    {
        using var response = await http.PostAsJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!;
    }

    private static async Task<JsonNode> GetAsync(HttpClient http, string path) => JsonNode.Parse(await http.GetStringAsync(path))!;

    private static readonly HttpClient RouterClient = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(10) };

    private static async Task<HttpResponseMessage> RouterGetAsync(Uri router, string host)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, router);
        request.Headers.Host = host + ".localhost";
        try
        {
            return await RouterClient.SendAsync(request);
        }
        catch (HttpRequestException)
        {
            return new HttpResponseMessage(HttpStatusCode.ServiceUnavailable);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
