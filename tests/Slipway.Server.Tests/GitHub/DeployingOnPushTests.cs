using System.Diagnostics;
using System.Text.Json.Nodes;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.GitHub;

/// <summary>
/// Push to deploy end to end: commits pushed to a real repository, GitHub's push payload (from the examples, pointed at
/// those commits) signed and delivered, and the pushed commit built, released and served through the router.
/// </summary>
public sealed class DeployingOnPushTests : IAsyncLifetime
{
    private static readonly TimeSpan Deploy = TimeSpan.FromSeconds(90);
    private SlipwayServer server = null!;
    private OctokitWebhooks github = null!;
    private GitRepo repo = null!;

    public async Task InitializeAsync()
    {
        server = await SlipwayServer.StartAsync(EngineSettings.Fast);
        github = OctokitWebhooks.Start();
        repo = GitRepo.Create();
    }

    public async Task DisposeAsync()
    {
        await github.DisposeAsync();
        await server.DisposeAsync();
        repo.Dispose();
    }

    /// <summary>The examples' branch push, rewritten to say that <paramref name="sha"/> was pushed to main.</summary>
    private async Task<JsonObject> PushPayloadAsync(string sha, string message)
    {
        var payload = await github.ExampleAsync("push", p => p["ref"]!.GetValue<string>().StartsWith("refs/heads/", StringComparison.Ordinal));
        payload["ref"] = "refs/heads/main";
        // The project names no branch: it deploys the repository's default, which the payload names.
        payload["repository"]!["default_branch"] = "main";
        payload["before"] = payload["after"]!.GetValue<string>();
        payload["after"] = sha;
        payload["head_commit"]!["id"] = sha;
        payload["head_commit"]!["tree_id"] = sha;
        payload["head_commit"]!["message"] = message + "\n\nLonger description that is not the subject.";
        return payload;
    }

    [Fact]
    public async Task PushedCommit_IsBuiltAndServed_AndTheNextPushReplacesIt()
    {
        var user = await server.RegisterUserAsync();
        var first = repo.Commit("first site", SampleApps.Static("Pushed one"));
        var projectId = (await server.CreateProjectAsync(user.Token, "pushed-site", new { repo_url = repo.BarePath, framework = "static" }))["id"]!
            .GetValue<string>();
        var hook = (await server.PostAsync($"/api/v1/projects/{projectId}/integrations/github", null, user.Token)).AssertStatus(201).Json;
        var url = hook["url"]!.GetValue<string>();
        var secret = hook["secret"]!.GetValue<string>();

        var watch = Stopwatch.StartNew();
        var accepted = (await github.DeliverAsync(server, url, secret, "push", await PushPayloadAsync(first, "first site"))).AssertStatus(202);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10));
        var ready = await server.WaitForStatusAsync(user.Token, accepted.Json["deployments"]![0]!["deployment_id"]!.GetValue<string>(), Deploy, "ready");

        Assert.Equal("github", ready["trigger"]!.GetValue<string>());
        Assert.Equal(first, ready["commit_sha"]!.GetValue<string>());
        Assert.Equal("first site", ready["commit_message"]!.GetValue<string>());
        Assert.True(ready["is_live"]!.GetValue<bool>());
        Assert.Contains("Pushed one", await server.RouterGetStringAsync("pushed-site.localhost", "/"), StringComparison.Ordinal);

        // A commit that is not the branch tip any more is still the one deployed: the payload's SHA, not the branch.
        var second = repo.Commit("second site", SampleApps.Static("Pushed two"));
        repo.Commit("third site, not pushed to Slipway", SampleApps.Static("Pushed three"));
        var next = (await github.DeliverAsync(server, url, secret, "push", await PushPayloadAsync(second, "second site"))).AssertStatus(202);
        var replaced = await server.WaitForStatusAsync(user.Token, next.Json["deployments"]![0]!["deployment_id"]!.GetValue<string>(), Deploy, "ready");

        Assert.Equal(second, replaced["commit_sha"]!.GetValue<string>());
        Assert.Contains("Pushed two", await server.RouterGetStringAsync("pushed-site.localhost", "/"), StringComparison.Ordinal);
    }
}
