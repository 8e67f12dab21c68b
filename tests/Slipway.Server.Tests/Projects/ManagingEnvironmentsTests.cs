using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Projects;

public sealed class ManagingEnvironmentsTests : IAsyncLifetime
{
    private SlipwayServer server = null!;

    public async Task InitializeAsync() => server = await SlipwayServer.StartAsync();

    public async Task DisposeAsync() => await server.DisposeAsync();

    private async Task<(TestUser User, string ProjectId)> ProjectAsync()
    {
        var user = await server.RegisterUserAsync();
        return (user, (await server.CreateProjectAsync(user.Token, extra: new { branch = "main", auto_deploy = true }))["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task CreateListGetPatchDelete_Staging_RoundTrip()
    {
        var (user, projectId) = await ProjectAsync();
        var created = (await server.PostAsync($"/api/v1/projects/{projectId}/environments",
            new { name = "staging", branch = "develop", build_command = "make", auto_deploy = false }, user.Token)).AssertStatus(201).Json;
        var envId = created["id"]!.GetValue<string>();
        Assert.Equal("develop", created["effective_branch"]!.GetValue<string>());
        Assert.False(created["effective_auto_deploy"]!.GetValue<bool>());

        var list = (await server.GetAsync($"/api/v1/projects/{projectId}/environments", user.Token)).AssertStatus(200).Json["data"]!.AsArray();
        Assert.Equal(["staging", "production"], list.Select(e => e!["name"]!.GetValue<string>()));

        var patched = (await server.PatchAsync($"/api/v1/projects/{projectId}/environments/{envId}", new { branch = "", start_command = "./run" }, user.Token))
            .AssertStatus(200).Json;
        Assert.Null(patched["branch"]);
        Assert.Equal("main", patched["effective_branch"]!.GetValue<string>());
        Assert.Equal("./run", patched["start_command"]!.GetValue<string>());
        Assert.Equal("./run", (await server.GetAsync($"/api/v1/projects/{projectId}/environments/{envId}", user.Token)).AssertStatus(200).Json["start_command"]!.GetValue<string>());

        (await server.DeleteAsync($"/api/v1/projects/{projectId}/environments/{envId}", user.Token)).AssertStatus(204);
        (await server.GetAsync($"/api/v1/projects/{projectId}/environments/{envId}", user.Token)).AssertError(404, "not_found");
    }

    [Fact]
    public async Task Production_CannotBeDeletedOrRenamed()
    {
        var (user, projectId) = await ProjectAsync();
        var production = (await server.GetAsync($"/api/v1/projects/{projectId}/environments", user.Token)).Json["data"]![0]!["id"]!.GetValue<string>();
        (await server.DeleteAsync($"/api/v1/projects/{projectId}/environments/{production}", user.Token)).AssertError(409, "conflict");
        (await server.PatchAsync($"/api/v1/projects/{projectId}/environments/{production}", new { name = "prod" }, user.Token)).AssertError(409, "conflict");
    }

    [Fact]
    public async Task DuplicateName_Returns409()
    {
        var (user, projectId) = await ProjectAsync();
        (await server.PostAsync($"/api/v1/projects/{projectId}/environments", new { name = "production" }, user.Token)).AssertError(409, "conflict");
    }

    [Theory]
    [InlineData("name", "Staging")]
    [InlineData("name", "has space")]
    [InlineData("branch", "a..b")]
    [InlineData("build_command", "x\u0001")]
    public async Task InvalidField_Returns400(string field, string value)
    {
        var (user, projectId) = await ProjectAsync();
        var body = new Dictionary<string, object?> { ["name"] = "preview", [field] = value };
        var response = await server.PostAsync($"/api/v1/projects/{projectId}/environments", body, user.Token);
        response.AssertError(400, "validation_failed");
        Assert.Equal(field, response.Json["error"]!["details"]![0]!["field"]!.GetValue<string>());
    }

    [Fact]
    public async Task AnotherUsersProjectEnvironments_AreNotFound()
    {
        var (_, projectId) = await ProjectAsync();
        var stranger = await server.RegisterUserAsync();
        (await server.GetAsync($"/api/v1/projects/{projectId}/environments", stranger.Token)).AssertError(404, "not_found");
        (await server.PostAsync($"/api/v1/projects/{projectId}/environments", new { name = "x" }, stranger.Token)).AssertError(404, "not_found");
    }
}
