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
        (await server.GetAsync($"/api/v1/admin/users/{admin.Id}", user.Token)).AssertError(403, "forbidden");
        (await server.PostAsync("/api/v1/admin/users", new { email = "x@example.test", name = "X", password = "long enough" }, user.Token))
            .AssertError(403, "forbidden");
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

    [Theory]
    [InlineData("closed")]
    [InlineData("invite")]
    [InlineData("open")]
    public async Task Create_ByAdmin_MakesAnAccountThatSignsIn_UnderEveryPolicy(string policy)
    {
        await using var instance = await SlipwayServer.StartAsync(new Dictionary<string, string?> { ["Slipway:Auth:Registration"] = policy });
        var first = await instance.RegisterUserAsync();

        var created = await instance.PostAsync("/api/v1/admin/users", new { email = " Grace@Example.test ", name = "Grace", password = "long enough" }, first.Token);
        var user = created.AssertStatus(201).Json;
        Assert.Equal("Grace@Example.test", user["email"]!.GetValue<string>());
        Assert.False(user["is_admin"]!.GetValue<bool>());
        Assert.Null(user["token"]);
        Assert.Equal($"/api/v1/admin/users/{user.Id()}", created.Header("Location"));
        Assert.Equal(user.Id(), (await instance.GetAsync($"/api/v1/admin/users/{user.Id()}", first.Token)).AssertStatus(200).Json.Id());

        var token = (await instance.PostAsync("/api/v1/auth/login", new { email = "grace@example.test", password = "long enough" })).AssertStatus(200)
            .Json["token"]!.GetValue<string>();
        var me = (await instance.GetAsync("/api/v1/auth/me", token)).AssertStatus(200).Json;
        Assert.Equal(user.Id(), me["user"]!.Id());
        Assert.Single(me["workspaces"]!.AsArray(), w => w!["is_personal"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Create_TakenEmailOrInvalidInput_Returns409Or400()
    {
        var user = await server.RegisterUserAsync();

        (await server.PostAsync("/api/v1/admin/users", new { email = user.Email.ToUpperInvariant(), name = "Twin", password = "long enough" }, admin.Token))
            .AssertError(409, "conflict");
        var invalid = await server.PostAsync("/api/v1/admin/users", new { email = "nope", name = "", password = "short" }, admin.Token);
        invalid.AssertError(400, "validation_failed");
        Assert.Equal(["email", "name", "password"], invalid.Json["error"]!["details"]!.AsArray().Select(d => d!["field"]!.GetValue<string>()).Order());
        (await server.GetAsync($"/api/v1/admin/users/{Guid.CreateVersion7()}", admin.Token)).AssertError(404, "not_found");
    }

    [Fact]
    public async Task Disable_WhileTheKeyAndTokenAreInUse_RefusesThemFromTheNextRequest()
    {
        var user = await server.RegisterUserAsync();
        var key = (await server.CreateKeyAsync(user.Token))["key"]!.GetValue<string>();
        using var stop = new CancellationTokenSource();
        // Requests that keep loading the key and the user while the administrator flips the account.
        var load = Enumerable.Range(0, 4).Select(i => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested) await server.GetAsync(i % 2 == 0 ? "/api/v1/workspaces" : "/api/v1/auth/me", i % 2 == 0 ? key : user.Token);
        })).ToList();
        try
        {
            for (var round = 0; round < 40; round++)
            {
                (await server.PostAsync($"/api/v1/admin/users/{user.Id}/enable", new { }, admin.Token)).AssertStatus(200);
                (await server.PostAsync($"/api/v1/admin/users/{user.Id}/disable", new { }, admin.Token)).AssertStatus(200);
                (await server.GetAsync("/api/v1/workspaces", key)).AssertError(401, "unauthenticated");
                (await server.GetAsync("/api/v1/auth/me", user.Token)).AssertError(401, "unauthenticated");
            }
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(load);
        }
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
