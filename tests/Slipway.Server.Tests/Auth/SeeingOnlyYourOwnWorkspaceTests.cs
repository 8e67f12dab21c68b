using Slipway.Server.Tests.ApiKeys;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Auth;

public sealed class SeeingOnlyYourOwnWorkspaceTests : IAsyncLifetime
{
    private SlipwayServer server = null!;

    public async Task InitializeAsync()
    {
        server = await SlipwayServer.StartAsync();
        // The first account administers the instance; the users under test are ordinary ones.
        await server.RegisterUserAsync();
    }

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task Viewer_CanReadButNotCreateProjects_Returns403Forbidden()
    {
        var owner = await server.RegisterUserAsync();
        var viewer = await server.RegisterUserAsync();
        await server.AddMemberAsync(owner.Token, owner.WorkspaceId, viewer, "viewer");
        var project = await server.CreateProjectAsync(owner.Token);

        (await server.GetAsync($"/api/v1/projects/{project.Id()}", viewer.Token)).AssertStatus(200);
        (await server.PostAsync("/api/v1/projects", new { name = "viewer-app", repo_url = "https://example.com/a.git", workspace_id = owner.WorkspaceId },
            viewer.Token)).AssertError(403, "forbidden");
        (await server.PatchAsync($"/api/v1/projects/{project.Id()}", new { port = 1234 }, viewer.Token)).AssertError(403, "forbidden");
    }

    [Fact]
    public async Task User_OtherWorkspacesThingsAreNotFound()
    {
        var me = await server.RegisterUserAsync();
        var other = await server.RegisterUserAsync();
        var theirProject = await server.CreateProjectAsync(other.Token);
        var theirKey = await server.CreateKeyAsync(other.Token);

        (await server.GetAsync($"/api/v1/projects/{theirProject.Id()}", me.Token)).AssertError(404, "not_found");
        (await server.GetAsync($"/api/v1/workspaces/{other.WorkspaceId}", me.Token)).AssertError(404, "not_found");
        (await server.PatchAsync($"/api/v1/workspaces/{other.WorkspaceId}", new { name = "Mine now" }, me.Token)).AssertError(404, "not_found");
        (await server.GetAsync($"/api/v1/workspaces/{other.WorkspaceId}/members", me.Token)).AssertError(404, "not_found");
        (await server.PostAsync($"/api/v1/workspaces/{other.WorkspaceId}/members", new { email = me.Email, role = "owner" }, me.Token))
            .AssertError(404, "not_found");
        (await server.GetAsync($"/api/v1/api-keys?workspace_id={other.WorkspaceId}", me.Token)).AssertError(404, "not_found");
        (await server.DeleteAsync($"/api/v1/api-keys/{theirKey.Id()}", me.Token)).AssertError(404, "not_found");
        (await server.PostAsync("/api/v1/api-keys", new { name = "k", scopes = new List<string> { "*" }, workspace_id = other.WorkspaceId }, me.Token))
            .AssertError(404, "not_found");
        Assert.DoesNotContain(theirKey.Id(), (await server.GetAsync("/api/v1/api-keys", me.Token)).Ids());
    }

    [Theory]
    [InlineData("/api/v1/projects?workspace_id={workspace}")]
    [InlineData("/api/v1/api-keys?workspace_id={workspace}")]
    [InlineData("/api/v1/webhooks?workspace_id={workspace}")]
    [InlineData("/api/v1/webhooks?project_id={project}")]
    [InlineData("/api/v1/usage?workspace_id={workspace}")]
    [InlineData("/api/v1/deployments?project_id={project}")]
    [InlineData("/api/v1/builds?project_id={project}")]
    [InlineData("/api/v1/domains?project_id={project}")]
    [InlineData("/api/v1/env?project_id={project}")]
    public async Task ListFilteredByAnotherWorkspacesOwner_IsNotFound_ForUsersAndKeys(string list)
    {
        var me = await server.RegisterUserAsync();
        var other = await server.RegisterUserAsync();
        var theirProject = await server.CreateProjectAsync(other.Token);
        var url = list.Replace("{workspace}", other.WorkspaceId, StringComparison.Ordinal).Replace("{project}", theirProject.Id(), StringComparison.Ordinal);

        (await server.GetAsync(url, me.Token)).AssertError(404, "not_found");
        (await server.GetAsync(url, await server.KeyAsync(me.Token))).AssertError(404, "not_found");
    }

