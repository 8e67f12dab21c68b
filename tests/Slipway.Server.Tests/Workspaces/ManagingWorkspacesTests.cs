using Slipway.Server.Tests.ApiKeys;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Workspaces;

public sealed class ManagingWorkspacesTests : IAsyncLifetime
{
    private SlipwayServer server = null!;
    private TestUser admin = null!;

    public async Task InitializeAsync()
    {
        server = await SlipwayServer.StartAsync();
        admin = await server.RegisterUserAsync();
    }

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task Create_MakesTheCreatorOwner_Returns201()
    {
        var user = await server.RegisterUserAsync();
        var response = (await server.PostAsync("/api/v1/workspaces", new { name = "  Acme  " }, user.Token)).AssertStatus(201);

        var workspace = response.Json;
        Assert.Equal("Acme", workspace["name"]!.GetValue<string>());
        Assert.Equal("owner", workspace["role"]!.GetValue<string>());
        Assert.Equal("standard", workspace["tier"]!.GetValue<string>());
        Assert.False(workspace["is_personal"]!.GetValue<bool>());
        Assert.EndsWith($"/api/v1/workspaces/{workspace.Id()}", response.Header("Location"), StringComparison.Ordinal);
        var fetched = (await server.GetAsync($"/api/v1/workspaces/{workspace.Id()}", user.Token)).AssertStatus(200).Json;
        Assert.Equal("owner", fetched["role"]!.GetValue<string>());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("tab\tname")]
    public async Task Create_InvalidName_Returns400(string? name)
    {
        var user = await server.RegisterUserAsync();
        var response = await server.PostAsync("/api/v1/workspaces", new { name }, user.Token);
        response.AssertError(400, "validation_failed");
        Assert.Equal("name", response.Json["error"]!["details"]![0]!["field"]!.GetValue<string>());
        (await server.PostAsync("/api/v1/workspaces", new { name = new string('x', 101) }, user.Token)).AssertError(400, "validation_failed");
    }

    [Fact]
    public async Task List_ShowsOnlyMyWorkspacesWithMyRole_Paged()
    {
        var user = await server.RegisterUserAsync();
        var other = await server.RegisterUserAsync();
        var team = await server.CreateWorkspaceAsync(user.Token, "Team");
        await server.AddMemberAsync(other.Token, other.WorkspaceId, user, "viewer");

        var all = (await server.GetAsync("/api/v1/workspaces", user.Token)).AssertStatus(200).Json["data"]!.AsArray();
        Assert.Equal([team, other.WorkspaceId, user.WorkspaceId], all.Select(w => w!["id"]!.GetValue<string>()));
        Assert.Equal("viewer", all.Single(w => w!["id"]!.GetValue<string>() == other.WorkspaceId)!["role"]!.GetValue<string>());
        Assert.Equal("owner", all.Single(w => w!["id"]!.GetValue<string>() == team)!["role"]!.GetValue<string>());

        var first = (await server.GetAsync("/api/v1/workspaces?limit=2", user.Token)).AssertStatus(200).Json;
        Assert.Equal(2, first["data"]!.AsArray().Count);
        var cursor = first["next_cursor"]!.GetValue<string>();
        var second = (await server.GetAsync($"/api/v1/workspaces?limit=2&cursor={cursor}", user.Token)).AssertStatus(200).Json;
        Assert.Single(second["data"]!.AsArray());
        Assert.Null(second["next_cursor"]);
        (await server.GetAsync("/api/v1/workspaces?limit=0", user.Token)).AssertError(400, "validation_failed");
    }

