using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Deployments;

/// <summary>Deployments, builds, artifacts and logs follow the same rules as every other resource.</summary>
public sealed class AuthorizingEngineEndpointsTests : IAsyncLifetime
{
    private static readonly string[] ReadOnlyScopes = ["deployments:read"];
    private SlipwayServer server = null!;

    public async Task InitializeAsync() => server = await SlipwayServer.StartAsync(EngineSettings.Fast);

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task StrangersViewersAndNarrowKeys_GetNotFoundForbiddenOrInsufficientScope()
    {
        using var repo = GitRepo.Create();
        repo.Commit("site", SampleApps.Static("private"));
        var owner = await server.RegisterUserAsync();
        var projectId = (await server.CreateProjectAsync(owner.Token, "guarded", new { repo_url = repo.BarePath, framework = "static" }))["id"]!.GetValue<string>();
        var ready = await server.WaitForStatusAsync(owner.Token, (await server.DeployAsync(owner.Token, projectId))["id"]!.GetValue<string>(),
            TimeSpan.FromSeconds(60), "ready");
        var id = ready["id"]!.GetValue<string>();
        var build = ready["build_id"]!.GetValue<string>();

        var stranger = await server.RegisterUserAsync();
        foreach (var path in new[] { $"/api/v1/deployments/{id}", $"/api/v1/builds/{build}", $"/api/v1/builds/{build}/artifact", $"/api/v1/logs/{id}" })
        {
            (await server.GetAsync(path, stranger.Token)).AssertError(404, "not_found");
        }
        (await server.PostAsync($"/api/v1/deployments/{id}/redeploy", null, stranger.Token)).AssertError(404, "not_found");
        (await server.PostAsync($"/api/v1/deployments/{id}/rollback", null, stranger.Token)).AssertError(404, "not_found");
        (await server.PostAsync("/api/v1/deployments", new { project_id = projectId }, stranger.Token)).AssertError(404, "not_found");
        Assert.Empty((await server.GetAsync("/api/v1/deployments", stranger.Token)).AssertStatus(200).Json["data"]!.AsArray());

        var viewer = await server.RegisterUserAsync();
        (await server.PostAsync($"/api/v1/workspaces/{owner.WorkspaceId}/members", new { email = viewer.Email, role = "viewer" }, owner.Token)).AssertStatus(201);
        (await server.GetAsync($"/api/v1/deployments/{id}", viewer.Token)).AssertStatus(200);
        (await server.PostAsync("/api/v1/deployments", new { project_id = projectId }, viewer.Token)).AssertError(403, "forbidden");
        (await server.PostAsync($"/api/v1/deployments/{id}/rollback", null, viewer.Token)).AssertError(403, "forbidden");
        (await server.PostAsync($"/api/v1/projects/{projectId}/rollback", new { }, viewer.Token)).AssertError(403, "forbidden");

        var readOnly = (await server.PostAsync("/api/v1/api-keys", new { name = "ro", scopes = ReadOnlyScopes }, owner.Token))
            .AssertStatus(201).Json["key"]!.GetValue<string>();
        (await server.GetAsync($"/api/v1/deployments/{id}", readOnly)).AssertStatus(200);
        (await server.PostAsync("/api/v1/deployments", new { project_id = projectId }, readOnly)).AssertError(403, "insufficient_scope");
        (await server.GetAsync($"/api/v1/logs/{id}", readOnly)).AssertError(403, "insufficient_scope");
        (await server.GetAsync($"/api/v1/builds/{build}/artifact", readOnly)).AssertError(403, "insufficient_scope");
        (await server.GetAsync($"/api/v1/deployments/{id}")).AssertError(401, "unauthenticated");
    }
}
