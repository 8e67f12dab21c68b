using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Slipway.Server.Tests.EnvVars;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.GitHub;

/// <summary>
/// Real GitHub payloads (@octokit/webhooks-examples) signed by @octokit/webhooks-methods, sent over HTTP to a real
/// server: what is verified, what is de-duplicated, what deploys and what is answered with a reason.
/// </summary>
public sealed class ReceivingGitHubDeliveriesTests : IAsyncLifetime
{
    private const string ExampleSha = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";
    private SlipwayServer server = null!;
    private OctokitWebhooks github = null!;
    private TestUser user = null!;
    private GitRepo repo = null!;

    public async Task InitializeAsync()
    {
        server = await SlipwayServer.StartAsync(EngineSettings.Fast);
        github = OctokitWebhooks.Start();
        user = await server.RegisterUserAsync();
        // A real local repository: queued deployments fail on the examples' unknown commits without leaving the machine.
        repo = GitRepo.Create("master");
        repo.Commit("local", SampleApps.Static("local"), "master");
    }

    public async Task DisposeAsync()
    {
        await github.DisposeAsync();
        await server.DisposeAsync();
        repo.Dispose();
    }

    private sealed record Hook(string ProjectId, string Url, string Secret);

    private async Task<Hook> ProjectWithHookAsync(object? extra = null)
    {
        var body = new Dictionary<string, object?> { ["repo_url"] = repo.BarePath, ["branch"] = "master" };
        foreach (var (key, value) in System.Text.Json.JsonSerializer.SerializeToNode(extra ?? new { })!.AsObject()) body[key] = value?.DeepClone();
        var projectId = (await server.CreateProjectAsync(user.Token, null, body))["id"]!.GetValue<string>();
        var hook = (await server.PostAsync($"/api/v1/projects/{projectId}/integrations/github", null, user.Token)).AssertStatus(201).Json;
        return new Hook(projectId, hook["url"]!.GetValue<string>(), hook["secret"]!.GetValue<string>());
    }

    private Task<JsonObject> BranchPushAsync() => github.ExampleAsync("push", p => p["ref"]!.GetValue<string>() == "refs/heads/master");

    private async Task<JsonArray> DeploymentsAsync(string projectId) =>
        (await server.GetAsync($"/api/v1/deployments?project_id={projectId}", user.Token)).AssertStatus(200).Json["data"]!.AsArray();

    private static void AssertIgnored(ApiResponse response, string reason)
    {
        response.AssertStatus(200);
        Assert.Equal("ignored", response.Json["status"]!.GetValue<string>());
        Assert.Equal(reason, response.Json["reason"]!.GetValue<string>());
        Assert.False(string.IsNullOrWhiteSpace(response.Json["message"]!.GetValue<string>()));
        Assert.Empty(response.Json["deployments"]!.AsArray());
    }

    [Fact]
    public async Task ProjectWithoutBranch_DeploysPushesToTheRepositorysDefaultBranchOnly()
    {
        var hook = await ProjectWithHookAsync(new { branch = (string?)null });
        var push = await BranchPushAsync();

        push["repository"]!["default_branch"] = "master";
        var response = await github.DeliverAsync(server, hook.Url, hook.Secret, "push", push, Guid.NewGuid().ToString());
        response.AssertStatus(202);
        Assert.Equal("master", Assert.Single(response.Json["deployments"]!.AsArray())!["branch"]!.GetValue<string>());

        push["repository"]!["default_branch"] = "trunk";
        AssertIgnored(await github.DeliverAsync(server, hook.Url, hook.Secret, "push", push, Guid.NewGuid().ToString()), "no_matching_environment");
    }

    [Fact]
    public async Task PushToTheProjectsBranch_QueuesAGithubDeployment_WithTheShaMessageAndEvent()
    {
        var hook = await ProjectWithHookAsync();
        var delivery = Guid.NewGuid().ToString();

        var watch = Stopwatch.StartNew();
        var response = await github.DeliverAsync(server, hook.Url, hook.Secret, "push", await BranchPushAsync(), delivery);
        watch.Stop();

        response.AssertStatus(202);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"answered in {watch.Elapsed}");
        Assert.Equal("accepted", response.Json["status"]!.GetValue<string>());
        Assert.Equal(delivery, response.Json["delivery_id"]!.GetValue<string>());
        Assert.Equal("push", response.Json["event"]!.GetValue<string>());
        var queued = Assert.Single(response.Json["deployments"]!.AsArray())!;
        Assert.Equal("production", queued["environment"]!.GetValue<string>());
        Assert.Equal("master", queued["branch"]!.GetValue<string>());
        Assert.Equal(ExampleSha, queued["commit_sha"]!.GetValue<string>());