    [Fact]
    public async Task Get_ByAKeyOfTheWorkspace_Returns200AndOtherwise404()
    {
        var user = await server.RegisterUserAsync();
        var team = await server.CreateWorkspaceAsync(user.Token);
        var key = await server.KeyAsync(user.Token, ["projects:read"], new { workspace_id = team });

        (await server.GetAsync($"/api/v1/workspaces/{team}", key)).AssertStatus(200);
        (await server.GetAsync($"/api/v1/workspaces/{user.WorkspaceId}", key)).AssertError(404, "not_found");
        (await server.GetAsync("/api/v1/workspaces/not-an-id", user.Token)).AssertError(404, "not_found");
        var keyWithoutRead = await server.KeyAsync(user.Token, ["deployments:read"], new { workspace_id = team });
        (await server.GetAsync($"/api/v1/workspaces/{team}", keyWithoutRead)).AssertError(403, "insufficient_scope");
        (await server.PatchAsync($"/api/v1/workspaces/{team}", new { name = "By key" }, key)).AssertError(403, "forbidden");
    }

    [Fact]
    public async Task Rename_ByOwnerOrAdmin_Returns200AndByDeveloperOrViewer403()
    {
        var owner = await server.RegisterUserAsync();
        var team = await server.CreateWorkspaceAsync(owner.Token);
        var adminMember = await server.RegisterUserAsync();
        var developer = await server.RegisterUserAsync();
        var viewer = await server.RegisterUserAsync();
        await server.AddMemberAsync(owner.Token, team, adminMember, "admin");
        await server.AddMemberAsync(owner.Token, team, developer, "developer");
        await server.AddMemberAsync(owner.Token, team, viewer, "viewer");

        Assert.Equal("Renamed", (await server.PatchAsync($"/api/v1/workspaces/{team}", new { name = "Renamed" }, owner.Token)).AssertStatus(200)
            .Json["name"]!.GetValue<string>());
        (await server.PatchAsync($"/api/v1/workspaces/{team}", new { name = "By admin" }, adminMember.Token)).AssertStatus(200);
        (await server.PatchAsync($"/api/v1/workspaces/{team}", new { name = "By dev" }, developer.Token)).AssertError(403, "forbidden");
        (await server.PatchAsync($"/api/v1/workspaces/{team}", new { name = "By viewer" }, viewer.Token)).AssertError(403, "forbidden");
        (await server.PatchAsync($"/api/v1/workspaces/{team}", new { name = "" }, owner.Token)).AssertError(400, "validation_failed");
        Assert.Equal("By admin", (await server.GetAsync($"/api/v1/workspaces/{team}", viewer.Token)).AssertStatus(200).Json["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task SetTier_ByAWorkspaceOwner_Returns403ButTheInstanceAdminMaySetIt()
    {
        var owner = await server.RegisterUserAsync();

        (await server.PatchAsync($"/api/v1/workspaces/{owner.WorkspaceId}", new { tier = "enterprise" }, owner.Token)).AssertError(403, "forbidden");
        var upgraded = (await server.PatchAsync($"/api/v1/workspaces/{owner.WorkspaceId}", new { tier = "enterprise" }, admin.Token)).AssertStatus(200).Json;

        Assert.Equal("enterprise", upgraded["tier"]!.GetValue<string>());
        Assert.Null(upgraded["role"]);
        Assert.Equal("enterprise", (await server.GetAsync($"/api/v1/workspaces/{owner.WorkspaceId}", owner.Token)).Json["tier"]!.GetValue<string>());
        (await server.PatchAsync($"/api/v1/workspaces/{admin.WorkspaceId}", new { tier = "standard" }, admin.Token)).AssertStatus(200);
        (await server.PatchAsync($"/api/v1/workspaces/{owner.WorkspaceId}", new { name = "Not yours" }, admin.Token)).AssertError(403, "forbidden");
    }

    [Fact]
    public async Task SetTier_UnknownValue_Returns400()
    {
        var response = await server.PatchAsync($"/api/v1/workspaces/{admin.WorkspaceId}", new { tier = "platinum" }, admin.Token);
        response.AssertError(400, "validation_failed");
        Assert.Equal("tier", response.Json["error"]!["details"]![0]!["field"]!.GetValue<string>());
    }
}
