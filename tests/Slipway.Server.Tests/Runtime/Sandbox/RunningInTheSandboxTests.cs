using System.Collections.Concurrent;
using System.Diagnostics;
using Slipway.Server.Runtime;
using Slipway.Server.Runtime.Sandbox;
using SandboxRunner = Slipway.Server.Runtime.Sandbox.Sandbox;

namespace Slipway.Server.Tests.Runtime.Sandbox;

/// <summary>The launch prefix under the process-group machinery: signals, exit codes and both ways of running bwrap.</summary>
public sealed class RunningInTheSandboxTests : IDisposable
{
    private readonly string dataDirectory = Directory.CreateTempSubdirectory("slipway-sandbox-data-").FullName;
    private readonly string release;
    private readonly ConcurrentQueue<string> lines = new();

    public RunningInTheSandboxTests()
    {
        release = Directory.CreateDirectory(Path.Combine(dataDirectory, "releases", "r1")).FullName;
        File.WriteAllText(Path.Combine(dataDirectory, "master.key"), "secret");
    }

    public void Dispose() => Directory.Delete(dataDirectory, recursive: true);

    [Fact]
    public async Task Stop_SignalsTheSandboxedApp_WhichShutsDownGracefully()
    {
        var sandbox = NewSandbox(asRoot: true);
        var identity = new SandboxIdentity(600_321);
        sandbox.HandOver(release, identity);
        await using var group = ProcessGroup.Start(
            "trap 'echo got SIGTERM; exit 0' TERM; echo started; while true; do sleep 0.05; done",
            release, new Dictionary<string, string>(), (_, line) => lines.Enqueue(line), sandbox.Prefix(identity, release, release));
        await WaitForLineAsync("started");

        var stopping = Stopwatch.StartNew();
        await group.StopAsync(TimeSpan.FromSeconds(5));

        Assert.Contains("got SIGTERM", lines);
        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(4), $"stop took {stopping.Elapsed}: the app did not get SIGTERM");
        // bwrap itself dies of the SIGTERM (as the shell did before the sandbox); the app had its graceful exit.
        await group.Exited.WaitAsync(RuntimeTesting.Patience);
        Assert.False(Alive(group.Pid));
    }

    [Fact]
    public async Task ExitCode_OfTheSandboxedCommand_IsTheGroupsExitCode()
    {
        var sandbox = NewSandbox(asRoot: true);
        var identity = new SandboxIdentity(600_322);
        sandbox.HandOver(release, identity);

        await using var group = ProcessGroup.Start("echo in $(pwd) as $(id -u); exit 7", release, new Dictionary<string, string>(),
            (_, line) => lines.Enqueue(line), sandbox.Prefix(identity, release, release));

        Assert.Equal(7, await group.Exited.WaitAsync(RuntimeTesting.Patience));
        Assert.Contains($"in {SandboxRunner.AppDirectory} as 600322", lines);
    }

    /// <summary>
    /// An unprivileged server cannot drop to another uid: bwrap maps the server's uid to the project's in a user
    /// namespace instead. Run here as uid 65534 through setpriv, as such a server would run it.
    /// </summary>
    [Fact]
    public async Task UnprivilegedServer_UserNamespace_HidesTheDataDirectory_AndShowsTheProjectUid()
    {
        var sandbox = NewSandbox(asRoot: false);
        var identity = new SandboxIdentity(600_323);
        Chown(dataDirectory, 65534);
        string[] asNobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];

        await using var group = ProcessGroup.Start(
            $"id -u; cat {dataDirectory}/master.key; cat ../../master.key; touch mine && echo wrote; echo \"processes=$(ls /proc | grep -c '^[0-9]')\"",
            release, new Dictionary<string, string>(), (_, line) => lines.Enqueue(line), [.. asNobody, .. sandbox.Prefix(identity, release, release)]);

        Assert.Equal(0, await group.Exited.WaitAsync(RuntimeTesting.Patience));
        Assert.Contains("600323", lines);
        Assert.Contains($"cat: {dataDirectory}/master.key: No such file or directory", lines);
        Assert.Contains("cat: ../../master.key: No such file or directory", lines);
        Assert.Contains("wrote", lines);
        Assert.True(File.Exists(Path.Combine(release, "mine")));
        // A PID namespace of its own: bwrap's init, the shell, ls and grep at most. (Named, not the last line: stdout and
        // stderr are read apart, so a stderr line may arrive after it.)
        var processes = lines.Single(l => l.StartsWith("processes=", StringComparison.Ordinal))["processes=".Length..];
        Assert.InRange(int.Parse(processes, System.Globalization.CultureInfo.InvariantCulture), 1, 5);
    }

    private SandboxRunner NewSandbox(bool asRoot) => new(new SandboxOptions(), dataDirectory, asRoot, TimeProvider.System);

    private async Task WaitForLineAsync(string line)
    {
        var watch = Stopwatch.StartNew();
        while (!lines.Contains(line))
        {
            if (watch.Elapsed > RuntimeTesting.Patience) throw new TimeoutException($"no '{line}' line; got: {string.Join(" | ", lines)}");
            await Task.Delay(20);
        }
    }

    private static bool Alive(int pgid) => Directory.EnumerateDirectories("/proc").Any(entry =>
    {
        try
        {
            var stat = File.ReadAllText(Path.Combine(entry, "stat"));
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return fields[2] == pgid.ToString(System.Globalization.CultureInfo.InvariantCulture) && fields[0] is not ("Z" or "X");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    });

    private static void Chown(string path, int uid)
    {
        using var process = Process.Start("chown", ["-R", $"{uid}:{uid}", path])!;
        process.WaitForExit(10_000);
        Assert.Equal(0, process.ExitCode);
    }
}
