using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Hosting;

public sealed class IdempotencyTests : IAsyncLifetime
{
    private SlipwayServer server = null!;

    public async Task InitializeAsync() => server = await SlipwayServer.StartAsync();

    public async Task DisposeAsync() => await server.DisposeAsync();

    private Task<ApiResponse> CreateAsync(TestUser user, string key, string name) => server.SendAsync(HttpMethod.Post, "/api/v1/projects",
        new { name, repo_url = "https://example.com/a.git" }, user.Token, new Dictionary<string, string> { ["Idempotency-Key"] = key });

    [Fact]
    public async Task Retry_WithSameKeyAndBody_ReplaysByteForByte_AndCreatesOnce()
    {
        var user = await server.RegisterUserAsync();
        var first = (await CreateAsync(user, "k-1", "idem-app")).AssertStatus(201);
        var second = (await CreateAsync(user, "k-1", "idem-app")).AssertStatus(201);

        Assert.Equal(first.Body, second.Body);
        Assert.Equal("true", second.Header("Idempotent-Replayed"));
        Assert.Equal(first.Header("Location"), second.Header("Location"));
        var list = (await server.GetAsync("/api/v1/projects", user.Token)).AssertStatus(200).Json;
        Assert.Single(list["data"]!.AsArray());
    }

    [Fact]
    public async Task SameKey_WithDifferentBody_Returns409IdempotencyConflict()
    {
        var user = await server.RegisterUserAsync();
        (await CreateAsync(user, "k-2", "idem-one")).AssertStatus(201);
        (await CreateAsync(user, "k-2", "idem-two")).AssertError(409, "idempotency_conflict");
    }

    [Fact]
    public async Task FailedFirstAttempt_IsReplayedToo()
    {
        var user = await server.RegisterUserAsync();
        var first = await CreateAsync(user, "k-3", "Not-Valid");
        first.AssertError(400, "validation_failed");
        var second = await CreateAsync(user, "k-3", "Not-Valid");
        Assert.Equal(first.Body, second.Body);
    }

    [Fact]
    public async Task ConcurrentRetries_WithOneKey_RunTheRequestOnce()
    {
        var user = await server.RegisterUserAsync();
        var responses = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => CreateAsync(user, "k-race", "idem-race")));

        Assert.All(responses, r => Assert.True(r.Status == 201 || r.AssertError(409, "idempotency_conflict") == "idempotency_conflict"));
        Assert.Single(responses.Where(r => r.Status == 201).Select(r => r.Json["id"]!.GetValue<string>()).Distinct());
        var list = (await server.GetAsync("/api/v1/projects", user.Token)).AssertStatus(200).Json["data"]!.AsArray();
        Assert.Single(list);
        var retry = (await CreateAsync(user, "k-race", "idem-race")).AssertStatus(201);
        Assert.Equal(list[0]!["id"]!.GetValue<string>(), retry.Json["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task SameKey_FromAnotherCaller_IsIndependent()
    {
        var alice = await server.RegisterUserAsync();
        var bob = await server.RegisterUserAsync();
        (await CreateAsync(alice, "shared", "idem-alice")).AssertStatus(201);
        var bobs = (await CreateAsync(bob, "shared", "idem-bob")).AssertStatus(201);
        Assert.Equal("idem-bob", bobs.Json["name"]!.GetValue<string>());
    }
}

public sealed class IdempotentSecretsTests : IAsyncLifetime
{
    private SlipwayServer server = null!;

    public async Task InitializeAsync() => server = await SlipwayServer.StartAsync();

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task ReplayedKeyCreation_ReturnsSameKey_ButStoresItSealed()
    {
        var user = await server.RegisterUserAsync();
        var headers = new Dictionary<string, string> { ["Idempotency-Key"] = "mint-1" };
        var body = new { name = "ci", scopes = new[] { "projects:read" } };
        var first = (await server.SendAsync(HttpMethod.Post, "/api/v1/api-keys", body, user.Token, headers)).AssertStatus(201);
        var second = (await server.SendAsync(HttpMethod.Post, "/api/v1/api-keys", body, user.Token, headers)).AssertStatus(201);
        var key = first.Json["key"]!.GetValue<string>();
        Assert.Equal(key, second.Json["key"]!.GetValue<string>());
        (await server.GetAsync("/api/v1/projects", key)).AssertStatus(200);

        if (!server.IsPostgres)
        {
            var bytes = Directory.GetFiles(server.DataDirectory, "slipway.db*").SelectMany(File.ReadAllBytes).ToArray();
            Assert.Equal(-1, bytes.AsSpan().IndexOf(System.Text.Encoding.UTF8.GetBytes(key)));
        }
    }
}
