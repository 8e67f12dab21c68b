using System.Net.Http.Headers;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Slipway.Server.Auth;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Hosting;

public sealed class ApiConventionsTests : IAsyncLifetime
{
    private SlipwayServer server = null!;

    public async Task InitializeAsync() => server = await SlipwayServer.StartAsync(
        new Dictionary<string, string?> { ["Slipway:Api:MaxBodyBytes"] = "4096" },
        map: app => app.MapGet("/api/v1/test/boom", string () => throw new InvalidOperationException("secret path /etc/shadow"))
            .RequireScope(Scopes.ProjectsRead));

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task UnknownRoute_Returns404InErrorShape()
    {
        var response = await server.GetAsync("/api/v1/nope");
        response.AssertError(404, "not_found");
        Assert.Equal(response.Header("X-Request-Id"), response.Json["error"]!["request_id"]!.GetValue<string>());
    }

    [Fact]
    public async Task WrongMethod_Returns405InErrorShape()
    {
        var user = await server.RegisterUserAsync();
        (await server.SendAsync(HttpMethod.Put, "/api/v1/projects", new { }, user.Token)).AssertError(405, "method_not_allowed");
    }

    [Fact]
    public async Task MalformedJson_Returns400InvalidJson()
    {
        var user = await server.RegisterUserAsync();
        (await server.PostAsync("/api/v1/projects", "{\"name\": \"x\",", user.Token)).AssertError(400, "invalid_json");
        (await server.PostAsync("/api/v1/projects", "{\"name\": 12, \"repo_url\": []}", user.Token)).AssertError(400, "invalid_json");
    }

    [Fact]
    public async Task MissingBody_Returns400()
    {
        var user = await server.RegisterUserAsync();
        (await server.SendAsync(HttpMethod.Post, "/api/v1/projects", null, user.Token)).AssertError(400);
    }

    [Fact]
    public async Task JsonWithOtherContentType_Returns415()
    {
        var user = await server.RegisterUserAsync();
        var content = new StringContent("{\"name\":\"x\"}", Encoding.UTF8, "text/plain");
        (await server.SendAsync(HttpMethod.Post, "/api/v1/projects", content, user.Token)).AssertError(415, "unsupported_media_type");
    }

    [Fact]
    public async Task BodyOverLimit_Returns413()
    {
        var user = await server.RegisterUserAsync();
        var huge = "{\"name\":\"" + new string('a', 10_000) + "\"}";
        (await server.PostAsync("/api/v1/projects", huge, user.Token)).AssertError(413, "payload_too_large");
    }

    [Fact]
    public async Task UnhandledException_Returns500WithoutInternals_AndLogsRequestId()
    {
        var user = await server.RegisterUserAsync();
        var response = await server.GetAsync("/api/v1/test/boom", user.Token);
        response.AssertError(500, "internal_error");
        Assert.DoesNotContain("shadow", response.Body, StringComparison.Ordinal);
        var requestId = response.Json["error"]!["request_id"]!.GetValue<string>();
        Assert.Contains(server.Logs.Lines, l => l.Contains(requestId, StringComparison.Ordinal) && l.Contains("InvalidOperationException", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RequestId_EchoedWhenWellFormed_GeneratedOtherwise()
    {
        var echoed = await server.SendAsync(HttpMethod.Get, "/api/v1/projects", headers: new Dictionary<string, string> { ["X-Request-Id"] = "my-trace-123" });
        Assert.Equal("my-trace-123", echoed.Header("X-Request-Id"));
        Assert.Equal("my-trace-123", echoed.Json["error"]!["request_id"]!.GetValue<string>());

        var replaced = await server.SendAsync(HttpMethod.Get, "/api/v1/projects", headers: new Dictionary<string, string> { ["X-Request-Id"] = "bad id with spaces" });
        Assert.Matches("^req_[0-9a-f]{16}$", replaced.Header("X-Request-Id")!);
    }

    [Fact]
    public async Task SuccessResponses_CarryRequestId()
    {
        var user = await server.RegisterUserAsync();
        var response = (await server.GetAsync("/api/v1/projects", user.Token)).AssertStatus(200);
        Assert.Matches("^req_", response.Header("X-Request-Id")!);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("101")]
    [InlineData("abc")]
    [InlineData("-1")]
    public async Task LimitOutOfRange_Returns400(string limit)
    {
        var user = await server.RegisterUserAsync();
        var response = await server.GetAsync($"/api/v1/projects?limit={limit}", user.Token);
        response.AssertError(400, "validation_failed");
        Assert.Equal("limit", response.Json["error"]!["details"]![0]!["field"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("djE6bm90LWFuLWlk")]
    public async Task ForeignCursor_Returns400InvalidCursor(string cursor)
    {
        var user = await server.RegisterUserAsync();
        (await server.GetAsync($"/api/v1/projects?cursor={cursor}", user.Token)).AssertError(400, "invalid_cursor");
    }

    [Fact]
    public async Task NonBearerAuthorization_Returns401()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/projects");
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", "dXNlcjpwYXNz");
        using var response = await server.Http.SendAsync(request);
        Assert.Equal(401, (int)response.StatusCode);
        Assert.Contains("\"unauthenticated\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public void EveryEndpoint_DeclaresScopeOrAnonymous()
    {
        var endpoints = server.Service<Microsoft.AspNetCore.Routing.EndpointDataSource>().Endpoints;
        Assert.NotEmpty(endpoints);
        Assert.All(endpoints, e => Assert.True(
            e.Metadata.GetMetadata<RequiredScope>() is not null || e.Metadata.GetMetadata<Anonymous>() is not null, e.DisplayName));
    }
}
