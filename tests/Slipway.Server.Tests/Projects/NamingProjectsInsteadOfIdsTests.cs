using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Projects;

/// <summary>A project's name works wherever its id does, inside the caller's workspaces; responses keep the id.</summary>
public sealed class NamingProjectsInsteadOfIdsTests : IAsyncLifetime
{
    private static readonly string[] DeploymentEvents = ["deployment.*"];
    private static readonly string[] ReadScope = ["projects:read"];
    private SlipwayServer server = null!;

    public async Task InitializeAsync() => server = await SlipwayServer.StartAsync();

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task PathsAndBodies_TakeTheName_AndAnswerWithTheId()
    {
        var user = await server.RegisterUserAsync();
        var id = (await server.CreateProjectAsync(user.Token, "named-app"))["id"]!.GetValue<string>();

        Assert.Equal(id, (await server.GetAsync("/api/v1/projects/named-app", user.Token)).AssertStatus(200).Json["id"]!.GetValue<string>());
        Assert.Equal("node", (await server.PatchAsync("/api/v1/projects/named-app", new { framework = "node" }, user.Token)).AssertStatus(200).Json["framework"]!.GetValue<string>());
        (await server.GetAsync("/api/v1/projects/named-app/environments", user.Token)).AssertStatus(200);

        var env = (await server.PostAsync("/api/v1/env", new { project_id = "named-app", key = "A", value = "b" }, user.Token)).AssertStatus(201).Json;
        Assert.Equal(id, env["project_id"]!.GetValue<string>());
        Assert.Equal("A", (await server.GetAsync("/api/v1/env?project_id=named-app", user.Token)).AssertStatus(200).Json["data"]![0]!["key"]!.GetValue<string>());
        var domain = (await server.PostAsync("/api/v1/domains", new { project_id = "named-app", domain = "named.example.com" }, user.Token)).AssertStatus(201).Json;
        Assert.Equal(id, domain["project_id"]!.GetValue<string>());
        var hook = (await server.PostAsync("/api/v1/webhooks", new { url = "https://hooks.example.com/x", events = DeploymentEvents, project_id = "named-app" },
            user.Token)).AssertStatus(201).Json;
        Assert.Equal(id, hook["project_id"]!.GetValue<string>());
        Assert.Empty((await server.GetAsync("/api/v1/deployments?project_id=named-app&environment=production", user.Token)).AssertStatus(200).Json["data"]!.AsArray());

        (await server.DeleteAsync("/api/v1/projects/named-app", user.Token)).AssertStatus(204);
        (await server.GetAsync($"/api/v1/projects/{id}", user.Token)).AssertError(404, "not_found");
    }

    [Fact]
    public async Task AnotherWorkspacesName_IsNotFound_LikeAnUnknownName()
    {
        var owner = await server.RegisterUserAsync();
        var stranger = await server.RegisterUserAsync();
        await server.CreateProjectAsync(owner.Token, "private-app");

        var foreign = await server.GetAsync("/api/v1/projects/private-app", stranger.Token);
        var unknown = await server.GetAsync("/api/v1/projects/never-made", stranger.Token);

        foreign.AssertError(404, "not_found");
        unknown.AssertError(404, "not_found");
        Assert.Equal("Project 'private-app' not found.", foreign.Json["error"]!["message"]!.GetValue<string>());
        (await server.PostAsync("/api/v1/env", new { project_id = "private-app", key = "A", value = "b" }, stranger.Token)).AssertError(404, "not_found");
        (await server.DeleteAsync("/api/v1/projects/private-app", stranger.Token)).AssertError(404, "not_found");
        (await server.GetAsync("/api/v1/projects/private-app", owner.Token)).AssertStatus(200);
    }

    [Fact]
    public async Task KeyRestrictedToOneProject_DoesNotReachAnotherByName()
    {
        var user = await server.RegisterUserAsync();
        var mine = (await server.CreateProjectAsync(user.Token, "key-app"))["id"]!.GetValue<string>();
        await server.CreateProjectAsync(user.Token, "other-app");
        var key = (await server.PostAsync("/api/v1/api-keys", new { name = "one", scopes = ReadScope, project_id = mine }, user.Token))
            .AssertStatus(201).Json["key"]!.GetValue<string>();

        (await server.GetAsync("/api/v1/projects/key-app", key)).AssertStatus(200);
        (await server.GetAsync("/api/v1/projects/other-app", key)).AssertError(404, "not_found");
    }
}
