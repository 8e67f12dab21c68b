using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Deployments;

public sealed class RetainingReleasesTests
{
    [Fact]
    public async Task OlderReleasesBeyondTheLimit_AreCollected_AndCannotBeRolledBackTo()
    {
        var settings = EngineSettings.Fast;
        settings["Slipway:Builds:RetainedReleases"] = "2";
        await using var server = await SlipwayServer.StartAsync(settings);
        using var repo = GitRepo.Create();
        var user = await server.RegisterUserAsync();
        var projectId = (await server.CreateProjectAsync(user.Token, "retained",
            new { repo_url = repo.BarePath, framework = "static" }))["id"]!.GetValue<string>();

        var deployments = new List<System.Text.Json.Nodes.JsonNode>();
        for (var i = 1; i <= 3; i++)
        {
            repo.Commit($"v{i}", SampleApps.Static($"version {i}"));
            deployments.Add(await server.WaitForStatusAsync(user.Token, (await server.DeployAsync(user.Token, projectId))["id"]!.GetValue<string>(),
                TimeSpan.FromSeconds(60), "ready"));
            // The list keeps finished deployments in memory: the oldest is read there with its artifact before retention collects it.
            if (i == 2) Assert.NotNull((await ListedAsync(deployments[0]))["artifact"]);
        }

        // Retention runs right after the switch to the newest release.
        System.Text.Json.Nodes.JsonNode oldest = null!;
        await DeployingAppsTests.WaitUntilAsync(async () =>
        {
            oldest = (await server.GetAsync($"/api/v1/deployments/{deployments[0]["id"]}", user.Token)).AssertStatus(200).Json;
            return oldest["artifact"] is null;
        }, TimeSpan.FromSeconds(10));
        Assert.Null(oldest["artifact"]);
        Assert.Null((await ListedAsync(deployments[0]))["artifact"]);
        Assert.False(Directory.Exists(Path.Combine(server.DataDirectory, "releases", deployments[0]["id"]!.GetValue<string>())));
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "artifacts", deployments[0]["artifact"]!["sha256"]!.GetValue<string>() + ".tar.gz")));
        (await server.PostAsync($"/api/v1/deployments/{deployments[0]["id"]}/rollback", null, user.Token)).AssertError(409, "invalid_state");

        var kept = (await server.GetAsync($"/api/v1/deployments/{deployments[1]["id"]}", user.Token)).AssertStatus(200).Json;
        Assert.NotNull(kept["artifact"]);
        var rollback = (await server.PostAsync($"/api/v1/deployments/{deployments[1]["id"]}/rollback", null, user.Token)).AssertStatus(201).Json;
        await server.WaitForStatusAsync(user.Token, rollback["id"]!.GetValue<string>(), TimeSpan.FromSeconds(60), "ready");
        Assert.Contains("version 2", await server.RouterGetStringAsync("retained.localhost", "/"));

        async Task<System.Text.Json.Nodes.JsonNode> ListedAsync(System.Text.Json.Nodes.JsonNode deployment) =>
            (await server.GetAsync($"/api/v1/deployments?project_id={projectId}", user.Token)).AssertStatus(200).Json["data"]!.AsArray()
            .Single(d => d!["id"]!.GetValue<string>() == deployment["id"]!.GetValue<string>())!;
    }

    [Fact]
    public async Task DeletingTheLastProjectThatUsesAnArtifact_FreesIt_EvenIfAnotherProjectCollectedItsCopy()
    {
        var settings = EngineSettings.Fast;
        settings["Slipway:Builds:RetainedReleases"] = "1";
        await using var server = await SlipwayServer.StartAsync(settings);
        using var repo = GitRepo.Create();
        var user = await server.RegisterUserAsync();
        repo.Commit("shared", SampleApps.Static("shared build"));
        async Task<(string Project, System.Text.Json.Nodes.JsonNode Ready)> DeployNewProjectAsync(string name)
        {
            var project = (await server.CreateProjectAsync(user.Token, name, new { repo_url = repo.BarePath, framework = "static" }))["id"]!.GetValue<string>();
            var ready = await server.WaitForStatusAsync(user.Token, (await server.DeployAsync(user.Token, project))["id"]!.GetValue<string>(),
                TimeSpan.FromSeconds(60), "ready");
            return (project, ready);
        }
        var (keeper, kept) = await DeployNewProjectAsync("artifact-keeper");
        var (collector, collected) = await DeployNewProjectAsync("artifact-collector");
        var sha = kept["artifact"]!["sha256"]!.GetValue<string>();
        Assert.Equal(sha, collected["artifact"]!["sha256"]!.GetValue<string>());
        var artifact = Path.Combine(server.DataDirectory, "artifacts", sha + ".tar.gz");

        // The collector moves on: its copy is collected, the file stays for the keeper's live release.
        repo.Commit("moved on", SampleApps.Static("another build"));
        await server.WaitForStatusAsync(user.Token, (await server.DeployAsync(user.Token, collector))["id"]!.GetValue<string>(),
            TimeSpan.FromSeconds(60), "ready");
        await DeployingAppsTests.WaitUntilAsync(async () =>
            (await server.GetAsync($"/api/v1/deployments/{collected["id"]}", user.Token)).AssertStatus(200).Json["artifact"] is null, TimeSpan.FromSeconds(10));
        Assert.True(File.Exists(artifact));

        (await server.DeleteAsync($"/api/v1/projects/{keeper}", user.Token)).AssertStatus(204);
        Assert.False(File.Exists(artifact));
        Assert.False(Directory.Exists(Path.Combine(server.DataDirectory, "releases", kept["id"]!.GetValue<string>())));
    }
}
