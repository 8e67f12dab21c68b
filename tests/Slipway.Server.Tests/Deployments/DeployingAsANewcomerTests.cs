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
        server = await SlipwayServer.StartAsync(EngineSettings.Fast);
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
        var projectId = await ProjectAsync("head-trunk", repo);
        var project = (await server.GetAsync($"/api/v1/projects/{projectId}", user.Token)).AssertStatus(200).Json;
        Assert.Null(project["branch"]);
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
}
