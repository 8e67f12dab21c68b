using Slipway.Server.Tests.ApiKeys;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Auth;

public sealed class AdministeringUsersTests : IAsyncLifetime
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
    public async Task List_ByAdmin_PagesNewestFirst()
    {
        var second = await server.RegisterUserAsync();
        var third = await server.RegisterUserAsync();

        var page = (await server.GetAsync("/api/v1/admin/users?limit=2", admin.Token)).AssertStatus(200).Json;
        Assert.Equal([third.Id, second.Id], page["data"]!.AsArray().Select(u => u!.Id()));
        var cursor = page["next_cursor"]!.GetValue<string>();
        var rest = (await server.GetAsync($"/api/v1/admin/users?limit=2&cursor={cursor}", admin.Token)).AssertStatus(200).Json;
        Assert.Equal([admin.Id], rest["data"]!.AsArray().Select(u => u!.Id()));
        Assert.Null(rest["next_cursor"]);
        Assert.True(rest["data"]![0]!["is_admin"]!.GetValue<bool>());
    }

    [Fact]
    public async Task AdminEndpoints_ByNonAdmin_Return403()
    {
        var user = await server.RegisterUserAsync();

        (await server.GetAsync("/api/v1/admin/users", user.Token)).AssertError(403, "forbidden");
        (await server.PostAsync($"/api/v1/admin/users/{admin.Id}/disable", new { }, user.Token)).AssertError(403, "forbidden");
        (await server.PostAsync($"/api/v1/admin/users/{user.Id}/enable", new { }, user.Token)).AssertError(403, "forbidden");
    }

    [Fact]
    public async Task Disable_RefusesTokensKeysAndLoginAtOnce_EnableGivesThemBack()
    {
        var user = await server.RegisterUserAsync();
        var key = (await server.CreateKeyAsync(user.Token))["key"]!.GetValue<string>();
        (await server.GetAsync("/api/v1/auth/me", user.Token)).AssertStatus(200);
        (await server.GetAsync("/api/v1/workspaces", key)).AssertStatus(200);

        var disabled = (await server.PostAsync($"/api/v1/admin/users/{user.Id}/disable", new { }, admin.Token)).AssertStatus(200).Json;
        Assert.True(disabled["disabled"]!.GetValue<bool>());
        (await server.GetAsync("/api/v1/auth/me", user.Token)).AssertError(401, "unauthenticated");
        (await server.GetAsync("/api/v1/workspaces", key)).AssertError(401, "unauthenticated");
        (await server.PostAsync("/api/v1/auth/login", new { email = user.Email, password = user.Password })).AssertError(403, "forbidden");

        (await server.PostAsync($"/api/v1/admin/users/{user.Id}/enable", new { }, admin.Token)).AssertStatus(200);
        (await server.GetAsync("/api/v1/auth/me", user.Token)).AssertStatus(200);
        (await server.GetAsync("/api/v1/workspaces", key)).AssertStatus(200);
        (await server.PostAsync("/api/v1/auth/login", new { email = user.Email, password = user.Password })).AssertStatus(200);
    }

    [Fact]
    public async Task Disable_Self_Returns403AndUnknownUser_Returns404()
    {
        (await server.PostAsync($"/api/v1/admin/users/{admin.Id}/disable", new { }, admin.Token)).AssertError(403, "forbidden");
        (await server.PostAsync($"/api/v1/admin/users/{Guid.CreateVersion7()}/disable", new { }, admin.Token)).AssertError(404, "not_found");
    }

    [Fact]
    public async Task Disable_WrongPassword_StillAnswers401()
    {
        var user = await server.RegisterUserAsync();
        await server.PostAsync($"/api/v1/admin/users/{user.Id}/disable", new { }, admin.Token);

        (await server.PostAsync("/api/v1/auth/login", new { email = user.Email, password = "wrong password" })).AssertError(401, "unauthenticated");
    }
}
