using System.Diagnostics;
using System.Text.RegularExpressions;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Runtime.Sandbox;

/// <summary>
/// A tenant's build command and app, in real bubblewrap sandboxes, try to read what belongs to the server and to other
/// tenants: every attempt fails, the deployment log shows the denial, and the code runs as its project's own uid.
/// </summary>
public sealed partial class ConfiningTenantCodeTests : IAsyncLifetime
{
    private const string Marker = "SLIPWAY_SANDBOX_TEST_MARKER";
    private static readonly TimeSpan Deploy = TimeSpan.FromSeconds(90);
    private SlipwayServer server = null!;
    private TestUser user = null!;
    private GitRepo victimRepo = null!;
    private GitRepo attackerRepo = null!;

    public async Task InitializeAsync()
    {
        // In the server's own environment (the tests host it in this process): no sandboxed process may see it.
        Environment.SetEnvironmentVariable(Marker, "the-server-environment");
        server = await SlipwayServer.StartAsync(EngineSettings.Fast);
        user = await server.RegisterUserAsync();
        victimRepo = GitRepo.Create();
        attackerRepo = GitRepo.Create();
    }

    public async Task DisposeAsync()
    {
        await server.DisposeAsync();
        victimRepo.Dispose();
        attackerRepo.Dispose();
    }

    [Fact]
    public async Task BuildAndApp_ReachingForServerAndNeighbourFiles_AreDenied_AndTheLogShowsEachDenial()
    {
        victimRepo.Commit("victim", SampleApps.Node("victim"));
        var victimProject = (await server.CreateProjectAsync(user.Token, "victim", new { repo_url = victimRepo.BarePath }))["id"]!.GetValue<string>();
        var victim = await server.WaitForStatusAsync(user.Token, (await server.DeployAsync(user.Token, victimProject))["id"]!.GetValue<string>(), Deploy, "ready");
        var victimRelease = Path.Combine(server.DataDirectory, "releases", victim["id"]!.GetValue<string>());
        Assert.True(File.Exists(Path.Combine(victimRelease, "server.js")));

        var targets = new[]
        {
            Path.Combine(server.DataDirectory, "master.key"),
            Path.Combine(server.DataDirectory, "jwt.key"),
            Path.Combine(server.DataDirectory, "slipway.db"),
            Path.Combine(victimRelease, "server.js"),
            $"/proc/{Environment.ProcessId}/environ",
            "../../master.key",
        };
        var files = SampleApps.Node("attacker");
        files["probe.sh"] = Probe(targets, server.DataDirectory);
        attackerRepo.Commit("attacker", files);
        var attackerProject = (await server.CreateProjectAsync(user.Token, "attacker", new
        {
            repo_url = attackerRepo.BarePath, build_command = "sh probe.sh build", start_command = "sh probe.sh app && exec node server.js",
        }))["id"]!.GetValue<string>();
        var attacker = await server.WaitForStatusAsync(user.Token, (await server.DeployAsync(user.Token, attackerProject))["id"]!.GetValue<string>(), Deploy, "ready");
        Assert.Equal("attacker", await server.RouterGetStringAsync("attacker.localhost", "/"));

        var lines = await LogLinesAsync(attacker["id"]!.GetValue<string>(), "app probe done");
        foreach (var (phase, stream) in new[] { ("build", "build"), ("app", "runtime") })
        {
            var output = lines.Where(l => l.Stream == stream).Select(l => l.Message).ToList();
            Assert.Contains($"{phase} probe done", output);
            foreach (var target in targets)
            {
                Assert.Contains($"cat: {target}: No such file or directory", output);
                Assert.DoesNotContain($"{phase} READ {target}", output);
            }
            Assert.Contains($"ls: cannot access '{server.DataDirectory}': No such file or directory", output);
            Assert.DoesNotContain($"{phase} SAW THE SERVER ENVIRONMENT", output);
            Assert.Contains(output, l => l.StartsWith("touch: cannot touch '/usr/slipway-sandbox-test': Read-only file system", StringComparison.Ordinal));
            Assert.Contains($"{phase} wrote its own directory", output);

            var uid = long.Parse(UidLine().Match(string.Join('\n', output.Where(l => l.StartsWith(phase + " uid=", StringComparison.Ordinal)))).Groups[1].Value,
                System.Globalization.CultureInfo.InvariantCulture);
            Assert.InRange(uid, 600_000, 600_000 + 65_536 - 1);
            Assert.NotEqual(0, uid);
            Assert.Equal(uid, Owner(Path.Combine(server.DataDirectory, "releases", attacker["id"]!.GetValue<string>())));
            Assert.NotEqual(uid, Owner(victimRelease));
        }
        Assert.DoesNotContain(server.Logs.Lines, l => l.Contains("the-server-environment", StringComparison.Ordinal));
    }

    /// <summary>
    /// The server packs the build's output as itself: an output directory the build made a link to the data directory
    /// would carry the master key into the tenant's own artifact. It is refused.
    /// </summary>
    [Fact]
    public async Task OutputDirectory_LinkedByTheBuildToTheDataDirectory_IsRefused()
    {
        attackerRepo.Commit("link", SampleApps.Static("linked"));
        var project = (await server.CreateProjectAsync(user.Token, "linker", new
        {
            repo_url = attackerRepo.BarePath, framework = "static", output_directory = "dist", build_command = $"ln -s '{server.DataDirectory}' dist",
        }))["id"]!.GetValue<string>();

        var failed = await server.WaitForStatusAsync(user.Token, (await server.DeployAsync(user.Token, project))["id"]!.GetValue<string>(), Deploy, "failed");

        Assert.Contains("The output directory 'dist' is a link; it must be a directory the build wrote.", failed["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Null(failed["artifact"]?["sha256"]);
    }

    /// <summary>Tries each target and reports what it could read, its uid and whether it sees the server's environment.</summary>
    private static string Probe(IEnumerable<string> targets, string dataDirectory) => $$"""
        phase="$1"
        for target in {{string.Join(' ', targets.Select(t => $"'{t}'"))}}; do
          if cat "$target" > /dev/null; then echo "$phase READ $target"; fi
        done
        ls '{{dataDirectory}}' || true
        env | grep -q {{Marker}} && echo "$phase SAW THE SERVER ENVIRONMENT"
        touch /usr/slipway-sandbox-test 2>&1 || true
        touch "own-$phase" && echo "$phase wrote its own directory"
        echo "$phase uid=$(id -u) gid=$(id -g)"
        echo "$phase probe done"
        """;

    private sealed record Line(string Stream, string Message);

    private async Task<List<Line>> LogLinesAsync(string deploymentId, string last)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            var json = (await server.GetAsync($"/api/v1/logs/{deploymentId}?limit=1000", user.Token)).AssertStatus(200).Json;
            var lines = json["data"]!.AsArray().Select(l => new Line(l!["stream"]!.GetValue<string>(), l["message"]!.GetValue<string>())).ToList();
            if (lines.Any(l => l.Message == last) || watch.Elapsed > TimeSpan.FromSeconds(20)) return lines;
            await Task.Delay(100);
        }
    }

    private static long Owner(string path)
    {
        var info = new ProcessStartInfo("stat", ["-c", "%u", path]) { RedirectStandardOutput = true };
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit(5000);
        return long.Parse(output.Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    [GeneratedRegex(@"uid=(\d+)")]
    private static partial Regex UidLine();
}
