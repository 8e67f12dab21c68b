using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Projects;

public sealed class ManagingProjectsTests : IAsyncLifetime
{
    private SlipwayServer server = null!;

    public async Task InitializeAsync() => server = await SlipwayServer.StartAsync();

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task Create_WithDefaults_ReturnsProjectWithProductionEnvironmentAndUrl()
    {
        var user = await server.RegisterUserAsync();
        var project = await server.CreateProjectAsync(user.Token, "my-app");

        Assert.Equal("my-app", project["name"]!.GetValue<string>());
        Assert.Null(project["branch"]);
        Assert.Null(project["port"]);
        Assert.Equal("auto", project["framework"]!.GetValue<string>());
        Assert.Equal("/", project["health_check_path"]!.GetValue<string>());
        Assert.True(project["auto_deploy"]!.GetValue<bool>());
        Assert.Equal("http://my-app.localhost:8000", project["url"]!.GetValue<string>());
        Assert.Equal(user.WorkspaceId, project["workspace_id"]!.GetValue<string>());
        Assert.Null(project["live_deployment_id"]);
        Assert.Equal("production", Assert.Single(project["environments"]!.AsArray())!["name"]!.GetValue<string>());
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", project["created_at"]!.GetValue<string>());
        Assert.True(Guid.TryParse(project["id"]!.GetValue<string>(), out var id) && id.Version == 7);
    }

    [Fact]
    public async Task GetPatchDelete_RoundTrip_ChangesAndRemovesProject()
    {
        var user = await server.RegisterUserAsync();
        var id = (await server.CreateProjectAsync(user.Token))["id"]!.GetValue<string>();

        var patched = (await server.PatchAsync($"/api/v1/projects/{id}",
            new { port = 8081, framework = "node", build_command = "npm run build", branch = "release/v1" }, user.Token)).AssertStatus(200).Json;
        Assert.Null(patched["port"]);
        Assert.Equal("node", patched["framework"]!.GetValue<string>());
        Assert.Equal("release/v1", patched["branch"]!.GetValue<string>());
        Assert.Null((await server.PatchAsync($"/api/v1/projects/{id}", new { branch = "" }, user.Token)).AssertStatus(200).Json["branch"]);

        var cleared = (await server.PatchAsync($"/api/v1/projects/{id}", new { build_command = "" }, user.Token)).AssertStatus(200).Json;
        Assert.Null(cleared["build_command"]);
        Assert.Equal("node", (await server.GetAsync($"/api/v1/projects/{id}", user.Token)).AssertStatus(200).Json["framework"]!.GetValue<string>());

        (await server.DeleteAsync($"/api/v1/projects/{id}", user.Token)).AssertStatus(204);
        (await server.GetAsync($"/api/v1/projects/{id}", user.Token)).AssertError(404, "not_found");
    }

    [Fact]
    public async Task Create_DuplicateName_Returns409()
    {
        var user = await server.RegisterUserAsync();
        var other = await server.RegisterUserAsync();
        await server.CreateProjectAsync(user.Token, "taken");
        (await server.PostAsync("/api/v1/projects", new { name = "taken", repo_url = "https://example.com/a.git" }, other.Token)).AssertError(409, "conflict");
    }

    [Theory]
    [InlineData("name", "Bad_Name")]
    [InlineData("name", "-leading")]
    [InlineData("name", "")]
    [InlineData("repo_url", "ftp://example.com/x")]
    [InlineData("repo_url", "--upload-pack=touch /tmp/pwned")]
    [InlineData("repo_url", "https://example.com/a\nb")]
    [InlineData("branch", "bad..branch")]
    [InlineData("branch", "-x")]
    [InlineData("branch", "a b")]
    [InlineData("framework", "cobol")]
    [InlineData("root_directory", "../outside")]
    [InlineData("output_directory", "/abs")]
    [InlineData("health_check_path", "no-slash")]
    [InlineData("build_command", "echo\u0000hi")]
    public async Task Create_InvalidField_Returns400NamingTheField(string field, string value)
    {
        var user = await server.RegisterUserAsync();
        var body = new Dictionary<string, object?> { ["name"] = "valid-name", ["repo_url"] = "https://example.com/a.git", [field] = value };
        var response = await server.PostAsync("/api/v1/projects", body, user.Token);
        response.AssertError(400, "validation_failed");
        Assert.Contains(response.Json["error"]!["details"]!.AsArray(), d => d!["field"]!.GetValue<string>() == field);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(65536)]
    public async Task Create_PortOutOfRange_Returns400(int port)
    {
        var user = await server.RegisterUserAsync();
        var response = await server.PostAsync("/api/v1/projects", new { name = "p", repo_url = "https://example.com/a.git", port }, user.Token);
        response.AssertError(400, "validation_failed");
        Assert.Equal("port", response.Json["error"]!["details"]![0]!["field"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("git@github.com:acme/app.git")]
    [InlineData("ssh://git@example.com/acme/app.git")]
    [InlineData("https://github.com/acme/app")]
    [InlineData("/srv/git/app.git")]
    [InlineData("file:///srv/git/app.git")]
    public async Task Create_AcceptedRepoUrls_Returns201(string repoUrl)
    {
        var user = await server.RegisterUserAsync();
        (await server.PostAsync("/api/v1/projects", new { name = "r" + Guid.NewGuid().ToString("N")[..8], repo_url = repoUrl }, user.Token)).AssertStatus(201);
    }

    [Fact]
    public async Task Create_LocalRepoWhenOperatorForbidsIt_Returns400()
    {
        await using var strict = await SlipwayServer.StartAsync(new Dictionary<string, string?> { ["Slipway:Projects:AllowLocalRepositories"] = "false" });
        var user = await strict.RegisterUserAsync();
        (await strict.PostAsync("/api/v1/projects", new { name = "local", repo_url = "/srv/git/app.git" }, user.Token)).AssertError(400, "validation_failed");
        (await strict.PostAsync("/api/v1/projects", new { name = "local", repo_url = "file:///srv/git/app.git" }, user.Token)).AssertError(400, "validation_failed");
    }

    [Fact]
    public async Task ProjectUrl_FollowsTheRouterSettings()
    {
        await using var custom = await SlipwayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Slipway:Router:BaseDomain"] = "apps.example.test", ["Slipway:Router:Urls"] = "http://127.0.0.1:0",
            ["Slipway:Router:PublicPort"] = "8443", ["Slipway:Router:PublicScheme"] = "https",
        });
        var user = await custom.RegisterUserAsync();
        Assert.Equal("https://site.apps.example.test:8443", (await custom.CreateProjectAsync(user.Token, "site"))["url"]!.GetValue<string>());
    }

    [Fact]
    public async Task OtherUsersProject_IsNotFound()
    {
        var owner = await server.RegisterUserAsync();
        var stranger = await server.RegisterUserAsync();
        var id = (await server.CreateProjectAsync(owner.Token))["id"]!.GetValue<string>();

        (await server.GetAsync($"/api/v1/projects/{id}", stranger.Token)).AssertError(404, "not_found");
        (await server.PatchAsync($"/api/v1/projects/{id}", new { port = 1 }, stranger.Token)).AssertError(404, "not_found");
        (await server.DeleteAsync($"/api/v1/projects/{id}", stranger.Token)).AssertError(404, "not_found");
        var list = (await server.GetAsync("/api/v1/projects", stranger.Token)).AssertStatus(200).Json;
        Assert.Empty(list["data"]!.AsArray());
    }
}
