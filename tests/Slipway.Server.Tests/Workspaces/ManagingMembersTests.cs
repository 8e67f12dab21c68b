using Slipway.Server.Tests.ApiKeys;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Workspaces;

public sealed class ManagingMembersTests : IAsyncLifetime
{
    private SlipwayServer server = null!;
    private TestUser owner = null!;
    private string team = null!;

    public async Task InitializeAsync()
    {
        server = await SlipwayServer.StartAsync();
        owner = await server.RegisterUserAsync();
        team = await server.CreateWorkspaceAsync(owner.Token, "Team");
    }

    public async Task DisposeAsync() => await server.DisposeAsync();

    private string Members => $"/api/v1/workspaces/{team}/members";

    private async Task<TestUser> MemberAsync(string role)
    {
        var user = await server.RegisterUserAsync();
        await server.AddMemberAsync(owner.Token, team, user, role);
        return user;
    }

    private async Task<string?> RoleOfAsync(TestUser user) =>
        (await server.GetAsync(Members, owner.Token)).AssertStatus(200).Json["data"]!.AsArray()
        .SingleOrDefault(m => m!["user_id"]!.GetValue<string>() == user.Id)?["role"]!.GetValue<string>();

    [Fact]
    public async Task Add_ExistingUserByEmail_Returns201AndTheWorkspaceBecomesVisible()
    {
        var user = await server.RegisterUserAsync(name: "Grace");
        var response = (await server.PostAsync(Members, new { email = user.Email.ToUpperInvariant(), role = "developer" }, owner.Token)).AssertStatus(201);

        Assert.Equal(user.Id, response.Json["user_id"]!.GetValue<string>());
        Assert.Equal(user.Email, response.Json["email"]!.GetValue<string>());
        Assert.Equal("Grace", response.Json["name"]!.GetValue<string>());
        Assert.Equal("developer", response.Json["role"]!.GetValue<string>());
        Assert.Equal("developer", (await server.GetAsync($"/api/v1/workspaces/{team}", user.Token)).AssertStatus(200).Json["role"]!.GetValue<string>());
    }

    [Fact]
    public async Task Add_UnknownEmail_Returns404()
    {
        (await server.PostAsync(Members, new { email = "nobody@example.test", role = "viewer" }, owner.Token)).AssertError(404, "not_found");
    }

    [Fact]
    public async Task Add_AlreadyAMember_Returns409()
    {
        var user = await MemberAsync("viewer");
        (await server.PostAsync(Members, new { email = user.Email, role = "admin" }, owner.Token)).AssertError(409, "conflict");
        (await server.PostAsync(Members, new { email = owner.Email, role = "viewer" }, owner.Token)).AssertError(409, "conflict");
    }

    [Theory]
    [InlineData("email", null)]
    [InlineData("email", "")]
    [InlineData("role", null)]
    [InlineData("role", "superuser")]
    [InlineData("role", "Owner")]
    public async Task Add_InvalidField_Returns400NamingTheField(string field, string? value)
    {
        var user = await server.RegisterUserAsync();
        var body = new Dictionary<string, object?> { ["email"] = user.Email, ["role"] = "viewer", [field] = value };
        var response = await server.PostAsync(Members, body, owner.Token);
        response.AssertError(400, "validation_failed");
        Assert.Equal(field, response.Json["error"]!["details"]![0]!["field"]!.GetValue<string>());
    }

    [Fact]
    public async Task Add_ByDeveloperOrViewer_Returns403()
    {
        var developer = await MemberAsync("developer");
        var viewer = await MemberAsync("viewer");
        var newcomer = await server.RegisterUserAsync();

        (await server.PostAsync(Members, new { email = newcomer.Email, role = "viewer" }, developer.Token)).AssertError(403, "forbidden");
        (await server.PostAsync(Members, new { email = newcomer.Email, role = "viewer" }, viewer.Token)).AssertError(403, "forbidden");
    }

    [Fact]
    public async Task Admin_ManagesMembersButCannotGrantOrTouchTheOwnerRole()
    {
        var adminMember = await MemberAsync("admin");
        var newcomer = await server.RegisterUserAsync();
        var developer = await MemberAsync("developer");

        (await server.PostAsync(Members, new { email = newcomer.Email, role = "owner" }, adminMember.Token)).AssertError(403, "forbidden");
        (await server.PostAsync(Members, new { email = newcomer.Email, role = "admin" }, adminMember.Token)).AssertStatus(201);
        (await server.PatchAsync($"{Members}/{developer.Id}", new { role = "owner" }, adminMember.Token)).AssertError(403, "forbidden");
        (await server.PatchAsync($"{Members}/{owner.Id}", new { role = "viewer" }, adminMember.Token)).AssertError(403, "forbidden");
        (await server.DeleteAsync($"{Members}/{owner.Id}", adminMember.Token)).AssertError(403, "forbidden");
        (await server.PatchAsync($"{Members}/{developer.Id}", new { role = "viewer" }, adminMember.Token)).AssertStatus(200);
        (await server.DeleteAsync($"{Members}/{developer.Id}", adminMember.Token)).AssertStatus(204);
        Assert.Equal("owner", await RoleOfAsync(owner));
        Assert.Null(await RoleOfAsync(developer));
    }