    [Theory]
    [InlineData("/api/v1/projects?workspace_id={workspace}")]
    [InlineData("/api/v1/api-keys?workspace_id={workspace}")]
    [InlineData("/api/v1/webhooks?workspace_id={workspace}")]
    [InlineData("/api/v1/usage")]
    [InlineData("/api/v1/workspaces")]
    [InlineData("/api/v1/workspaces/{workspace}")]
    public async Task ProjectRestrictedKey_WorkspaceLevelRead_Returns403(string read)
    {
        var owner = await server.RegisterUserAsync();
        var project = await server.CreateProjectAsync(owner.Token);
        var key = await server.KeyAsync(owner.Token, ["*"], new { project_id = project.Id() });

        (await server.GetAsync(read.Replace("{workspace}", owner.WorkspaceId, StringComparison.Ordinal), key)).AssertError(403, "forbidden");
    }

    [Fact]
    public async Task Key_OtherWorkspacesThingsAreNotFound()
    {
        var me = await server.RegisterUserAsync();
        var other = await server.RegisterUserAsync();
        var key = await server.KeyAsync(me.Token);
        var theirProject = await server.CreateProjectAsync(other.Token);
        var theirKey = await server.CreateKeyAsync(other.Token);

        (await server.GetAsync($"/api/v1/projects/{theirProject.Id()}", key)).AssertError(404, "not_found");
        (await server.GetAsync($"/api/v1/workspaces/{other.WorkspaceId}", key)).AssertError(404, "not_found");
        (await server.DeleteAsync($"/api/v1/api-keys/{theirKey.Id()}", key)).AssertError(404, "not_found");
        (await server.GetAsync($"/api/v1/api-keys?workspace_id={other.WorkspaceId}", key)).AssertError(404, "not_found");
        Assert.Equal([me.WorkspaceId], (await server.GetAsync("/api/v1/workspaces", key)).Ids());
        Assert.Empty((await server.GetAsync("/api/v1/projects", key)).Ids());
    }

    [Fact]
    public async Task ProjectRestrictedKey_SeesOnlyItsProject()
    {
        var owner = await server.RegisterUserAsync();
        var mine = await server.CreateProjectAsync(owner.Token);
        var sibling = await server.CreateProjectAsync(owner.Token);
        var key = await server.KeyAsync(owner.Token, ["projects:read", "projects:write"], new { project_id = mine.Id() });

        (await server.GetAsync($"/api/v1/projects/{mine.Id()}", key)).AssertStatus(200);
        (await server.GetAsync($"/api/v1/projects/{sibling.Id()}", key)).AssertError(404, "not_found");
        (await server.PatchAsync($"/api/v1/projects/{sibling.Id()}", new { port = 4000 }, key)).AssertError(404, "not_found");
        (await server.DeleteAsync($"/api/v1/projects/{sibling.Id()}", key)).AssertError(404, "not_found");
        Assert.Equal([mine.Id()], (await server.GetAsync("/api/v1/projects", key)).Ids());
        (await server.PostAsync("/api/v1/projects", new { name = "escape", repo_url = "https://example.com/a.git" }, key)).AssertError(403, "forbidden");
        (await server.GetAsync("/api/v1/workspaces", key)).AssertError(403, "forbidden");
        (await server.GetAsync($"/api/v1/workspaces/{owner.WorkspaceId}", key)).AssertError(403, "forbidden");
    }
}
