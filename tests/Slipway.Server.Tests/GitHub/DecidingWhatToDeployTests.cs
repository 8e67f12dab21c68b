using System.Text;
using System.Text.Json;
using Slipway.Server.GitHub;
using Slipway.Server.Projects;

namespace Slipway.Server.Tests.GitHub;

/// <summary>The pure parts of the receiver: signatures, repository matching and the decision a payload leads to.</summary>
public sealed class DecidingWhatToDeployTests : IAsyncLifetime
{
    private OctokitWebhooks github = null!;

    public Task InitializeAsync()
    {
        github = OctokitWebhooks.Start();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await github.DisposeAsync();

    [Fact]
    public async Task Verify_AcceptsExactlyWhatOctokitSigns()
    {
        var body = OctokitWebhooks.Serialize(await github.ExampleAsync("push"));
        var bytes = Encoding.UTF8.GetBytes(body);
        var signature = await github.SignAsync("It's a Secret to Everybody", body);

        Assert.Equal(signature, GitHubSecrets.Sign("It's a Secret to Everybody", bytes));
        Assert.True(GitHubSecrets.Verify("It's a Secret to Everybody", bytes, signature));
        Assert.False(GitHubSecrets.Verify("It's a secret to everybody", bytes, signature));
        Assert.False(GitHubSecrets.Verify("It's a Secret to Everybody", bytes.Append((byte)' ').ToArray(), signature));
        Assert.False(GitHubSecrets.Verify("It's a Secret to Everybody", bytes, signature[..^1]));
        Assert.False(GitHubSecrets.Verify("It's a Secret to Everybody", bytes, signature + "0"));
        Assert.False(GitHubSecrets.Verify("It's a Secret to Everybody", bytes, signature.Replace("sha256=", "sha512=", StringComparison.Ordinal)));
        Assert.False(GitHubSecrets.Verify("It's a Secret to Everybody", bytes, null));
        // GitHub's documented test vector.
        Assert.Equal("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            GitHubSecrets.Sign("It's a Secret to Everybody", "Hello, World!"u8));
    }

    [Theory]
    [InlineData("https://github.com/Codertocat/Hello-World.git", "github.com", "Codertocat/Hello-World")]
    [InlineData("https://token:x-oauth@GitHub.com/Codertocat/Hello-World/", "github.com", "Codertocat/Hello-World")]
    [InlineData("git@github.com:Codertocat/Hello-World.git", "github.com", "Codertocat/Hello-World")]
    [InlineData("ssh://git@github.com:22/Codertocat/Hello-World.git", "github.com", "Codertocat/Hello-World")]
    [InlineData("https://ghe.example.com/org/team/app", "ghe.example.com", "org/team/app")]
    public void Locate_FindsHostAndRepository(string url, string host, string path) => Assert.Equal((host, path), GitHubEvents.Locate(url));

    [Theory]
    [InlineData("/srv/git/app.git")]
    [InlineData("file:///srv/git/app.git")]
    [InlineData("https://github.com/")]
    public void Locate_SaysNothingForLocalOrPathlessUrls(string url) => Assert.Null(GitHubEvents.Locate(url));

    [Theory]
    [InlineData("https://github.com/codertocat/hello-world.git", "accepted", null)]
    [InlineData("git@github.com:Codertocat/Hello-World.git", "accepted", null)]
    [InlineData("https://github.com/Codertocat/Other.git", "ignored", "repository_mismatch")]
    [InlineData("https://gitlab.example.com/mirror/hello-world.git", "accepted", null)]
    [InlineData("/srv/git/hello-world.git", "accepted", null)]
    public async Task Push_IsMatchedToTheProjectsRepository_WhenBothAreOnOneHost(string repoUrl, string status, string? reason)
    {
        var payload = await github.ExampleAsync("push", p => p["ref"]!.GetValue<string>() == "refs/heads/master");
        using var document = JsonDocument.Parse(OctokitWebhooks.Serialize(payload));
        var (project, environments) = Project(repoUrl, "master");

        var decision = GitHubEvents.Decide("push", document.RootElement, project, environments);

        Assert.Equal(status, decision.Status.ToString().ToLowerInvariant());
        Assert.Equal(reason, decision.Reason);
        if (decision.Status == GitHubDeliveryStatus.Accepted)
        {
            var target = Assert.Single(decision.Targets);
            Assert.Equal("6113728f27ae82c7b1a177c8d03f9e96e0adf246", target.CommitSha);
            Assert.Equal("Initial commit", target.CommitMessage);
            Assert.Equal("master", target.Branch);
        }
    }

    [Fact]
    public async Task Push_TakesOnlyTheSubjectLineOfTheMessage_AndRefusesAShortSha()
    {
        var payload = await github.ExampleAsync("push", p => p["ref"]!.GetValue<string>() == "refs/heads/master");
        payload["head_commit"]!["message"] = "Fix the thing\r\n\r\nBecause it was broken.";
        var (project, environments) = Project("/srv/git/app.git", "master");
        using (var document = JsonDocument.Parse(OctokitWebhooks.Serialize(payload)))
        {
            Assert.Equal("Fix the thing", Assert.Single(GitHubEvents.Decide("push", document.RootElement, project, environments).Targets).CommitMessage);
        }

        payload["after"] = "6113728";
        using var shortSha = JsonDocument.Parse(OctokitWebhooks.Serialize(payload));
        var error = Assert.Throws<Server.Hosting.ApiException>(() => GitHubEvents.Decide("push", shortSha.RootElement, project, environments));
        Assert.Equal(400, error.Status);
    }

    private static (Project, IReadOnlyList<ProjectEnvironment>) Project(string repoUrl, string branch)
    {
        var project = new Project
        {
            Id = Guid.CreateVersion7().ToString(), WorkspaceId = Guid.CreateVersion7().ToString(), Name = "app", RepoUrl = repoUrl, Branch = branch,
            HealthCheckPath = "/", AutoDeploy = true,
        };
        return (project, [new ProjectEnvironment { Id = Guid.CreateVersion7().ToString(), ProjectId = project.Id, Name = "production" }]);
    }
}