        var deploymentId = queued["deployment_id"]!.GetValue<string>();
        var deployment = (await server.GetAsync($"/api/v1/deployments/{deploymentId}", user.Token)).AssertStatus(200).Json;
        Assert.Equal("github", deployment["trigger"]!.GetValue<string>());
        Assert.Equal(ExampleSha, deployment["commit_sha"]!.GetValue<string>());
        Assert.Equal("Initial commit", deployment["commit_message"]!.GetValue<string>());
        Assert.Equal("master", deployment["branch"]!.GetValue<string>());
        Assert.Null(deployment["created_by"]);
        var listed = await server.GetAsync($"/api/v1/deployments?project_id={hook.ProjectId}&trigger=github", user.Token);
        Assert.Equal(deploymentId, Assert.Single(listed.AssertStatus(200).Json["data"]!.AsArray())!["id"]!.GetValue<string>());

        var events = await server.WithDbAsync(db => db.Events.Where(e => e.ProjectId == hook.ProjectId).OrderBy(e => e.Id).ToListAsync());
        var githubEvent = Assert.Single(events, e => e.Type == "deployment.github");
        Assert.Contains(events, e => e.Type == "deployment.created");
        var data = JsonNode.Parse(githubEvent.Data)!;
        Assert.Equal(deploymentId, data["id"]!.GetValue<string>());
        Assert.Equal("github", data["trigger"]!.GetValue<string>());
        Assert.Equal(ExampleSha, data["commit_sha"]!.GetValue<string>());
        Assert.Equal("Initial commit", data["commit_message"]!.GetValue<string>());

