using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Logs;

/// <summary>A build triggered in the reference documents' form and followed with <c>curl -N …?follow=true&amp;format=text</c>.</summary>
public sealed class FollowingWithCurlTests : IAsyncLifetime
{
    private SlipwayServer server = null!;
    private GitRepo repo = null!;

    public async Task InitializeAsync()
    {
        server = await SlipwayServer.StartAsync(EngineSettings.Fast);
        repo = GitRepo.Create();
    }

    public async Task DisposeAsync()
    {
        await server.DisposeAsync();
        repo.Dispose();
    }

    [Fact]
    public async Task BuildSettingTrigger_AnswersPending_AndTheTextFollowEndsWithTheStatus()
    {
        var user = await server.RegisterUserAsync();
        repo.Commit("broken", new Dictionary<string, string> { ["build.sh"] = "echo \"compiling it's <parts> & more\"; exit 4\n" });
        var project = await server.CreateProjectAsync(user.Token, "curl-app", new { repo_url = repo.BarePath, build_command = "sh build.sh", start_command = "true" });
        var production = project["environments"]![0]!["id"]!.GetValue<string>();

        var trigger = (await server.PostAsync($"/api/v1/projects/curl-app/build-settings/{production}/trigger", new { }, user.Token)).AssertStatus(201).Json;
        Assert.Equal("pending", trigger["status"]!.GetValue<string>());
        var build = (await server.GetAsync($"/api/v1/builds/{trigger["build_id"]}", user.Token)).AssertStatus(200).Json;
        var deploymentId = build["deployment_id"]?.GetValue<string>() ?? trigger["deployment_id"]!.GetValue<string>();

        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/logs/{deploymentId}?follow=true&format=text");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", user.Token);
        using var response = await server.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/plain", response.Content.Headers.ContentType!.MediaType);
        var text = await response.Content.ReadAsStringAsync().WaitAsync(TimeSpan.FromSeconds(90));
        var lines = text.TrimEnd('\n').Split('\n');

        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z build   compiling it's <parts> & more$", Assert.Single(lines, l => l.Contains(" build   compiling", StringComparison.Ordinal)));
        Assert.Contains(lines, l => l.EndsWith("Z system  The build command exited with code 4.", StringComparison.Ordinal));
        Assert.Equal("-- deployment failed", lines[^1]);
        Assert.DoesNotContain("{", text);
    }

    [Fact]
    public async Task TextFormat_WithoutFollow_IsRefused()
    {
        var user = await server.RegisterUserAsync();
        var response = await server.GetAsync("/api/v1/logs/00000000-0000-7000-8000-000000000000?format=text", user.Token);

        response.AssertError(400, "validation_failed");
        Assert.Equal("format", response.Json["error"]!["details"]![0]!["field"]!.GetValue<string>());
    }
}
