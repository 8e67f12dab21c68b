using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Deployments;

public sealed class SurvivingRestartsTests
{
    [Fact]
    public async Task HostStoppedMidBuild_RestartEndsItFailed_AndLiveAppServesAgain()
    {
        using var repo = GitRepo.Create();
        var dataDirectory = Directory.CreateTempSubdirectory("slipway-restart-").FullName;
        repo.Commit("good", SampleApps.Node("survivor", buildScript: null));
        string projectId;
        string stuckId;
        var first = await SlipwayServer.StartAsync(EngineSettings.Fast, dataDirectory, postgres: false);
        string token;
        await using (first)
        {
            var user = await first.RegisterUserAsync();
            token = user.Token;
            projectId = (await first.CreateProjectAsync(token, "survivor",
                new { repo_url = repo.BarePath, build_command = "sh build.sh", start_command = "node server.js" }))["id"]!.GetValue<string>();
            var files = SampleApps.Node("survivor", buildScript: null);
            files["build.sh"] = "true\n";
            repo.Commit("good build", files);
            await first.WaitForStatusAsync(token, (await first.DeployAsync(token, projectId))["id"]!.GetValue<string>(), TimeSpan.FromSeconds(90), "ready");
            Assert.Equal("survivor", await first.RouterGetStringAsync("survivor.localhost", "/"));
            // A second live app: recovery brings every live release back, in parallel.
            var secondId = (await first.CreateProjectAsync(token, "survivor-two",
                new { repo_url = repo.BarePath, build_command = "sh build.sh", start_command = "node server.js" }))["id"]!.GetValue<string>();
            await first.WaitForStatusAsync(token, (await first.DeployAsync(token, secondId))["id"]!.GetValue<string>(), TimeSpan.FromSeconds(90), "ready");

            files["build.sh"] = "sleep 120\n";
            repo.Commit("slow build", files);
            stuckId = (await first.DeployAsync(token, projectId))["id"]!.GetValue<string>();
            await first.WaitForStatusAsync(token, stuckId, TimeSpan.FromSeconds(60), "building");
        }

        await using var second = await SlipwayServer.StartAsync(EngineSettings.Fast, dataDirectory, postgres: false);
        var stuck = await second.WaitForStatusAsync(token, stuckId, TimeSpan.FromSeconds(30), "failed");
        Assert.Contains("Interrupted", stuck["error"]!.GetValue<string>());
        await DeployingAppsTests.WaitUntilAsync(async () =>
        {
            var response = await second.RouterGetAsync("survivor.localhost", "/");
            return response.IsSuccessStatusCode;
        }, TimeSpan.FromSeconds(30));
        Assert.Equal("survivor", await second.RouterGetStringAsync("survivor.localhost", "/"));
        await DeployingAppsTests.WaitUntilAsync(async () => (await second.RouterGetAsync("survivor-two.localhost", "/")).IsSuccessStatusCode,
            TimeSpan.FromSeconds(30));
        Assert.Equal("survivor", await second.RouterGetStringAsync("survivor-two.localhost", "/"));
        var deployments = (await second.GetAsync($"/api/v1/deployments?project_id={projectId}", token)).AssertStatus(200).Json["data"]!.AsArray();
        Assert.All(deployments, d => Assert.True(d!["status"]!.GetValue<string>() is "ready" or "failed"));
    }
}
