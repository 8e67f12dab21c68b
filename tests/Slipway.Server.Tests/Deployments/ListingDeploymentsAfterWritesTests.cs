using System.Text.Json.Nodes;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Deployments;

/// <summary>
/// Deployment list pages are served from memory (the ids until the next database write, each finished deployment
/// serialized once); every write, the engine's own state changes included, must show on the very next page.
/// </summary>
public sealed class ListingDeploymentsAfterWritesTests : IAsyncLifetime
{
    private static readonly string[] ReadScopes = ["deployments:read", "projects:read"];
    private SlipwayServer server = null!;

    public async Task InitializeAsync() => server = await SlipwayServer.StartAsync(EngineSettings.Fast);

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task NewDeploymentsAndStateChanges_AreVisibleOnTheNextPage()
    {
        using var repo = GitRepo.Create();
        repo.Commit("site", SampleApps.Static("listed"));
        var owner = await server.RegisterUserAsync();
        var key = (await server.PostAsync("/api/v1/api-keys", new { name = "reader", scopes = ReadScopes }, owner.Token))
            .AssertStatus(201).Json["key"]!.GetValue<string>();
        var projectId = (await server.CreateProjectAsync(owner.Token, "listed-deploys", new { repo_url = repo.BarePath, framework = "static" }))["id"]!
            .GetValue<string>();
        Assert.Empty(await PageAsync(key, $"project_id={projectId}"));
        Assert.Empty(await PageAsync(key, $"project_id={projectId}&status=failed"));
        Assert.Empty(await PageAsync(key, ""));

        var failing = (await server.PostAsync("/api/v1/deployments", new { project_id = projectId, branch = "missing" }, owner.Token))
            .AssertStatus(201).Json["id"]!.GetValue<string>();
        Assert.Equal(failing, Assert.Single(await PageAsync(key, $"project_id={projectId}"))!["id"]!.GetValue<string>());
        Assert.Single(await PageAsync(key, ""));

        await server.WaitForStatusAsync(owner.Token, failing, TimeSpan.FromSeconds(60), "failed");
        Assert.Equal(failing, Assert.Single(await PageAsync(key, $"project_id={projectId}&status=failed"))!["id"]!.GetValue<string>());
        Assert.Equal("failed", Assert.Single(await PageAsync(key, $"project_id={projectId}"))!["status"]!.GetValue<string>());

        var ready = (await server.DeployAsync(owner.Token, projectId))["id"]!.GetValue<string>();
        await server.WaitForStatusAsync(owner.Token, ready, TimeSpan.FromSeconds(60), "ready");
        var page = await PageAsync(key, $"project_id={projectId}");
        Assert.Equal([ready, failing], page.Select(d => d!["id"]!.GetValue<string>()));
        Assert.True(page[0]!["is_live"]!.GetValue<bool>());
        Assert.Single(await PageAsync(key, $"project_id={projectId}&status=failed"));

        // A finished deployment's item is kept serialized; a rename of its project changes its URL all the same.
        (await server.PatchAsync($"/api/v1/projects/{projectId}", new { name = "renamed-deploys" }, owner.Token)).AssertStatus(200);
        Assert.All(await PageAsync(key, $"project_id={projectId}"), d => Assert.Contains("renamed-deploys", d!["url"]!.GetValue<string>(), StringComparison.Ordinal));
    }

    private async Task<JsonArray> PageAsync(string token, string query) =>
        (await server.GetAsync($"/api/v1/deployments?{query}", token)).AssertStatus(200).Json["data"]!.AsArray();
}
