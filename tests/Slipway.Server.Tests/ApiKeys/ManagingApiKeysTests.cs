using Microsoft.Extensions.DependencyInjection;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.ApiKeys;

public sealed class ManagingApiKeysTests : IAsyncLifetime
{
    private static readonly string[] ReadOnly = ["projects:read"];
    private static readonly string[] ReadAndKeys = ["keys:write", "projects:read"];
    private static readonly string[] ListFields =
        ["id", "name", "prefix", "scopes", "workspace_id", "project_id", "created_by", "created_at", "last_used_at", "expires_at"];

    private readonly ManualTimeProvider clock = new();
    private SlipwayServer server = null!;
    private TestUser owner = null!;

    public async Task InitializeAsync()
    {
        server = await SlipwayServer.StartAsync(services: s => s.AddSingleton<TimeProvider>(clock));
        await server.RegisterUserAsync();
        owner = await server.RegisterUserAsync();
    }

    public async Task DisposeAsync() => await server.DisposeAsync();

    private string InAnHour => clock.GetUtcNow().AddHours(1).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task Create_ReturnsTheKeyOnceWithTheListFields_201()
    {
        var response = await server.PostAsync("/api/v1/api-keys",
            new { name = "ci", scopes = new List<string> { "projects:write", "projects:read", "projects:read" }, expires_at = InAnHour }, owner.Token);

        var created = response.AssertStatus(201).Json;
        var key = created["key"]!.GetValue<string>();
        Assert.Matches("^slp_[A-Za-z0-9_-]{43}$", key);
        Assert.StartsWith(created["prefix"]!.GetValue<string>(), key, StringComparison.Ordinal);
        Assert.Equal("ci", created["name"]!.GetValue<string>());
        Assert.Equal(["projects:read", "projects:write"], created["scopes"]!.AsArray().Select(s => s!.GetValue<string>()));
        Assert.Equal(owner.WorkspaceId, created["workspace_id"]!.GetValue<string>());
        Assert.Equal(owner.Id, created["created_by"]!.GetValue<string>());
        Assert.Null(created["project_id"]);
        Assert.Null(created["last_used_at"]);
        Assert.Equal(InAnHour, created["expires_at"]!.GetValue<string>());
        Assert.Equal(ListFields.Append("key").Order(StringComparer.Ordinal), created.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.EndsWith($"/api/v1/api-keys/{created.Id()}", response.Header("Location"), StringComparison.Ordinal);
        (await server.GetAsync("/api/v1/projects", key)).AssertStatus(200);
    }

    [Fact]
    public async Task List_NeverShowsTheKeyOrHash_AndRecordsLastUse()
    {
        var created = await server.CreateKeyAsync(owner.Token, ReadOnly);
        var key = created["key"]!.GetValue<string>();
        (await server.GetAsync("/api/v1/projects", key)).AssertStatus(200);

        var list = (await server.GetAsync("/api/v1/api-keys", owner.Token)).AssertStatus(200);

        Assert.DoesNotContain(key, list.Body, StringComparison.Ordinal);
        Assert.DoesNotContain(key[created["prefix"]!.GetValue<string>().Length..], list.Body, StringComparison.Ordinal);
        Assert.DoesNotContain("hash", list.Body, StringComparison.Ordinal);
        var item = Assert.Single(list.Json["data"]!.AsArray())!;
        Assert.Equal(ListFields.Order(StringComparer.Ordinal), item.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.Equal(created.Id(), item.Id());
        Assert.NotNull(item["last_used_at"]);
        Assert.Null(list.Json["next_cursor"]);
    }

    [Fact]
    public async Task List_FiltersByWorkspaceAndPages()
    {
        var team = await server.CreateWorkspaceAsync(owner.Token);
        var personal = await server.CreateKeyAsync(owner.Token);
        var first = await server.CreateKeyAsync(owner.Token, extra: new { workspace_id = team });
        var second = await server.CreateKeyAsync(owner.Token, extra: new { workspace_id = team });

        Assert.Equal([second.Id(), first.Id(), personal.Id()], (await server.GetAsync("/api/v1/api-keys", owner.Token)).Ids());
        Assert.Equal([second.Id(), first.Id()], (await server.GetAsync($"/api/v1/api-keys?workspace_id={team}", owner.Token)).Ids());
        var page = (await server.GetAsync("/api/v1/api-keys?limit=2", owner.Token)).AssertStatus(200).Json;
        var rest = await server.GetAsync($"/api/v1/api-keys?limit=2&cursor={page["next_cursor"]!.GetValue<string>()}", owner.Token);
        Assert.Equal([personal.Id()], rest.Ids());
    }

    [Fact]
    public async Task Revoke_Returns204AndTheKeyStopsAtOnceAndLeavesTheList()
    {
        var created = await server.CreateKeyAsync(owner.Token);
        var key = created["key"]!.GetValue<string>();
        (await server.GetAsync("/api/v1/projects", key)).AssertStatus(200);

        (await server.DeleteAsync($"/api/v1/api-keys/{created.Id()}", owner.Token)).AssertStatus(204);

        (await server.GetAsync("/api/v1/projects", key)).AssertError(401, "unauthenticated");
        Assert.Empty((await server.GetAsync("/api/v1/api-keys", owner.Token)).Ids());
        (await server.DeleteAsync($"/api/v1/api-keys/{created.Id()}", owner.Token)).AssertError(404, "not_found");
        (await server.DeleteAsync("/api/v1/api-keys/nope", owner.Token)).AssertError(404, "not_found");
    }

    [Fact]
    public async Task Key_CanRevokeItself()
    {
        var created = await server.CreateKeyAsync(owner.Token, ReadAndKeys);
        var key = created["key"]!.GetValue<string>();
        (await server.DeleteAsync($"/api/v1/api-keys/{created.Id()}", key)).AssertStatus(204);
        (await server.GetAsync("/api/v1/api-keys", key)).AssertError(401, "unauthenticated");
    }

    [Theory]
    [InlineData("name", null)]
    [InlineData("name", "")]
    [InlineData("name", "   ")]
    [InlineData("name", "line\nbreak")]
    [InlineData("scopes", null)]
    [InlineData("scopes", "[]")]
    [InlineData("scopes", "[\"projects:read\",\"root\"]")]
    [InlineData("scopes", "[\"user_session\"]")]
    [InlineData("expires_at", "yesterday")]
    [InlineData("expires_at", "2000-01-01T00:00:00.000Z")]
    [InlineData("workspace_id", "not-an-id")]
    [InlineData("project_id", "")]
    public async Task Create_InvalidField_Returns400NamingTheField(string field, string? value)
    {
        var body = new Dictionary<string, object?> { ["name"] = "valid", ["scopes"] = ReadOnly };
        body[field] = value is not null && value.StartsWith('[') ? System.Text.Json.Nodes.JsonNode.Parse(value) : value;
        var response = await server.PostAsync("/api/v1/api-keys", body, owner.Token);
        response.AssertError(400, "validation_failed");
        Assert.Contains(response.Json["error"]!["details"]!.AsArray(), d => d!["field"]!.GetValue<string>() == field);
    }

    [Fact]
    public async Task Create_NameOver100Chars_Returns400()
    {
        (await server.PostAsync("/api/v1/api-keys", new { name = new string('k', 101), scopes = ReadOnly }, owner.Token)).AssertError(400, "validation_failed");
        (await server.PostAsync("/api/v1/api-keys", new { name = new string('k', 100), scopes = ReadOnly }, owner.Token)).AssertStatus(201);
    }

    [Fact]
    public async Task Create_ProjectOfAnotherWorkspace_Returns400AndUnseenProject404()
    {
        var team = await server.CreateWorkspaceAsync(owner.Token);
        var personalProject = await server.CreateProjectAsync(owner.Token);
        var stranger = await server.RegisterUserAsync();
        var strangersProject = await server.CreateProjectAsync(stranger.Token);

        (await server.PostAsync("/api/v1/api-keys", new { name = "k", scopes = ReadOnly, workspace_id = team, project_id = personalProject.Id() }, owner.Token))
            .AssertError(400, "validation_failed");
        (await server.PostAsync("/api/v1/api-keys", new { name = "k", scopes = ReadOnly, project_id = strangersProject.Id() }, owner.Token))
            .AssertError(404, "not_found");
    }

    [Fact]
    public async Task Create_ProjectByName_StoresItsId_AndAnotherWorkspacesName404()
    {
        var team = await server.CreateWorkspaceAsync(owner.Token);
        var project = await server.CreateProjectAsync(owner.Token, "keyed-by-name", new { workspace_id = team });
        var stranger = await server.RegisterUserAsync();
        await server.CreateProjectAsync(stranger.Token, "strangers-app");

        var created = await server.CreateKeyAsync(owner.Token, ReadOnly, new { project_id = "keyed-by-name" });

        Assert.Equal(project.Id(), created["project_id"]!.GetValue<string>());
        Assert.Equal(team, created["workspace_id"]!.GetValue<string>());
        var other = await server.PostAsync("/api/v1/api-keys", new { name = "k", scopes = ReadOnly, project_id = "strangers-app" }, owner.Token);
        other.AssertError(404, "not_found");
        Assert.Contains("strangers-app", other.Json["error"]!["message"]!.GetValue<string>());
        (await server.PostAsync("/api/v1/api-keys", new { name = "k", scopes = ReadOnly, project_id = "no-such-app" }, owner.Token)).AssertError(404, "not_found");
    }

    [Fact]
    public async Task Create_ForAProject_DefaultsToItsWorkspace()
    {
        var team = await server.CreateWorkspaceAsync(owner.Token);
        var project = await server.CreateProjectAsync(owner.Token, extra: new { workspace_id = team });

        var created = await server.CreateKeyAsync(owner.Token, ReadOnly, new { project_id = project.Id() });

        Assert.Equal(team, created["workspace_id"]!.GetValue<string>());
        Assert.Equal(project.Id(), created["project_id"]!.GetValue<string>());
    }

    [Fact]
    public async Task DeveloperOrViewer_CannotManageKeys_Returns403()
    {
        var team = await server.CreateWorkspaceAsync(owner.Token);
        var developer = await server.RegisterUserAsync();
        await server.AddMemberAsync(owner.Token, team, developer, "developer");
        var ownersKey = await server.CreateKeyAsync(owner.Token, extra: new { workspace_id = team });

        (await server.PostAsync("/api/v1/api-keys", new { name = "k", scopes = ReadOnly, workspace_id = team }, developer.Token)).AssertError(403, "forbidden");
        (await server.GetAsync($"/api/v1/api-keys?workspace_id={team}", developer.Token)).AssertError(403, "forbidden");
        (await server.DeleteAsync($"/api/v1/api-keys/{ownersKey.Id()}", developer.Token)).AssertError(403, "forbidden");
        Assert.DoesNotContain(ownersKey.Id(), (await server.GetAsync("/api/v1/api-keys", developer.Token)).Ids());
    }

    [Fact]
    public async Task Key_MintsOnlyWeakerKeysInItsOwnWorkspace()
    {
        var team = await server.CreateWorkspaceAsync(owner.Token);
        var key = await server.KeyAsync(owner.Token, ReadAndKeys, new { expires_at = InAnHour });

        var child = await server.CreateKeyAsync(key, ReadOnly, new { expires_at = InAnHour });

        Assert.Equal(owner.WorkspaceId, child["workspace_id"]!.GetValue<string>());
        Assert.Equal(owner.Id, child["created_by"]!.GetValue<string>());
        (await server.PostAsync("/api/v1/api-keys", new { name = "k", scopes = ReadOnly, workspace_id = team, expires_at = InAnHour }, key))
            .AssertError(403, "forbidden");
        (await server.PostAsync("/api/v1/api-keys", new { name = "k", scopes = new List<string> { "projects:write" }, expires_at = InAnHour }, key))
            .AssertError(403, "forbidden");
        (await server.PostAsync("/api/v1/api-keys", new { name = "k", scopes = new List<string> { "*" }, expires_at = InAnHour }, key))
            .AssertError(403, "forbidden");
        (await server.PostAsync("/api/v1/api-keys", new { name = "k", scopes = ReadOnly }, key)).AssertError(403, "forbidden");
        (await server.PostAsync("/api/v1/api-keys", new { name = "k", scopes = ReadOnly, expires_at = clock.GetUtcNow().AddHours(2).ToString("O") }, key))
            .AssertError(403, "forbidden");
    }

    [Fact]
    public async Task StarKey_MayMintAnyScope()
    {
        var key = await server.KeyAsync(owner.Token);
        var child = await server.CreateKeyAsync(key, ["*"]);
        Assert.Equal("*", Assert.Single(child["scopes"]!.AsArray())!.GetValue<string>());
        Assert.Null(child["expires_at"]);
    }

    [Fact]
    public async Task ProjectRestrictedKey_MintsOnlyForItsProjectAndListsOnlyItsProjectsKeys()
    {
        var mine = await server.CreateProjectAsync(owner.Token);
        var sibling = await server.CreateProjectAsync(owner.Token);
        var restricted = await server.CreateKeyAsync(owner.Token, ReadAndKeys, new { project_id = mine.Id() });
        var key = restricted["key"]!.GetValue<string>();
        var siblingKey = await server.CreateKeyAsync(owner.Token, ReadOnly, new { project_id = sibling.Id() });
        var unrestricted = await server.CreateKeyAsync(owner.Token, ReadOnly);

        var child = await server.CreateKeyAsync(key, ReadOnly, new { project_id = mine.Id() });

        Assert.Equal(mine.Id(), child["project_id"]!.GetValue<string>());
        (await server.PostAsync("/api/v1/api-keys", new { name = "k", scopes = ReadOnly }, key)).AssertError(403, "forbidden");
        (await server.PostAsync("/api/v1/api-keys", new { name = "k", scopes = ReadOnly, project_id = sibling.Id() }, key)).AssertError(404, "not_found");
        (await server.PostAsync("/api/v1/api-keys", new { name = "k", scopes = ReadOnly, project_id = sibling["name"]!.GetValue<string>() }, key))
            .AssertError(404, "not_found");
        Assert.Equal([child.Id(), restricted.Id()], (await server.GetAsync("/api/v1/api-keys", key)).Ids());
        (await server.DeleteAsync($"/api/v1/api-keys/{siblingKey.Id()}", key)).AssertError(404, "not_found");
        (await server.DeleteAsync($"/api/v1/api-keys/{unrestricted.Id()}", key)).AssertError(404, "not_found");
        Assert.Equal(mine.Id(), (await server.CreateKeyAsync(key, ReadOnly, new { project_id = mine["name"]!.GetValue<string>() }))["project_id"]!.GetValue<string>());
    }
}
