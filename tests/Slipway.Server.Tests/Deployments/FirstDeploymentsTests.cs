using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Deployments;

/// <summary>
/// What a newcomer's first deployments must get right (issue 13): a deployment says what it is building as soon as that
/// is known, also when it fails or is canceled.
/// </summary>
public sealed class FirstDeploymentsTests : IAsyncLifetime
{
    private static readonly TimeSpan Deploy = TimeSpan.FromSeconds(90);
    private SlipwayServer server = null!;
    private TestUser user = null!;

    public async Task InitializeAsync()
    {
        server = await SlipwayServer.StartAsync(EngineSettings.Fast);
        user = await server.RegisterUserAsync();
    }

    public async Task DisposeAsync() => await server.DisposeAsync();

    private static Dictionary<string, string> App(string version, string build)
    {
        var files = SampleApps.Node(version, buildScript: null);
        files["build.sh"] = build + "\n";
        return files;
    }

    [Fact]
    public async Task RequestedCommit_IsEchoedAtOnce_AndFailedAndCanceledDeployments_KeepTheirSha()
    {
        using var repo = GitRepo.Create();
        var failing = repo.Commit("fails", App("f", "echo about-to-fail; exit 4"));
        var slow = repo.Commit("slow", App("s", "echo slow; sleep 60"));
        var project = (await server.CreateProjectAsync(user.Token, "known-early",
            new { repo_url = repo.BarePath, build_command = "sh build.sh", start_command = "node server.js" }))["id"]!.GetValue<string>();

        var queued = (await server.PostAsync("/api/v1/deployments", new { project_id = project, commit_sha = failing }, user.Token)).AssertStatus(201).Json;
        Assert.Equal(failing, queued["commit_sha"]!.GetValue<string>());
        var failed = await server.WaitForStatusAsync(user.Token, queued["id"]!.GetValue<string>(), Deploy, "failed");
        Assert.Equal(failing, failed["commit_sha"]!.GetValue<string>());
        Assert.NotNull(failed["timings"]!["build_ms"]);

        var running = (await server.PostAsync("/api/v1/deployments", new { project_id = project, commit_sha = slow }, user.Token)).AssertStatus(201).Json;
        var id = running["id"]!.GetValue<string>();
        await server.WaitForStatusAsync(user.Token, id, Deploy, "building");
        await WaitForLogAsync(id, "slow");
        (await server.PostAsync($"/api/v1/deployments/{id}/cancel", null, user.Token)).AssertStatus(200);
        var canceled = await server.WaitForStatusAsync(user.Token, id, Deploy, "canceled");
        Assert.Equal(slow, canceled["commit_sha"]!.GetValue<string>());
    }

    private async Task WaitForLogAsync(string deploymentId, string text)
    {
        var deadline = DateTime.UtcNow + Deploy;
        while (!(await server.GetAsync($"/api/v1/logs/{deploymentId}?limit=1000", user.Token)).AssertStatus(200).Body.Contains(text, StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, $"no '{text}' in the log of {deploymentId}");
            await Task.Delay(100);
        }
    }
}