        var integration = (await server.GetAsync($"/api/v1/projects/{hook.ProjectId}/integrations/github", user.Token)).AssertStatus(200).Json;
        Assert.Equal(delivery, integration["last_delivery"]!["delivery_id"]!.GetValue<string>());
        Assert.Equal("accepted", integration["last_delivery"]!["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task BadOrMissingSignature_Is401_AndQueuesNothing()
    {
        var hook = await ProjectWithHookAsync();
        var payload = await BranchPushAsync();
        var body = OctokitWebhooks.Serialize(payload);
        var otherSecret = await github.SignAsync("not-the-secret", body);
        var tampered = payload.DeepClone();
        tampered["after"] = "1111111111111111111111111111111111111111";
        var signedOriginal = await github.SignAsync(hook.Secret, body);
        var upper = "sha256=" + signedOriginal["sha256=".Length..].ToUpperInvariant();

        var refused = new List<ApiResponse>
        {
            await github.DeliverAsync(server, hook.Url, hook.Secret, "push", payload, signature: otherSecret),
            await github.DeliverAsync(server, hook.Url, hook.Secret, "push", tampered, signature: signedOriginal),
            await github.DeliverAsync(server, hook.Url, hook.Secret, "push", payload, signature: null),
            await github.DeliverAsync(server, hook.Url, hook.Secret, "push", payload, signature: "sha256=zz"),
            await github.DeliverAsync(server, hook.Url, hook.Secret, "push", payload, signature: "sha1=" + new string('0', 40)),
            await github.DeliverAsync(server, hook.Url, hook.Secret, "push", payload, signature: ""),
        };

        Assert.All(refused, r => r.AssertError(401, "unauthenticated"));
        Assert.Contains("missing", refused[2].Json["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.All(refused, r => Assert.DoesNotContain(hook.Secret, r.Body, StringComparison.Ordinal));
        Assert.Empty(await DeploymentsAsync(hook.ProjectId));
        Assert.Equal(0, await server.WithDbAsync(db => db.GitHubDeliveries.CountAsync()));
        // The real signature of the same body still works (hex digits in either case are the same signature).
        (await github.DeliverAsync(server, hook.Url, hook.Secret, "push", payload, signature: upper)).AssertStatus(202);
        Assert.DoesNotContain(server.Logs.Lines, l => l.Contains(hook.Secret, StringComparison.Ordinal));
    }

    [Fact]
    public async Task ReplayedDeliveryId_IsADuplicate_AndQueuesNoSecondDeployment()
    {
        var hook = await ProjectWithHookAsync();
        var payload = await BranchPushAsync();
        var delivery = Guid.NewGuid().ToString();

        var first = (await github.DeliverAsync(server, hook.Url, hook.Secret, "push", payload, delivery)).AssertStatus(202);
        var replay = (await github.DeliverAsync(server, hook.Url, hook.Secret, "push", payload, delivery)).AssertStatus(200);

        Assert.Equal("duplicate", replay.Json["status"]!.GetValue<string>());
        Assert.Equal("duplicate_delivery", replay.Json["reason"]!.GetValue<string>());
        Assert.Equal(first.Json["deployments"]![0]!["deployment_id"]!.GetValue<string>(),
            replay.Json["deployments"]![0]!["deployment_id"]!.GetValue<string>());
        Assert.Single(await DeploymentsAsync(hook.ProjectId));

        // Copies of one delivery arriving together: the primary key lets exactly one through.
        var racing = Guid.NewGuid().ToString();
        var answers = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => github.DeliverAsync(server, hook.Url, hook.Secret, "push", payload, racing)));
        Assert.Single(answers, a => a.Status == 202);
        Assert.All(answers.Where(a => a.Status != 202), a => Assert.Equal("duplicate", a.AssertStatus(200).Json["status"]!.GetValue<string>()));
        Assert.Equal(2, (await DeploymentsAsync(hook.ProjectId)).Count);
        Assert.Equal(2, await server.WithDbAsync(db => db.Events.CountAsync(e => e.ProjectId == hook.ProjectId && e.Type == "deployment.github")));

        // The same delivery id at another hook is another delivery.
        var other = await ProjectWithHookAsync();
        (await github.DeliverAsync(server, other.Url, other.Secret, "push", payload, delivery)).AssertStatus(202);
    }

    [Fact]
    public async Task PushToAnotherBranch_IsIgnoredWithAReason()
    {
        var hook = await ProjectWithHookAsync();
        var payload = await BranchPushAsync();
        payload["ref"] = "refs/heads/feature/login";

        AssertIgnored(await github.DeliverAsync(server, hook.Url, hook.Secret, "push", payload), "no_matching_environment");
        Assert.Empty(await DeploymentsAsync(hook.ProjectId));
    }

    [Fact]
    public async Task TagPushes_AndBranchDeletions_AreIgnoredWithAReason()
    {
        var hook = await ProjectWithHookAsync();
        var tagCreated = await github.ExampleAsync("push", p => p["ref"]!.GetValue<string>().StartsWith("refs/tags/", StringComparison.Ordinal)
                                                               && !p["deleted"]!.GetValue<bool>());
        var tagDeleted = await github.ExampleAsync("push", p => p["ref"]!.GetValue<string>().StartsWith("refs/tags/", StringComparison.Ordinal)
                                                               && p["deleted"]!.GetValue<bool>());
        var branchDeleted = tagDeleted.DeepClone();
        branchDeleted["ref"] = "refs/heads/master";

        AssertIgnored(await github.DeliverAsync(server, hook.Url, hook.Secret, "push", tagCreated), "tag_push");
        AssertIgnored(await github.DeliverAsync(server, hook.Url, hook.Secret, "push", tagDeleted), "tag_push");
        AssertIgnored(await github.DeliverAsync(server, hook.Url, hook.Secret, "push", branchDeleted), "branch_deleted");
        Assert.Empty(await DeploymentsAsync(hook.ProjectId));
        Assert.Equal(3, await server.WithDbAsync(db => db.GitHubDeliveries.CountAsync(d => d.Status == Server.GitHub.GitHubDeliveryStatus.Ignored)));
    }

    [Fact]
    public async Task Ping_IsAnswered_AndOtherEventsAreIgnored()
    {
        var hook = await ProjectWithHookAsync();

        var pong = (await github.DeliverAsync(server, hook.Url, hook.Secret, "ping", await github.ExampleAsync("ping"))).AssertStatus(200);
        Assert.Equal("pong", pong.Json["status"]!.GetValue<string>());
        Assert.Contains("Anything added dilutes everything else.", pong.Json["message"]!.GetValue<string>(), StringComparison.Ordinal);

        AssertIgnored(await github.DeliverAsync(server, hook.Url, hook.Secret, "issues", await github.ExampleAsync("issues")), "event_not_handled");
        Assert.Empty(await DeploymentsAsync(hook.ProjectId));
    }

    [Fact]
    public async Task MalformedDeliveries_AreRefusedInTheErrorShape()
    {
        var hook = await ProjectWithHookAsync();
        var payload = await BranchPushAsync();

        (await github.DeliverAsync(server, hook.Url.Replace(hook.Url[^36..], Guid.CreateVersion7().ToString(), StringComparison.Ordinal),
            hook.Secret, "push", payload)).AssertError(404, "not_found");
        (await github.DeliverAsync(server, hook.Url[..^36] + "not-an-id", hook.Secret, "push", payload)).AssertError(404, "not_found");
        (await github.DeliverAsync(server, hook.Url, hook.Secret, "push", payload, contentType: "application/x-www-form-urlencoded"))
            .AssertError(415, "unsupported_media_type");

        var notJson = "{\"ref\": \"refs/heads/master\",";
        (await server.SendAsync(HttpMethod.Post, new Uri(hook.Url).PathAndQuery, notJson, headers: new Dictionary<string, string>
        {
            ["X-GitHub-Event"] = "push", ["X-GitHub-Delivery"] = Guid.NewGuid().ToString(),
            ["X-Hub-Signature-256"] = await github.SignAsync(hook.Secret, notJson),
        })).AssertError(400, "invalid_json");

        byte[] invalidUtf8 = [.. "{\"ref\":\""u8, 0xff, .. "\"}"u8];
        var raw = new ByteArrayContent(invalidUtf8);
        raw.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        (await server.SendAsync(HttpMethod.Post, new Uri(hook.Url).PathAndQuery, raw, headers: new Dictionary<string, string>
        {
            ["X-GitHub-Event"] = "push", ["X-GitHub-Delivery"] = Guid.NewGuid().ToString(),
            ["X-Hub-Signature-256"] = Server.GitHub.GitHubSecrets.Sign(hook.Secret, invalidUtf8),
        })).AssertError(400, "invalid_json");

        var noDelivery = await server.SendAsync(HttpMethod.Post, new Uri(hook.Url).PathAndQuery, OctokitWebhooks.Serialize(payload),
            headers: new Dictionary<string, string>
            {
                ["X-GitHub-Event"] = "push", ["X-Hub-Signature-256"] = await github.SignAsync(hook.Secret, OctokitWebhooks.Serialize(payload)),
            });
        Assert.Equal("validation_failed", noDelivery.AssertError(400));
        Assert.Equal("X-GitHub-Delivery", noDelivery.Json["error"]!["details"]![0]!["field"]!.GetValue<string>());

        var badSha = payload.DeepClone();
        badSha["after"] = "not-a-sha";
        (await github.DeliverAsync(server, hook.Url, hook.Secret, "push", badSha)).AssertError(400, "validation_failed");
        Assert.Empty(await DeploymentsAsync(hook.ProjectId));
    }

    [Fact]
    public async Task OversizedDelivery_Is413()
    {
        await using var small = await SlipwayServer.StartAsync(new Dictionary<string, string?> { ["Slipway:GitHub:MaxPayloadBytes"] = "4096" });
        var owner = await small.RegisterUserAsync();
        var projectId = (await small.CreateProjectAsync(owner.Token))["id"]!.GetValue<string>();
        var hook = (await small.PostAsync($"/api/v1/projects/{projectId}/integrations/github", null, owner.Token)).AssertStatus(201).Json;
        var push = await BranchPushAsync();
        Assert.True(OctokitWebhooks.Serialize(push).Length > 4096);

        (await github.DeliverAsync(small, hook["url"]!.GetValue<string>(), hook["secret"]!.GetValue<string>(), "push", push))
            .AssertError(413, "payload_too_large");
        // The organization ping of the examples is small enough.
        var ping = await github.ExampleAsync("ping", p => p["repository"] is null);
        Assert.True(OctokitWebhooks.Serialize(ping).Length < 4096);
        (await github.DeliverAsync(small, hook["url"]!.GetValue<string>(), hook["secret"]!.GetValue<string>(), "ping", ping)).AssertStatus(200);
    }

    [Fact]
    public async Task EveryEnvironmentTrackingTheBranch_IsDeployed_UnlessAutoDeployIsOff()
    {
        var hook = await ProjectWithHookAsync();
        (await server.PostAsync($"/api/v1/projects/{hook.ProjectId}/environments", new { name = "staging" }, user.Token)).AssertStatus(201);
        (await server.PostAsync($"/api/v1/projects/{hook.ProjectId}/environments", new { name = "qa", auto_deploy = false }, user.Token))
            .AssertStatus(201);
        (await server.PostAsync($"/api/v1/projects/{hook.ProjectId}/environments", new { name = "dev", branch = "develop" }, user.Token))
            .AssertStatus(201);

        var response = (await github.DeliverAsync(server, hook.Url, hook.Secret, "push", await BranchPushAsync())).AssertStatus(202);
        Assert.Equal(["production", "staging"], response.Json["deployments"]!.AsArray().Select(d => d!["environment"]!.GetValue<string>()).Order());

        var off = await ProjectWithHookAsync(new { auto_deploy = false });
        AssertIgnored(await github.DeliverAsync(server, off.Url, off.Secret, "push", await BranchPushAsync()), "auto_deploy_disabled");
        Assert.Empty(await DeploymentsAsync(off.ProjectId));
    }

    [Fact]
    public async Task PushForAnotherGitHubRepository_IsIgnored()
    {
        var hook = await ProjectWithHookAsync(new { repo_url = "https://github.com/acme/other-app.git" });

        var response = await github.DeliverAsync(server, hook.Url, hook.Secret, "push", await BranchPushAsync());

        AssertIgnored(response, "repository_mismatch");
        Assert.Contains("Codertocat/Hello-World", response.Json["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Empty(await DeploymentsAsync(hook.ProjectId));
    }

    [Fact]
    public async Task PullRequests_DeployTheirHeadToThePreviewEnvironment_OnlyFromTheSameRepository()
    {
        var hook = await ProjectWithHookAsync();
        var opened = await github.ExampleAsync("pull_request", p => p["action"]!.GetValue<string>() == "opened");
        var closed = await github.ExampleAsync("pull_request", p => p["action"]!.GetValue<string>() == "closed");
        var synchronize = await github.ExampleAsync("pull_request", p => p["action"]!.GetValue<string>() == "synchronize");
        var fromFork = opened.DeepClone();
        fromFork["pull_request"]!["head"]!["repo"]!["full_name"] = "someone/Hello-World";

        AssertIgnored(await github.DeliverAsync(server, hook.Url, hook.Secret, "pull_request", opened), "no_preview_environment");
        (await server.PostAsync($"/api/v1/projects/{hook.ProjectId}/environments", new { name = "preview" }, user.Token)).AssertStatus(201);

        var accepted = (await github.DeliverAsync(server, hook.Url, hook.Secret, "pull_request", synchronize)).AssertStatus(202);
        var queued = Assert.Single(accepted.Json["deployments"]!.AsArray())!;
        Assert.Equal("preview", queued["environment"]!.GetValue<string>());
        Assert.Equal(synchronize["pull_request"]!["head"]!["ref"]!.GetValue<string>(), queued["branch"]!.GetValue<string>());
        Assert.Equal(synchronize["pull_request"]!["head"]!["sha"]!.GetValue<string>(), queued["commit_sha"]!.GetValue<string>());
        var deployment = (await server.GetAsync($"/api/v1/deployments/{queued["deployment_id"]}", user.Token)).AssertStatus(200).Json;
        Assert.Equal("github", deployment["trigger"]!.GetValue<string>());
        Assert.Equal("preview", deployment["environment"]!.GetValue<string>());

        AssertIgnored(await github.DeliverAsync(server, hook.Url, hook.Secret, "pull_request", closed), "pull_request_action");
        AssertIgnored(await github.DeliverAsync(server, hook.Url, hook.Secret, "pull_request", fromFork), "fork_pull_request");
        Assert.Single(await DeploymentsAsync(hook.ProjectId));
    }
}
