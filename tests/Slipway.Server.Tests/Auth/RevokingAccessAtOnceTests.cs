using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Auth;

/// <summary>
/// Tokens, keys and roles are cached in memory for the hot read paths; every change that takes power away must
/// still show on the very next request, with the cache warm.
/// </summary>
public sealed class RevokingAccessAtOnceTests : IAsyncLifetime
{
    private SlipwayServer server = null!;

    public async Task InitializeAsync() => server = await SlipwayServer.StartAsync();

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task ChangeRole_ThenRemove_NextRequestSeesIt()
    {
        var owner = await server.RegisterUserAsync();
        var member = await server.RegisterUserAsync();
        var id = (await server.CreateProjectAsync(owner.Token))["id"]!.GetValue<string>();
        (await server.PostAsync($"/api/v1/workspaces/{owner.WorkspaceId}/members", new { email = member.Email, role = "developer" }, owner.Token))
            .AssertStatus(201);
        for (var i = 0; i < 2; i++) (await server.PatchAsync($"/api/v1/projects/{id}", new { port = 4000 + i }, member.Token)).AssertStatus(200);

        (await server.PatchAsync($"/api/v1/workspaces/{owner.WorkspaceId}/members/{member.Id}", new { role = "viewer" }, owner.Token)).AssertStatus(200);
        (await server.PatchAsync($"/api/v1/projects/{id}", new { port = 4100 }, member.Token)).AssertError(403, "forbidden");
        (await server.GetAsync($"/api/v1/projects/{id}", member.Token)).AssertStatus(200);

        (await server.DeleteAsync($"/api/v1/workspaces/{owner.WorkspaceId}/members/{member.Id}", owner.Token)).AssertStatus(204);
        (await server.GetAsync($"/api/v1/projects/{id}", member.Token)).AssertError(404, "not_found");
        Assert.Empty((await server.GetAsync("/api/v1/projects", member.Token)).AssertStatus(200).Json["data"]!.AsArray());
    }

    [Fact]
    public async Task ChangePassword_OldTokenRefusedAtOnce()
    {
        var user = await server.RegisterUserAsync();
        var id = (await server.CreateProjectAsync(user.Token))["id"]!.GetValue<string>();
        for (var i = 0; i < 2; i++) (await server.GetAsync($"/api/v1/projects/{id}", user.Token)).AssertStatus(200);

        var changed = (await server.PostAsync("/api/v1/auth/password",
            new { current_password = user.Password, new_password = "another horse battery" }, user.Token)).AssertStatus(200).Json;

        (await server.GetAsync($"/api/v1/projects/{id}", user.Token)).AssertError(401, "unauthenticated");
        (await server.GetAsync($"/api/v1/projects/{id}", changed["token"]!.GetValue<string>())).AssertStatus(200);
    }

    [Fact]
    public async Task RevokeKey_NextRequestRefused()
    {
        var user = await server.RegisterUserAsync();
        var id = (await server.CreateProjectAsync(user.Token))["id"]!.GetValue<string>();
        var key = (await server.PostAsync("/api/v1/api-keys", new { name = "ci", scopes = (string[])["projects:read", "deployments:read"] }, user.Token))
            .AssertStatus(201).Json;
        var secret = key["key"]!.GetValue<string>();
        for (var i = 0; i < 2; i++)
        {
            (await server.GetAsync($"/api/v1/projects/{id}", secret)).AssertStatus(200);
            (await server.GetAsync($"/api/v1/deployments?project_id={id}", secret)).AssertStatus(200);
        }

        (await server.DeleteAsync($"/api/v1/api-keys/{key["id"]}", user.Token)).AssertStatus(204);

        (await server.GetAsync($"/api/v1/projects/{id}", secret)).AssertError(401, "unauthenticated");
    }

    [Fact]
    public async Task UpdateProject_ListsShowItAtOnce()
    {
        var user = await server.RegisterUserAsync();
        var id = (await server.CreateProjectAsync(user.Token))["id"]!.GetValue<string>();
        var deployment = (await server.PostAsync("/api/v1/deployments", new { project_id = id }, user.Token)).AssertStatus(201).Json;
        for (var i = 0; i < 2; i++)
        {
            (await server.GetAsync("/api/v1/projects", user.Token)).AssertStatus(200);
            (await server.GetAsync($"/api/v1/deployments?project_id={id}", user.Token)).AssertStatus(200);
        }

        (await server.PatchAsync($"/api/v1/projects/{id}", new { name = "renamed-app", health_check_path = "/up" }, user.Token)).AssertStatus(200);

        var project = Assert.Single((await server.GetAsync("/api/v1/projects", user.Token)).AssertStatus(200).Json["data"]!.AsArray())!;
        Assert.Equal("renamed-app", project["name"]!.GetValue<string>());
        Assert.Equal("/up", project["health_check_path"]!.GetValue<string>());
        var listed = Assert.Single((await server.GetAsync($"/api/v1/deployments?project_id={id}", user.Token)).AssertStatus(200).Json["data"]!.AsArray())!;
        Assert.Equal(deployment["id"]!.GetValue<string>(), listed["id"]!.GetValue<string>());
        Assert.Contains("renamed-app", listed["url"]!.GetValue<string>(), StringComparison.Ordinal);
        var read = (await server.GetAsync($"/api/v1/deployments/{deployment["id"]}", user.Token)).AssertStatus(200).Json;
        Assert.Contains("renamed-app", read["url"]!.GetValue<string>(), StringComparison.Ordinal);
    }
}
