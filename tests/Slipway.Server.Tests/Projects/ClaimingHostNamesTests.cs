using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Projects;

/// <summary>No tenant can take over another tenant's host on the router.</summary>
public sealed class ClaimingHostNamesTests : IAsyncLifetime
{
    private SlipwayServer server = null!;

    public async Task InitializeAsync() => server = await SlipwayServer.StartAsync();

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task CustomDomainUnderTheRouterBaseDomain_IsRefused()
    {
        var victim = await server.RegisterUserAsync();
        await server.CreateProjectAsync(victim.Token, "victim");
        var attacker = await server.RegisterUserAsync();
        var id = (await server.CreateProjectAsync(attacker.Token, "attacker"))["id"]!.GetValue<string>();
        var response = await server.PostAsync("/api/v1/domains", new { project_id = id, domain = "victim.localhost" }, attacker.Token);
        response.AssertError(400, "validation_failed");
        Assert.Equal("domain", response.Json["error"]!["details"]![0]!["field"]!.GetValue<string>());
    }

    [Fact]
    public async Task ProjectNamedLikeAnotherProjectsEnvironmentHost_IsRefused_AndViceVersa()
    {
        var alice = await server.RegisterUserAsync();
        var foo = (await server.CreateProjectAsync(alice.Token, "foo"))["id"]!.GetValue<string>();
        (await server.PostAsync($"/api/v1/projects/{foo}/environments", new { name = "bar" }, alice.Token)).AssertStatus(201);
        var bob = await server.RegisterUserAsync();
        (await server.PostAsync("/api/v1/projects", new { name = "foo-bar", repo_url = "https://example.com/x.git" }, bob.Token)).AssertError(409, "conflict");

        await server.CreateProjectAsync(bob.Token, "baz-qux");
        var baz = (await server.CreateProjectAsync(alice.Token, "baz"))["id"]!.GetValue<string>();
        (await server.PostAsync($"/api/v1/projects/{baz}/environments", new { name = "qux" }, alice.Token)).AssertError(409, "conflict");
    }

    [Fact]
    public async Task RepoUrlCredentials_AreNeverReturned()
    {
        var user = await server.RegisterUserAsync();
        var project = await server.CreateProjectAsync(user.Token, "private-repo", new { repo_url = "https://deploy:s3cr3t-t0ken@git.example.com/acme/app.git" });
        Assert.DoesNotContain("s3cr3t-t0ken", project.ToJsonString());
        var read = await server.GetAsync($"/api/v1/projects/{project["id"]}", user.Token);
        Assert.DoesNotContain("s3cr3t-t0ken", read.Body);
        Assert.Contains("git.example.com/acme/app.git", read.Body);
    }
}