    [Fact]
    public async Task ChangeRole_ByOwner_Returns200AndTakesEffect()
    {
        var user = await MemberAsync("viewer");
        var project = await server.CreateProjectAsync(owner.Token, extra: new { workspace_id = team });
        (await server.PatchAsync($"/api/v1/projects/{project.Id()}", new { port = 4001 }, user.Token)).AssertError(403, "forbidden");

        var response = (await server.PatchAsync($"{Members}/{user.Id}", new { role = "developer" }, owner.Token)).AssertStatus(200);

        Assert.Equal("developer", response.Json["role"]!.GetValue<string>());
        (await server.PatchAsync($"/api/v1/projects/{project.Id()}", new { port = 4001 }, user.Token)).AssertStatus(200);
        (await server.PatchAsync($"{Members}/{user.Id}", new { role = "admin" }, owner.Token)).AssertStatus(200);
        (await server.PatchAsync($"{Members}/{user.Id}", new { role = "root" }, owner.Token)).AssertError(400, "validation_failed");
        (await server.PatchAsync($"{Members}/{Guid.CreateVersion7()}", new { role = "viewer" }, owner.Token)).AssertError(404, "not_found");
    }

    [Fact]
    public async Task LastOwner_CannotBeDemotedOrLeave_Returns409()
    {
        (await server.PatchAsync($"{Members}/{owner.Id}", new { role = "admin" }, owner.Token)).AssertError(409, "conflict");
        (await server.DeleteAsync($"{Members}/{owner.Id}", owner.Token)).AssertError(409, "conflict");
        Assert.Equal("owner", await RoleOfAsync(owner));
    }

    [Fact]
    public async Task SecondOwner_LetsTheFirstStepDownAndLeave()
    {
        var successor = await MemberAsync("admin");
        (await server.PatchAsync($"{Members}/{successor.Id}", new { role = "owner" }, owner.Token)).AssertStatus(200);

        (await server.PatchAsync($"{Members}/{owner.Id}", new { role = "admin" }, owner.Token)).AssertStatus(200);
        (await server.PatchAsync($"{Members}/{owner.Id}", new { role = "owner" }, owner.Token)).AssertError(403, "forbidden");
        (await server.DeleteAsync($"{Members}/{owner.Id}", owner.Token)).AssertStatus(204);

        (await server.GetAsync($"/api/v1/workspaces/{team}", owner.Token)).AssertError(404, "not_found");
        (await server.DeleteAsync($"{Members}/{successor.Id}", successor.Token)).AssertError(409, "conflict");
    }

    [Fact]
    public async Task Member_MayRemoveThemself_Returns204()
    {
        var viewer = await MemberAsync("viewer");
        var other = await MemberAsync("developer");

        (await server.DeleteAsync($"{Members}/{other.Id}", viewer.Token)).AssertError(403, "forbidden");
        (await server.DeleteAsync($"{Members}/{viewer.Id}", viewer.Token)).AssertStatus(204);

        (await server.GetAsync($"/api/v1/workspaces/{team}", viewer.Token)).AssertError(404, "not_found");
        (await server.DeleteAsync($"{Members}/{viewer.Id}", owner.Token)).AssertError(404, "not_found");
    }

    [Fact]
    public async Task Remove_RevokesTheKeysTheMemberCreatedThere()
    {
        var adminMember = await MemberAsync("admin");
        var teamKey = await server.KeyAsync(adminMember.Token, extra: new { workspace_id = team });
        var personalKey = await server.KeyAsync(adminMember.Token);
        var ownerKey = await server.KeyAsync(owner.Token, extra: new { workspace_id = team });
        (await server.GetAsync("/api/v1/projects", teamKey)).AssertStatus(200);

        (await server.DeleteAsync($"{Members}/{adminMember.Id}", owner.Token)).AssertStatus(204);

        (await server.GetAsync("/api/v1/projects", teamKey)).AssertError(401, "unauthenticated");
        (await server.GetAsync("/api/v1/projects", personalKey)).AssertStatus(200);
        (await server.GetAsync("/api/v1/projects", ownerKey)).AssertStatus(200);
        Assert.Single((await server.GetAsync($"/api/v1/api-keys?workspace_id={team}", owner.Token)).Ids());
    }

    [Fact]
    public async Task DemoteBelowAdmin_RevokesTheKeysTheMemberCreatedThere()
    {
        var adminMember = await MemberAsync("admin");
        var teamKey = await server.KeyAsync(adminMember.Token, extra: new { workspace_id = team });
        (await server.GetAsync("/api/v1/projects", teamKey)).AssertStatus(200);

        (await server.PatchAsync($"{Members}/{adminMember.Id}", new { role = "developer" }, owner.Token)).AssertStatus(200);

        (await server.GetAsync("/api/v1/projects", teamKey)).AssertError(401, "unauthenticated");
    }

    [Fact]
    public async Task List_ShowsEveryMemberWithRole_Paged()
    {
        var developer = await MemberAsync("developer");
        var viewer = await MemberAsync("viewer");

        var members = (await server.GetAsync(Members, viewer.Token)).AssertStatus(200).Json;
        Assert.Equal(3, members["data"]!.AsArray().Count);
        Assert.Null(members["next_cursor"]);
        Assert.Equal("developer", await RoleOfAsync(developer));
        Assert.Equal("owner", await RoleOfAsync(owner));
        var page = (await server.GetAsync($"{Members}?limit=2", owner.Token)).AssertStatus(200).Json;
        Assert.Equal([viewer.Id, developer.Id], page["data"]!.AsArray().Select(m => m!["user_id"]!.GetValue<string>()));
        var rest = (await server.GetAsync($"{Members}?limit=2&cursor={page["next_cursor"]!.GetValue<string>()}", owner.Token)).AssertStatus(200).Json;
        Assert.Equal(owner.Id, Assert.Single(rest["data"]!.AsArray())!["user_id"]!.GetValue<string>());
    }
}
