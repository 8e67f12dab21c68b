using Slipway.Server.Auth;
using Slipway.Server.Tests.EnvVars;
using Slipway.Server.Tests.Support;
using Slipway.Server.Workspaces;

namespace Slipway.Server.Tests.Domains;

public sealed class ManagingDomainsTests : IAsyncLifetime
{
    private SlipwayServer server = null!;

    public async Task InitializeAsync() => server = await SlipwayServer.StartAsync();

    public async Task DisposeAsync() => await server.DisposeAsync();

    private async Task<(TestUser User, string ProjectId)> ProjectAsync()
    {
        var user = await server.RegisterUserAsync();
        return (user, (await server.CreateProjectAsync(user.Token))["id"]!.GetValue<string>());
    }

    private static string UniqueDomain(string prefix = "app") => $"{prefix}-{Guid.NewGuid():N}"[..20] + ".example.com";

    [Fact]
    public async Task Create_ValidDomain_Returns201AndShowsOnProject()
    {
        var (user, projectId) = await ProjectAsync();
        var hostname = UniqueDomain();

        var response = (await server.PostAsync("/api/v1/domains", new { project_id = projectId, domain = hostname }, user.Token)).AssertStatus(201);

        var json = response.Json.AsObject();
        Assert.Equal(["id", "project_id", "environment", "domain", "created_at"], json.Select(p => p.Key));
        Assert.Equal(hostname, json["domain"]!.GetValue<string>());
        Assert.Equal(projectId, json["project_id"]!.GetValue<string>());
        Assert.Equal("production", json["environment"]!.GetValue<string>());
        Assert.Equal($"/api/v1/domains/{json["id"]!.GetValue<string>()}", response.Header("Location"));
        var project = (await server.GetAsync($"/api/v1/projects/{projectId}", user.Token)).AssertStatus(200).Json;
        var listed = Assert.Single(project["domains"]!.AsArray())!;
        Assert.Equal(hostname, listed["domain"]!.GetValue<string>());
        Assert.Equal(json["id"]!.GetValue<string>(), listed["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task Create_InNamedEnvironment_RecordsThatEnvironment()
    {
        var (user, projectId) = await ProjectAsync();
        (await server.PostAsync($"/api/v1/projects/{projectId}/environments", new { name = "staging" }, user.Token)).AssertStatus(201);

        var json = (await server.PostAsync("/api/v1/domains", new { project_id = projectId, domain = UniqueDomain("stg"), environment = "staging" },
            user.Token)).AssertStatus(201).Json;

        Assert.Equal("staging", json["environment"]!.GetValue<string>());
        var response = await server.PostAsync("/api/v1/domains", new { project_id = projectId, domain = UniqueDomain(), environment = "nope" }, user.Token);
        response.AssertError(400, "validation_failed");
        Assert.Equal("environment", response.Json["error"]!["details"]![0]!["field"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("a.co")]
    [InlineData("xn--bcher-kva.example")]
    [InlineData("deep.sub.domain.example.org")]
    [InlineData("1-2-3.example.io")]
    [InlineData("123.example.com")]
    public async Task Create_AcceptedHostnameShapes_Return201(string hostname)
    {
        var (user, projectId) = await ProjectAsync();
        var unique = $"t{Guid.NewGuid():N}"[..12] + "." + hostname;
        (await server.PostAsync("/api/v1/domains", new { project_id = projectId, domain = unique }, user.Token)).AssertStatus(201);
    }

    [Fact]
    public async Task Create_LongestAllowedLabelsAndName_Return201()
    {
        var (user, projectId) = await ProjectAsync();
        var label63 = "l" + Guid.NewGuid().ToString("N") + new string('x', 30);
        Assert.Equal(63, label63.Length);
        var name253 = string.Join('.', label63, new string('b', 63), new string('c', 63), new string('d', 61));
        Assert.Equal(253, name253.Length);

        (await server.PostAsync("/api/v1/domains", new { project_id = projectId, domain = label63 + ".com" }, user.Token)).AssertStatus(201);
        (await server.PostAsync("/api/v1/domains", new { project_id = projectId, domain = name253 }, user.Token)).AssertStatus(201);
    }

    [Theory]
    [InlineData("App.Example.com", "lowercase")]
    [InlineData("EXAMPLE.COM", "lowercase")]
    [InlineData("https://example.com", "scheme")]
    [InlineData("http://example.com/", "scheme")]
    [InlineData("example.com:8080", "port")]
    [InlineData("example.com/path", "path")]
    [InlineData("example.com?q=1", "query")]
    [InlineData("192.168.1.10", "IP address")]
    [InlineData("127.1", "IP address")]
    [InlineData("::1", "IP address")]
    [InlineData("[2001:db8::1]", "IP address")]
    [InlineData("2001:db8::1", "IP address")]
    [InlineData("*.example.com", "wildcard")]
    [InlineData("example.com.", "end with a dot")]
    [InlineData("localhost", "two labels")]
    [InlineData("-bad.example.com", "label")]
    [InlineData("bad-.example.com", "label")]
    [InlineData("under_score.example.com", "label")]
    [InlineData("double..dot.com", "label")]
    [InlineData(".example.com", "label")]
    [InlineData("exa mple.com", "spaces")]
    [InlineData("bücher.example", "punycode")]
    [InlineData("example.com\n", "control")]
    [InlineData("user@example.com", "label")]
    [InlineData("", "required")]
    public async Task Create_InvalidHostname_Returns400SayingWhy(string hostname, string reason)
    {
        var (user, projectId) = await ProjectAsync();

        var response = await server.PostAsync("/api/v1/domains", new { project_id = projectId, domain = hostname }, user.Token);

        response.AssertError(400, "validation_failed");
        Assert.Equal("domain", response.Json["error"]!["details"]![0]!["field"]!.GetValue<string>());
        Assert.Contains(reason, response.Json["error"]!["details"]![0]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_OverLengthLimits_Returns400()
    {
        var (user, projectId) = await ProjectAsync();
        var label64 = new string('a', 64) + ".com";
        var name254 = string.Join('.', new string('a', 63), new string('b', 63), new string('c', 63), new string('d', 62));
        Assert.Equal(254, name254.Length);

        (await server.PostAsync("/api/v1/domains", new { project_id = projectId, domain = label64 }, user.Token)).AssertError(400, "validation_failed");
        (await server.PostAsync("/api/v1/domains", new { project_id = projectId, domain = name254 }, user.Token)).AssertError(400, "validation_failed");
    }

    [Fact]
    public async Task Create_MissingFields_Returns400NamingThem()
    {
        var (user, _) = await ProjectAsync();
        var response = await server.PostAsync("/api/v1/domains", new { }, user.Token);
        response.AssertError(400, "validation_failed");
        var fields = response.Json["error"]!["details"]!.AsArray().Select(d => d!["field"]!.GetValue<string>()).ToList();
        Assert.Contains("project_id", fields);
        Assert.Contains("domain", fields);
    }

    [Fact]
    public async Task Create_Duplicate_Returns409EvenForAnotherUserInAnotherWorkspace()
    {
        var (owner, projectId) = await ProjectAsync();
        var (other, otherProjectId) = await ProjectAsync();
        var hostname = UniqueDomain();
        (await server.PostAsync("/api/v1/domains", new { project_id = projectId, domain = hostname }, owner.Token)).AssertStatus(201);

        (await server.PostAsync("/api/v1/domains", new { project_id = projectId, domain = hostname }, owner.Token)).AssertError(409, "conflict");
        (await server.PostAsync("/api/v1/domains", new { project_id = otherProjectId, domain = hostname }, other.Token)).AssertError(409, "conflict");
    }

    [Fact]
    public async Task Delete_Existing_Returns204ThenNotFound()
    {
        var (user, projectId) = await ProjectAsync();
        var id = (await server.PostAsync("/api/v1/domains", new { project_id = projectId, domain = UniqueDomain() }, user.Token)).AssertStatus(201)
            .Json["id"]!.GetValue<string>();

        (await server.DeleteAsync($"/api/v1/domains/{id}", user.Token)).AssertStatus(204);

        (await server.DeleteAsync($"/api/v1/domains/{id}", user.Token)).AssertError(404, "not_found");
        (await server.DeleteAsync("/api/v1/domains/not-an-id", user.Token)).AssertError(404, "not_found");
        var project = (await server.GetAsync($"/api/v1/projects/{projectId}", user.Token)).AssertStatus(200).Json;
        Assert.Empty(project["domains"]!.AsArray());
    }

    [Fact]
    public async Task Delete_ThenRecreate_FreesTheHostname()
    {
        var (user, projectId) = await ProjectAsync();
        var (other, otherProjectId) = await ProjectAsync();
        var hostname = UniqueDomain();
        var id = (await server.PostAsync("/api/v1/domains", new { project_id = projectId, domain = hostname }, user.Token)).AssertStatus(201)
            .Json["id"]!.GetValue<string>();
        (await server.DeleteAsync($"/api/v1/domains/{id}", user.Token)).AssertStatus(204);

        (await server.PostAsync("/api/v1/domains", new { project_id = otherProjectId, domain = hostname }, other.Token)).AssertStatus(201);
    }

    [Fact]
    public async Task List_ByProjectAndAcrossVisibleProjects_PagesNewestFirst()
    {
        var (user, first) = await ProjectAsync();
        var second = (await server.CreateProjectAsync(user.Token))["id"]!.GetValue<string>();
        var (stranger, strangerProject) = await ProjectAsync();
        var a = UniqueDomain("a");
        var b = UniqueDomain("b");
        var c = UniqueDomain("c");
        (await server.PostAsync("/api/v1/domains", new { project_id = first, domain = a }, user.Token)).AssertStatus(201);
        (await server.PostAsync("/api/v1/domains", new { project_id = first, domain = b }, user.Token)).AssertStatus(201);
        (await server.PostAsync("/api/v1/domains", new { project_id = second, domain = c }, user.Token)).AssertStatus(201);
        (await server.PostAsync("/api/v1/domains", new { project_id = strangerProject, domain = UniqueDomain("s") }, stranger.Token)).AssertStatus(201);

        var byProject = (await server.GetAsync($"/api/v1/domains?project_id={first}", user.Token)).AssertStatus(200).Json;
        var page1 = (await server.GetAsync("/api/v1/domains?limit=2", user.Token)).AssertStatus(200).Json;
        var page2 = (await server.GetAsync($"/api/v1/domains?limit=2&cursor={page1["next_cursor"]!.GetValue<string>()}", user.Token))
            .AssertStatus(200).Json;

        Assert.Equal([b, a], byProject["data"]!.AsArray().Select(d => d!["domain"]!.GetValue<string>()));
        Assert.Null(byProject["next_cursor"]);
        Assert.Equal([c, b], page1["data"]!.AsArray().Select(d => d!["domain"]!.GetValue<string>()));
        Assert.Equal(a, Assert.Single(page2["data"]!.AsArray())!["domain"]!.GetValue<string>());
        Assert.Equal("production", page2["data"]![0]!["environment"]!.GetValue<string>());
        Assert.Null(page2["next_cursor"]);
    }

    [Fact]
    public async Task AnotherWorkspacesProject_IsNotFoundForEveryOperation()
    {
        var (owner, projectId) = await ProjectAsync();
        var stranger = await server.RegisterUserAsync();
        var id = (await server.PostAsync("/api/v1/domains", new { project_id = projectId, domain = UniqueDomain() }, owner.Token)).AssertStatus(201)
            .Json["id"]!.GetValue<string>();

        (await server.PostAsync("/api/v1/domains", new { project_id = projectId, domain = UniqueDomain() }, stranger.Token)).AssertError(404, "not_found");
        (await server.GetAsync($"/api/v1/domains?project_id={projectId}", stranger.Token)).AssertError(404, "not_found");
        var deleted = await server.DeleteAsync($"/api/v1/domains/{id}", stranger.Token);
        deleted.AssertError(404, "not_found");
        Assert.DoesNotContain(projectId, deleted.Body, StringComparison.Ordinal);
        Assert.Empty((await server.GetAsync("/api/v1/domains", stranger.Token)).AssertStatus(200).Json["data"]!.AsArray());
    }

    [Fact]
    public async Task ViewerAndScopes_ReadButNotWriteWithoutTheRightToIt()
    {
        var (owner, projectId) = await ProjectAsync();
        var viewer = await server.RegisterUserAsync();
        await server.AddMemberAsync(owner.WorkspaceId, viewer.Id, WorkspaceRole.Viewer);
        var id = (await server.PostAsync("/api/v1/domains", new { project_id = projectId, domain = UniqueDomain() }, owner.Token)).AssertStatus(201)
            .Json["id"]!.GetValue<string>();
        var readOnly = await server.CreateApiKeyAsync(owner, Scopes.DomainsRead);
        var writeOnly = await server.CreateApiKeyAsync(owner, Scopes.DomainsWrite);

        Assert.Single((await server.GetAsync($"/api/v1/domains?project_id={projectId}", viewer.Token)).AssertStatus(200).Json["data"]!.AsArray());
        (await server.PostAsync("/api/v1/domains", new { project_id = projectId, domain = UniqueDomain() }, viewer.Token)).AssertError(403, "forbidden");
        (await server.DeleteAsync($"/api/v1/domains/{id}", viewer.Token)).AssertError(403, "forbidden");
        (await server.PostAsync("/api/v1/domains", new { project_id = projectId, domain = UniqueDomain() }, readOnly)).AssertError(403, "insufficient_scope");
        (await server.GetAsync("/api/v1/domains", writeOnly)).AssertError(403, "insufficient_scope");
        Assert.Single((await server.GetAsync("/api/v1/domains", readOnly)).AssertStatus(200).Json["data"]!.AsArray());
        (await server.DeleteAsync($"/api/v1/domains/{id}", writeOnly)).AssertStatus(204);
    }
}
