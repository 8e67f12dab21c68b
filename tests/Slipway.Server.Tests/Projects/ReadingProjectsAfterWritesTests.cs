using System.Text.Json.Nodes;
using Slipway.Server.Tests.ApiKeys;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Projects;

/// <summary>Project reads and list pages are served from memory; every write through the API must show on the very next read.</summary>
public sealed class ReadingProjectsAfterWritesTests : IAsyncLifetime
{
    private static readonly string[] ReadScopes = ["projects:read"];
    private SlipwayServer server = null!;

    public async Task InitializeAsync() => server = await SlipwayServer.StartAsync();

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task EveryWrite_IsVisibleOnTheNextRead()
    {
        var user = await server.RegisterUserAsync();
        var id = (await server.CreateProjectAsync(user.Token, "cached-app"))["id"]!.GetValue<string>();
        async Task<System.Text.Json.Nodes.JsonNode> Read() => (await server.GetAsync($"/api/v1/projects/{id}", user.Token)).AssertStatus(200).Json;
        await Read();

        (await server.PatchAsync($"/api/v1/projects/{id}", new { health_check_path = "/up" }, user.Token)).AssertStatus(200);
        Assert.Equal("/up", (await Read())["health_check_path"]!.GetValue<string>());

        var domain = (await server.PostAsync("/api/v1/domains", new { project_id = id, domain = "cached.example.com" }, user.Token)).AssertStatus(201).Json;
        Assert.Equal("cached.example.com", (await Read())["domains"]![0]!["domain"]!.GetValue<string>());

        var staging = (await server.PostAsync($"/api/v1/projects/{id}/environments", new { name = "staging" }, user.Token)).AssertStatus(201).Json;
        Assert.Equal(2, (await Read())["environments"]!.AsArray().Count);
        (await server.PatchAsync($"/api/v1/projects/{id}/environments/{staging["id"]}", new { branch = "dev" }, user.Token)).AssertStatus(200);
        Assert.Contains((await Read())["environments"]!.AsArray(), e => e!["branch"]?.GetValue<string>() == "dev");
        (await server.DeleteAsync($"/api/v1/projects/{id}/environments/{staging["id"]}", user.Token)).AssertStatus(204);
        Assert.Single((await Read())["environments"]!.AsArray());

        (await server.DeleteAsync($"/api/v1/domains/{domain["id"]}", user.Token)).AssertStatus(204);
        Assert.Empty((await Read())["domains"]!.AsArray());

        (await server.DeleteAsync($"/api/v1/projects/{id}", user.Token)).AssertStatus(204);
        (await server.GetAsync($"/api/v1/projects/{id}", user.Token)).AssertError(404, "not_found");
    }

    [Fact]
    public async Task EveryWrite_IsVisibleOnTheNextListPage()
    {
        var user = await server.RegisterUserAsync();
        var id = (await server.CreateProjectAsync(user.Token, "listed-app"))["id"]!.GetValue<string>();
        Assert.Equal("/", (await ListedAsync(user, id))!["health_check_path"]!.GetValue<string>());

        (await server.PatchAsync($"/api/v1/projects/{id}", new { health_check_path = "/up" }, user.Token)).AssertStatus(200);
        Assert.Equal("/up", (await ListedAsync(user, id))!["health_check_path"]!.GetValue<string>());

        (await server.PostAsync("/api/v1/domains", new { project_id = id, domain = "listed.example.com" }, user.Token)).AssertStatus(201);
        Assert.Equal("listed.example.com", (await ListedAsync(user, id))!["domains"]![0]!["domain"]!.GetValue<string>());

        (await server.PostAsync($"/api/v1/projects/{id}/environments", new { name = "staging" }, user.Token)).AssertStatus(201);
        Assert.Equal(2, (await ListedAsync(user, id))!["environments"]!.AsArray().Count);

        (await server.DeleteAsync($"/api/v1/projects/{id}", user.Token)).AssertStatus(204);
        Assert.Null(await ListedAsync(user, id));
    }

    [Fact]
    public async Task ProjectsCreatedAfterAPageWasRead_AreOnTheNextPage_ForUsersAndKeys()
    {
        var user = await server.RegisterUserAsync();
        var key = (await server.PostAsync("/api/v1/api-keys", new { name = "reader", scopes = ReadScopes }, user.Token))
            .AssertStatus(201).Json["key"]!.GetValue<string>();
        var first = (await server.CreateProjectAsync(user.Token, "first-listed"))["id"]!.GetValue<string>();
        Assert.Equal([first], await IdsAsync(user.Token));
        Assert.Equal([first], await IdsAsync(key));

        var second = (await server.CreateProjectAsync(user.Token, "second-listed"))["id"]!.GetValue<string>();
        Assert.Equal([second, first], await IdsAsync(user.Token));
        Assert.Equal([second, first], await IdsAsync(key));

        (await server.DeleteAsync($"/api/v1/projects/{first}", user.Token)).AssertStatus(204);
        Assert.Equal([second], await IdsAsync(user.Token));
        Assert.Equal([second], await IdsAsync(key));
    }

    [Fact]
    public async Task RemovedMember_NoLongerListsTheWorkspacesProjects()
    {
        var owner = await server.RegisterUserAsync();
        var team = await server.CreateWorkspaceAsync(owner.Token);
        var member = await server.RegisterUserAsync();
        await server.AddMemberAsync(owner.Token, team, member, "viewer");
        var id = (await server.CreateProjectAsync(owner.Token, "team-listed", new { workspace_id = team }))["id"]!.GetValue<string>();
        Assert.NotNull(await ListedAsync(member, id));
        (await server.GetAsync($"/api/v1/projects/{id}", member.Token)).AssertStatus(200);

        (await server.DeleteAsync($"/api/v1/workspaces/{team}/members/{member.Id}", owner.Token)).AssertStatus(204);

        Assert.Null(await ListedAsync(member, id));
        (await server.GetAsync($"/api/v1/projects/{id}", member.Token)).AssertError(404, "not_found");
        Assert.NotNull(await ListedAsync(owner, id));
    }

    private async Task<List<string>> IdsAsync(string token) =>
        (await server.GetAsync("/api/v1/projects", token)).AssertStatus(200).Json["data"]!.AsArray().Select(p => p!["id"]!.GetValue<string>()).ToList();

    private async Task<JsonNode?> ListedAsync(TestUser user, string projectId) =>
        (await server.GetAsync("/api/v1/projects?limit=100", user.Token)).AssertStatus(200).Json["data"]!.AsArray()
        .SingleOrDefault(p => p!["id"]!.GetValue<string>() == projectId);
}
