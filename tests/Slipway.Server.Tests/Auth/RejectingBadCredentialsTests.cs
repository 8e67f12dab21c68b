using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Slipway.Server.Tests.ApiKeys;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Auth;

public sealed class RejectingBadCredentialsTests : IAsyncLifetime
{
    private readonly ManualTimeProvider clock = new();
    private SlipwayServer server = null!;

    public async Task InitializeAsync() => server = await SlipwayServer.StartAsync(services: s => s.AddSingleton<TimeProvider>(clock));

    public async Task DisposeAsync() => await server.DisposeAsync();

    private byte[] RealSecret => Convert.FromBase64String(File.ReadAllText(Path.Combine(server.DataDirectory, "jwt.key")).Trim());

    private static string Mint(byte[] secret, string userId, DateTimeOffset expires, string version = "0") =>
        new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "slipway",
            Audience = "slipway",
            IssuedAt = expires.UtcDateTime.AddHours(-1),
            NotBefore = expires.UtcDateTime.AddHours(-1),
            Expires = expires.UtcDateTime,
            Claims = new Dictionary<string, object> { ["sub"] = userId, ["ver"] = version },
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(secret), SecurityAlgorithms.HmacSha256),
        });

    private Task<ApiResponse> MeWithHeader(string authorization) =>
        server.SendAsync(HttpMethod.Get, "/api/v1/projects", headers: new Dictionary<string, string> { ["Authorization"] = authorization });

    [Fact]
    public async Task NoToken_Returns401()
    {
        (await server.GetAsync("/api/v1/projects")).AssertError(401, "unauthenticated");
        (await server.GetAsync("/api/v1/auth/me")).AssertError(401, "unauthenticated");
        (await server.GetAsync("/api/v1/api-keys")).AssertError(401, "unauthenticated");
    }

    [Theory]
    [InlineData("Basic dXNlcjpwYXNz")]
    [InlineData("Bearer")]
    [InlineData("Bearertoken")]
    [InlineData("token abc")]
    public async Task MalformedHeader_Returns401(string authorization) =>
        (await MeWithHeader(authorization)).AssertError(401, "unauthenticated");

    [Theory]
    [InlineData("garbage")]
    [InlineData("a.b.c")]
    [InlineData("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")]
    [InlineData("slp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("slp_short")]
    public async Task GarbageToken_Returns401(string token) =>
        (await server.GetAsync("/api/v1/projects", token)).AssertError(401, "unauthenticated");

    [Fact]
    public async Task JwtSignedWithAnotherSecret_Returns401()
    {
        var user = await server.RegisterUserAsync();
        var forged = Mint(RandomNumberGenerator.GetBytes(64), user.Id, clock.GetUtcNow().AddHours(1));
        (await server.GetAsync("/api/v1/auth/me", forged)).AssertError(401, "unauthenticated");
    }

    [Fact]
    public async Task ExpiredJwtWithTheRealSecret_Returns401WhileAFreshOneWorks()
    {
        var user = await server.RegisterUserAsync();
        var fresh = Mint(RealSecret, user.Id, clock.GetUtcNow().AddHours(1));
        var expired = Mint(RealSecret, user.Id, clock.GetUtcNow().AddMinutes(-5));

        (await server.GetAsync("/api/v1/auth/me", fresh)).AssertStatus(200);
        (await server.GetAsync("/api/v1/auth/me", expired)).AssertError(401, "unauthenticated");
    }

    [Fact]
    public async Task JwtIssuedBeforePasswordChange_Returns401()
    {
        var user = await server.RegisterUserAsync();
        (await server.PostAsync("/api/v1/auth/password", new { current_password = user.Password, new_password = "another long one" }, user.Token))
            .AssertStatus(200);
        var minted = Mint(RealSecret, user.Id, clock.GetUtcNow().AddHours(1), version: "0");

        (await server.GetAsync("/api/v1/projects", user.Token)).AssertError(401, "unauthenticated");
        (await server.GetAsync("/api/v1/projects", minted)).AssertError(401, "unauthenticated");
    }

    [Fact]
    public async Task JwtForAnUnknownUser_Returns401()
    {
        await server.RegisterUserAsync();
        (await server.GetAsync("/api/v1/auth/me", Mint(RealSecret, Guid.CreateVersion7().ToString(), clock.GetUtcNow().AddHours(1))))
            .AssertError(401, "unauthenticated");
    }

    [Fact]
    public async Task RevokedKey_Returns401AtOnce()
    {
        var user = await server.RegisterUserAsync();
        var created = await server.CreateKeyAsync(user.Token);
        var key = created["key"]!.GetValue<string>();
        (await server.GetAsync("/api/v1/projects", key)).AssertStatus(200);

        (await server.DeleteAsync($"/api/v1/api-keys/{created.Id()}", user.Token)).AssertStatus(204);

        (await server.GetAsync("/api/v1/projects", key)).AssertError(401, "unauthenticated");
    }

    [Fact]
    public async Task ExpiredKey_Returns401OnceTheClockPassesItsExpiry()
    {
        var user = await server.RegisterUserAsync();
        var key = await server.KeyAsync(user.Token, extra: new { expires_at = clock.GetUtcNow().AddHours(1).ToString("O") });
        (await server.GetAsync("/api/v1/projects", key)).AssertStatus(200);

        clock.Advance(TimeSpan.FromHours(2));

        (await server.GetAsync("/api/v1/projects", key)).AssertError(401, "unauthenticated");
    }

    [Fact]
    public async Task KeyWithoutTheScope_Returns403InsufficientScope()
    {
        var user = await server.RegisterUserAsync();
        var key = await server.KeyAsync(user.Token, ["projects:read"]);

        (await server.GetAsync("/api/v1/projects", key)).AssertStatus(200);
        (await server.PostAsync("/api/v1/projects", new { name = "nope", repo_url = "https://example.com/a.git" }, key)).AssertError(403, "insufficient_scope");
        (await server.GetAsync("/api/v1/api-keys", key)).AssertError(403, "insufficient_scope");
    }

    [Fact]
    public async Task KeyOnUserOnlyEndpoint_Returns403Forbidden()
    {
        var user = await server.RegisterUserAsync();
        var key = await server.KeyAsync(user.Token);

        (await server.GetAsync("/api/v1/auth/me", key)).AssertError(403, "forbidden");
        (await server.PostAsync("/api/v1/workspaces", new { name = "Via key" }, key)).AssertError(403, "forbidden");
        (await server.GetAsync($"/api/v1/workspaces/{user.WorkspaceId}/members", key)).AssertError(403, "forbidden");
    }
}
