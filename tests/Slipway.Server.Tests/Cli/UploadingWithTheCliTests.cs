using Slipway.Server.Tests.Support;
using Slipway.Server.Tests.Uploads;

namespace Slipway.Server.Tests.Cli;

/// <summary>
/// The <c>slipway</c> binary deploying the current directory as an upload, and driving a running deployment: redeploy,
/// cancel, and the live app's own output.
/// </summary>
public sealed class UploadingWithTheCliTests : IAsyncLifetime
{
    private static readonly TimeSpan Deploy = TimeSpan.FromSeconds(120);
    private SlipwayServer server = null!;
    private TestUser user = null!;
    private CliRunner cli = null!;

    public async Task InitializeAsync()
    {
        server = await SlipwayServer.StartAsync(EngineSettings.Fast);
        user = await server.RegisterUserAsync();
        cli = CliRunner.Create();
        (await cli.RunAsync(["login", "--url", server.BaseAddress.ToString(), "--email", user.Email], user.Password + "\n")).AssertSuccess();
    }

    public async Task DisposeAsync()
    {
        await server.DisposeAsync();
        cli.Dispose();
    }

    /// <summary>A Node app that logs a greeting at start; its build proves what the archive left out.</summary>
    private void WriteApp(string version)
    {
        var files = SampleApps.Node(version, buildScript: null);
        files["server.js"] = "console.log('hello-from-the-app " + version + "');\n" + files["server.js"];
        files["build.sh"] = "for f in .git node_modules secret.env logs; do if [ -e \"$f\" ]; then echo \"leaked $f\"; exit 9; fi; done; echo clean-tree\n";
        files[".slipwayignore"] = "# local only\nsecret.env\nlogs/\n";
        files["secret.env"] = "TOKEN=do-not-upload\n";
        files["logs/today.log"] = "noise\n";
        files["node_modules/left-pad/index.js"] = "module.exports = 1;\n";
        files[".git/HEAD"] = "ref: refs/heads/main\n";
        foreach (var (path, content) in files)
        {
            var full = Path.Combine(cli.WorkingDirectory, path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllText(full, content);
        }
    }

    [Fact]
    public async Task DeployUpload_PacksTheDirectoryWithoutIgnoredFiles_AndGoesLive()
    {
        await server.UploadProjectAsync(user.Token, "cli-upload", new { build_command = "sh build.sh", start_command = "node server.js" });
        (await cli.RunAsync("link", "cli-upload")).AssertSuccess();
        WriteApp("u1");

        var deployed = (await cli.RunAsync(["deploy", "--upload"], timeout: Deploy)).AssertSuccess();

        Assert.Contains("Uploading ", deployed.Stdout);
        var phases = deployed.Stdout.Split('\n').Where(l => l.StartsWith('▸')).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]).ToList();
        Assert.Equal(["queued", "source", "build", "release", "health", "live"], phases);
        Assert.Contains("│ clean-tree", deployed.Stdout);
        Assert.Contains("Live in", deployed.Stdout);
        Assert.Equal("u1", await server.RouterGetStringAsync("cli-upload.localhost", "/"));
        var status = (await cli.RunAsync("status", "--json")).AssertSuccess().Json;
        Assert.Equal("upload", status["deployments"]![0]!["trigger"]!.GetValue<string>());
        Assert.Equal("running", status["project"]!["live_status"]!.GetValue<string>());
    }

    [Fact]
    public async Task DeployUpload_WithManualApproval_SaysSoAndStops()
    {
        await server.UploadProjectAsync(user.Token, "cli-reviewed", new { build_command = "sh build.sh", start_command = "node server.js", upload_approval = "manual" });
        (await cli.RunAsync("link", "cli-reviewed")).AssertSuccess();
        WriteApp("r1");

        var result = await cli.RunAsync(["deploy", "--upload"], timeout: Deploy);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("waiting for approval", result.Stderr);
        Assert.Contains("upload_approval is manual", result.Stderr);
        var uploads = (await server.GetAsync("/api/v1/projects/cli-reviewed/uploads", user.Token)).AssertStatus(200).Json["data"]!.AsArray();
        Assert.Equal("pending_approval", Assert.Single(uploads)!["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task LogsRuntime_ShowsTheAppsOwnOutput_Redeploy_GoesLiveAgain_AndCancel_StopsARunningDeployment()
    {
        using var repo = GitRepo.Create();
        var files = SampleApps.Node("g1", buildScript: null);
        files["server.js"] = "console.log('hello-from-the-app g1');\n" + files["server.js"];
        files["build.sh"] = "echo building-g1\n";
        repo.Commit("g1", files);
        await server.CreateProjectAsync(user.Token, "cli-runtime", new { repo_url = repo.BarePath, build_command = "sh build.sh", start_command = "node server.js" });
        (await cli.RunAsync("link", "cli-runtime")).AssertSuccess();
        (await cli.RunAsync(["deploy"], timeout: Deploy)).AssertSuccess();

        var runtime = (await cli.RunAsync("logs", "--runtime")).AssertSuccess();
        Assert.Contains("hello-from-the-app g1", runtime.Stdout);
        Assert.DoesNotContain("building-g1", runtime.Stdout);

        var redeployed = (await cli.RunAsync(["redeploy"], timeout: Deploy)).AssertSuccess();
        Assert.Contains("│ building-g1", redeployed.Stdout);
        Assert.Contains("Live in", redeployed.Stdout);
        var status = (await cli.RunAsync("status", "--json")).AssertSuccess().Json;
        Assert.Equal("redeploy", status["deployments"]![0]!["trigger"]!.GetValue<string>());
        Assert.Equal(status["deployments"]![0]!["id"]!.GetValue<string>(), status["project"]!["live_deployment_id"]!.GetValue<string>());

        files["build.sh"] = "echo slow-build-started; sleep 60\n";
        repo.Commit("slow", files);
        var queued = (await cli.RunAsync("deploy", "--no-wait", "--json")).AssertSuccess().Json;
        var id = queued["id"]!.GetValue<string>();
        await server.WaitForStatusAsync(user.Token, id, Deploy, "building");
        // Canceled once the build command runs (building starts with the clone).
        await Deployments.DeployingAppsTests.WaitUntilAsync(async () =>
            (await server.GetAsync($"/api/v1/logs/{id}?limit=1000", user.Token)).Body.Contains("slow-build-started", StringComparison.Ordinal), Deploy);
        var canceled = (await cli.RunAsync("cancel", id)).AssertSuccess();
        Assert.Contains(id, canceled.Stdout);
        await server.WaitForStatusAsync(user.Token, id, Deploy, "canceled");
        var logs = (await cli.RunAsync("logs", id)).AssertSuccess();
        Assert.Contains("slow-build-started", logs.Stdout);
        Assert.Equal("g1", await server.RouterGetStringAsync("cli-runtime.localhost", "/"));
    }
}
