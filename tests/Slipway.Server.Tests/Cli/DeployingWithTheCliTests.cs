using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Cli;

/// <summary>The <c>slipway</c> binary against a real server: sign in, link, deploy a local repository, follow, roll back.</summary>
public sealed class DeployingWithTheCliTests : IAsyncLifetime
{
    private static readonly TimeSpan Deploy = TimeSpan.FromSeconds(120);
    private static readonly string[] Shown = ["▸ queued", "▸ clone", "▸ build", "▸ release", "▸ health", "▸ live", "Live in"];
    private SlipwayServer server = null!;
    private TestUser user = null!;
    private GitRepo repo = null!;
    private CliRunner cli = null!;

    public async Task InitializeAsync()
    {
        server = await SlipwayServer.StartAsync(EngineSettings.Fast);
        user = await server.RegisterUserAsync();
        repo = GitRepo.Create();
        cli = CliRunner.Create();
    }

    public async Task DisposeAsync()
    {
        await server.DisposeAsync();
        repo.Dispose();
        cli.Dispose();
    }

    private static Dictionary<string, string> NodeApp(string version, string build = "echo compiling-the-app && echo built > build.txt")
    {
        var files = SampleApps.Node(version, buildScript: null);
        files["build.sh"] = build + "\n";
        return files;
    }

    private async Task LoginAndLinkAsync(string project)
    {
        await server.CreateProjectAsync(user.Token, project, new { repo_url = repo.BarePath, build_command = "sh build.sh", start_command = "node server.js" });
        (await cli.RunAsync(["login", "--url", server.BaseAddress.ToString(), "--email", user.Email], user.Password + "\n")).AssertSuccess();
        (await cli.RunAsync("link", project)).AssertSuccess();
    }

    [Fact]
    public async Task LoginLinkDeploy_ShowsEveryPhaseAndTheBuildLog_ThenFollowsAndRollsBack()
    {
        repo.Commit("v1", NodeApp("v1"));
        await LoginAndLinkAsync("cli-story");

        var credentials = Path.Combine(cli.ConfigDirectory, "credentials.json");
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(credentials));
        Assert.DoesNotContain(user.Password, await File.ReadAllTextAsync(credentials));
        Assert.Contains(user.Email, (await cli.RunAsync("whoami")).AssertSuccess().Stdout);

        var set = (await cli.RunAsync(["env", "set", "GREETING"], "s3cret-from-stdin\n")).AssertSuccess();
        Assert.DoesNotContain("s3cret-from-stdin", set.Stdout + set.Stderr);
        var listed = (await cli.RunAsync("env", "ls")).AssertSuccess();
        Assert.Contains("GREETING", listed.Stdout);
        Assert.DoesNotContain("s3cret-from-stdin", listed.Stdout);

        var first = (await cli.RunAsync(["deploy"], timeout: Deploy)).AssertSuccess();
        var phases = first.Stdout.Split('\n').Where(l => l.StartsWith('▸')).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]).ToList();
        Assert.Equal(["queued", "clone", "build", "release", "health", "live"], phases);
        Assert.Matches(@"▸ build +\d+\.\ds", first.Stdout);
        Assert.Contains("│ compiling-the-app", first.Stdout);
        Assert.Contains("Live in", first.Stdout);
        Assert.Contains("http://cli-story.localhost", first.Stdout);
        Assert.DoesNotContain("\u001b[", first.Stdout);
        Assert.Equal("v1", await server.RouterGetStringAsync("cli-story.localhost", "/"));
        Assert.Contains("s3cret-from-stdin", await server.RouterGetStringAsync("cli-story.localhost", "/env"));

        repo.Commit("v2", NodeApp("v2"));
        var queued = (await cli.RunAsync("deploy", "--no-wait", "--json")).AssertSuccess().Json;
        Assert.Equal("queued", queued["status"]!.GetValue<string>());
        var follow = (await cli.RunAsync(["logs", "-f"], timeout: Deploy)).AssertSuccess();
        Assert.Contains("compiling-the-app", follow.Stdout);
        Assert.Contains("-- deployment ready", follow.Stdout);
        Assert.Equal("v2", await server.RouterGetStringAsync("cli-story.localhost", "/"));

        var rollback = (await cli.RunAsync(["rollback"], timeout: Deploy)).AssertSuccess();
        Assert.Contains("Live in", rollback.Stdout);
        Assert.DoesNotContain("▸ build", rollback.Stdout);
        Assert.Equal("v1", await server.RouterGetStringAsync("cli-story.localhost", "/"));

        var status = (await cli.RunAsync("status", "--json")).AssertSuccess().Json;
        Assert.Equal("running", status["project"]!["live_status"]!.GetValue<string>());
        Assert.Equal("rollback", status["deployments"]![0]!["trigger"]!.GetValue<string>());
        Assert.Contains("rollback", (await cli.RunAsync("ps")).AssertSuccess().Stdout);
    }

    [Fact]
    public async Task FailingBuild_ExitsNonZero_WithTheDeploymentsError()
    {
        repo.Commit("broken", NodeApp("broken", "echo about-to-fail; exit 7"));
        await LoginAndLinkAsync("cli-fails");

        var result = await cli.RunAsync(["deploy"], timeout: Deploy);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("│ about-to-fail", result.Stdout);
        Assert.Contains("failed: The build command exited with code 7", result.Stderr);
        Assert.DoesNotContain("▸ live", result.Stdout);
    }

    [Fact]
    public async Task DeployInATerminal_ShowsThePhasesInColour()
    {
        repo.Commit("v1", NodeApp("v1"));
        await LoginAndLinkAsync("cli-tty");
        var socket = "slipway-test-" + Guid.NewGuid().ToString("N")[..8];
        var command = $"cd '{cli.WorkingDirectory}' && SLIPWAY_CONFIG_DIR='{cli.ConfigDirectory}' dotnet '{CliRunner.Binary}' deploy; echo \"EXIT=$?\"; sleep 120";
        await Tmux(socket, "new-session", "-d", "-s", "deploy", "-x", "150", "-y", "60", command);
        try
        {
            var pane = "";
            var deadline = DateTime.UtcNow + Deploy;
            while (!pane.Contains("EXIT=", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(250);
                pane = await Tmux(socket, "capture-pane", "-p", "-e", "-S", "-", "-t", "deploy");
            }

            Assert.True(pane.Contains("EXIT=0", StringComparison.Ordinal), pane);
            // The text as tmux renders it, without the escape sequences of the colours (-e above).
            var plain = await Tmux(socket, "capture-pane", "-p", "-S", "-", "-t", "deploy");
            var order = Shown.Select(p => plain.IndexOf(p, StringComparison.Ordinal)).ToList();
            Assert.True(order.All(i => i >= 0), $"{string.Join(", ", order)}\n{plain}");
            Assert.Equal(order.Order().ToList(), order);
            Assert.Contains("│ compiling-the-app", plain);
            Assert.Contains("\u001b[", pane);
        }
        finally
        {
            await Tmux(socket, "kill-server");
        }
    }

    private static async Task<string> Tmux(string socket, params string[] args)
    {
        var info = new System.Diagnostics.ProcessStartInfo("tmux") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-L");
        info.ArgumentList.Add(socket);
        foreach (var arg in args) info.ArgumentList.Add(arg);
        info.Environment.Remove("TMUX");
        using var process = System.Diagnostics.Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(process.ExitCode == 0 || args[0] == "kill-server", $"tmux {string.Join(' ', args)}: {await error}");
        return await output;
    }
}
