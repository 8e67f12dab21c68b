using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Auth;

public sealed class SigningUpAndSigningInTests : IAsyncLifetime
{
    private SlipwayServer server = null!;

    public async Task InitializeAsync() => server = await SlipwayServer.StartAsync();

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task Register_ValidAccount_Returns201WithWorkingTokenAndUser()
    {
        var email = $"ada-{Guid.NewGuid():N}@example.test";
        var response = (await server.PostAsync("/api/v1/auth/register", new { email, name = "Ada", password = "long enough" })).AssertStatus(201);

        var user = response.Json["user"]!;
        Assert.Equal(email, user["email"]!.GetValue<string>());
        Assert.Equal("Ada", user["name"]!.GetValue<string>());
        Assert.Null(user["password_hash"]);
        Assert.DoesNotContain("long enough", response.Body, StringComparison.Ordinal);
        var me = (await server.GetAsync("/api/v1/auth/me", response.Json["token"]!.GetValue<string>())).AssertStatus(200).Json;
        Assert.Equal(user["id"]!.GetValue<string>(), me["user"]!["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task Register_SameEmailInOtherCase_Returns409()
    {
        var user = await server.RegisterUserAsync();
        var response = await server.PostAsync("/api/v1/auth/register", new { email = user.Email.ToUpperInvariant(), name = "Twin", password = "long enough" });
        response.AssertError(409, "conflict");
    }

    [Theory]
    [InlineData("email", "not-an-email")]
    [InlineData("email", "")]
    [InlineData("email", null)]
    [InlineData("name", "")]
    [InlineData("name", null)]
    [InlineData("password", "short7!")]
    [InlineData("password", null)]
    public async Task Register_InvalidField_Returns400NamingTheField(string field, string? value)
    {
        var body = new Dictionary<string, object?>
        {
            ["email"] = $"v-{Guid.NewGuid():N}@example.test", ["name"] = "Valid", ["password"] = "long enough", [field] = value,
        };
        var response = await server.PostAsync("/api/v1/auth/register", body);
        response.AssertError(400, "validation_failed");
        Assert.Contains(response.Json["error"]!["details"]!.AsArray(), d => d!["field"]!.GetValue<string>() == field);
    }

    [Fact]
    public async Task Login_RightPassword_Returns200WithToken()
    {
        var user = await server.RegisterUserAsync();
        var response = (await server.PostAsync("/api/v1/auth/login", new { email = user.Email.ToUpperInvariant(), password = user.Password })).AssertStatus(200);
        Assert.Equal(user.Id, response.Json["user"]!["id"]!.GetValue<string>());
        (await server.GetAsync("/api/v1/auth/me", response.Json["token"]!.GetValue<string>())).AssertStatus(200);
    }

    [Fact]
    public async Task Login_UnknownEmailAndWrongPassword_Return401WithTheSameMessage()
    {
        var user = await server.RegisterUserAsync();
        var wrongPassword = await server.PostAsync("/api/v1/auth/login", new { email = user.Email, password = "not the password" });
        var unknownEmail = await server.PostAsync("/api/v1/auth/login", new { email = $"nobody-{Guid.NewGuid():N}@example.test", password = "whatever1" });

        wrongPassword.AssertError(401, "unauthenticated");
        unknownEmail.AssertError(401, "unauthenticated");
        Assert.Equal(wrongPassword.Json["error"]!["message"]!.GetValue<string>(), unknownEmail.Json["error"]!["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task Me_MemberOfTwoWorkspaces_ListsBothWithRoles()
    {
        var owner = await server.RegisterUserAsync();
        var member = await server.RegisterUserAsync();
        (await server.PostAsync($"/api/v1/workspaces/{owner.WorkspaceId}/members", new { email = member.Email, role = "developer" }, owner.Token))
            .AssertStatus(201);

        var me = (await server.GetAsync("/api/v1/auth/me", member.Token)).AssertStatus(200).Json;

        Assert.Equal(member.Email, me["user"]!["email"]!.GetValue<string>());
        var workspaces = me["workspaces"]!.AsArray();
        Assert.Equal(2, workspaces.Count);
        Assert.Equal("developer", workspaces.Single(w => w!["id"]!.GetValue<string>() == owner.WorkspaceId)!["role"]!.GetValue<string>());
        Assert.Equal("owner", workspaces.Single(w => w!["id"]!.GetValue<string>() == member.WorkspaceId)!["role"]!.GetValue<string>());
    }

    [Fact]
    public async Task ChangePassword_OldTokenFailsNewTokenAndPasswordWork()
    {
        var user = await server.RegisterUserAsync();
        var response = (await server.PostAsync("/api/v1/auth/password", new { current_password = user.Password, new_password = "a brand new secret" }, user.Token))
            .AssertStatus(200);
        var newToken = response.Json["token"]!.GetValue<string>();

        (await server.GetAsync("/api/v1/auth/me", user.Token)).AssertError(401, "unauthenticated");
        (await server.GetAsync("/api/v1/auth/me", newToken)).AssertStatus(200);
        (await server.PostAsync("/api/v1/auth/login", new { email = user.Email, password = user.Password })).AssertError(401, "unauthenticated");
        (await server.PostAsync("/api/v1/auth/login", new { email = user.Email, password = "a brand new secret" })).AssertStatus(200);
    }

    [Fact]
    public async Task ChangePassword_WrongCurrentOrShortNew_Returns400AndKeepsToken()
    {
        var user = await server.RegisterUserAsync();
        (await server.PostAsync("/api/v1/auth/password", new { current_password = "wrong password", new_password = "a brand new secret" }, user.Token))
            .AssertError(400, "validation_failed");
        (await server.PostAsync("/api/v1/auth/password", new { current_password = user.Password, new_password = "short" }, user.Token))
            .AssertError(400, "validation_failed");
        (await server.GetAsync("/api/v1/auth/me", user.Token)).AssertStatus(200);
    }

    [Fact]
    public async Task Register_FirstAccountOfAFreshInstance_IsAdminAndSecondIsNot()
    {
        var first = await server.PostAsync("/api/v1/auth/register", new { email = "first@example.test", name = "First", password = "long enough" });
        var second = await server.PostAsync("/api/v1/auth/register", new { email = "second@example.test", name = "Second", password = "long enough" });

        Assert.True(first.AssertStatus(201).Json["user"]!["is_admin"]!.GetValue<bool>());
        Assert.False(second.AssertStatus(201).Json["user"]!["is_admin"]!.GetValue<bool>());
    }
}
