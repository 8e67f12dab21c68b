using System.Diagnostics;
using Slipway.Server.Builds;

namespace Slipway.Server.Tests.Builds;

public sealed class RunningBuildCommandsTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private static readonly IReadOnlyDictionary<string, string> NoEnvironment = new Dictionary<string, string>();
    private readonly TempDirectory work = new();
    private readonly CapturedLines lines = new();
    private readonly ShellRunner runner = new(TimeProvider.System);

    private Task<ProcessResult> RunAsync(string command, TimeSpan? timeout = null, IReadOnlyDictionary<string, string>? environment = null,
        LineSink? sink = null, CancellationToken ct = default) =>
        runner.RunAsync(command, work.Path, environment ?? NoEnvironment, timeout ?? TimeSpan.FromMinutes(1), sink ?? lines.Add, ct).WaitAsync(Patience, CancellationToken.None);

    [Fact]
    public async Task Run_Command_StreamsLinesInOrderAndReturnsTheExitCode()
    {
        var result = await RunAsync("for i in $(seq 1 500); do echo \"line $i\"; done; echo oops >&2; exit 3");

        Assert.Equal(3, result.ExitCode);
        Assert.False(result.Succeeded);
        Assert.False(result.TimedOut || result.Canceled);
        Assert.Equal(Enumerable.Range(1, 500).Select(i => $"line {i}"), lines.Of("stdout"));
        Assert.Equal(["oops"], lines.Of("stderr"));
    }

    [Fact]
    public async Task Run_SuccessfulCommand_Succeeds()
    {
        var result = await RunAsync("true");

        Assert.True(result.Succeeded);
    }

    [Fact]
    public async Task Run_UnknownProgram_ExitsWith127()
    {
        var result = await RunAsync("no-such-program-anywhere");

        Assert.Equal(127, result.ExitCode);
        Assert.Contains(lines.Of("stderr"), l => l.Contains("not found", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Run_Output_ReachesTheSinkWhileTheCommandIsStillRunning()
    {
        var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        LineSink sink = (stream, line) =>
        {
            lines.Add(stream, line);
            if (line == "first") first.TrySetResult();
        };

        var run = RunAsync("echo first; sleep 3; echo second", sink: sink);
        await first.Task.WaitAsync(TimeSpan.FromSeconds(2));

        Assert.False(run.IsCompleted);
        var result = await run;
        Assert.True(result.Succeeded);
        Assert.Equal(["first", "second"], lines.Of("stdout"));
    }

    [Fact]
    public async Task Run_Timeout_KillsTheWholeTreeWithinFiveSeconds()
    {
        var clock = Stopwatch.StartNew();

        var result = await RunAsync("echo \"group=$$\"; sleep 100 & echo \"child=$!\"; sleep 100; wait", timeout: TimeSpan.FromSeconds(1));

        Assert.True(result.TimedOut);
        Assert.False(result.Canceled || result.Succeeded);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(6), $"took {clock.Elapsed}");
        AssertGroupIsGone();
    }

    [Fact]
    public async Task Run_Canceled_KillsTheWholeTreeWithinFiveSeconds()
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        var clock = Stopwatch.StartNew();

        var result = await RunAsync("echo \"group=$$\"; sleep 100 & echo \"child=$!\"; sleep 100; wait", ct: cancel.Token);

        Assert.True(result.Canceled);
        Assert.False(result.TimedOut || result.Succeeded);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(6), $"took {clock.Elapsed}");
        AssertGroupIsGone();
    }

    [Fact]
    public async Task Run_TreeThatIgnoresSigterm_IsKilledAfterTheGrace()
    {
        var clock = Stopwatch.StartNew();

        var result = await RunAsync("trap '' TERM; echo \"group=$$\"; sh -c 'trap \"\" TERM; sleep 100' & echo \"child=$!\"; sleep 100; wait",
            timeout: TimeSpan.FromSeconds(1));

        Assert.True(result.TimedOut);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(6), $"took {clock.Elapsed}");
        AssertGroupIsGone();
    }

    [Fact]
    public async Task Run_ChildLeftBehindAfterANormalExit_IsKilled()
    {
        var clock = Stopwatch.StartNew();

        var result = await RunAsync("echo \"group=$$\"; sleep 100 & echo \"child=$!\"; echo done");

        Assert.True(result.Succeeded);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
        Assert.Contains("done", lines.Of("stdout"));
        AssertGroupIsGone();
    }

    [Fact]
    public async Task Run_EnvVars_ReachTheBuildAndTheMaskerHidesTheirValues()
    {
        Environment.SetEnvironmentVariable("SLIPWAY_TEST_SERVER_ONLY", "server-side-value");
        var userVariables = new Dictionary<string, string>
        {
            ["DATABASE_URL"] = "postgres://app:hunter2-password@db.internal:5432/app",
            ["API_TOKEN"] = "tok_9f8e7d6c5b4a",
            ["SHORT"] = "abc",
        };
        // The masker hides the user's values, not the platform's own (CI=true would turn every "true" into ****).
        var masker = SecretMasker.For(userVariables);
        var environment = new Dictionary<string, string>(userVariables) { ["CI"] = "true" };

        var result = await RunAsync(
            "echo \"db=$DATABASE_URL\"; echo \"token=$API_TOKEN\" >&2; echo \"ci=$CI short=$SHORT\"; echo \"server=${SLIPWAY_TEST_SERVER_ONLY:-unset}\"",
            environment: environment, sink: masker.Wrap(lines.Add));

        Assert.True(result.Succeeded);
        Assert.Equal(["db=****", "ci=true short=abc", "server=unset"], lines.Of("stdout"));
        Assert.Equal(["token=****"], lines.Of("stderr"));
        Assert.DoesNotContain("hunter2", lines.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("tok_9f8e7d6c5b4a", lines.Text, StringComparison.Ordinal);
    }

    /// <summary>No process of the build's group is alive (zombies awaiting a reaper do not count: they run nothing).</summary>
    private void AssertGroupIsGone()
    {
        var group = int.Parse(lines.Of("stdout").Single(l => l.StartsWith("group=", StringComparison.Ordinal))["group=".Length..]);
        var child = int.Parse(lines.Of("stdout").Single(l => l.StartsWith("child=", StringComparison.Ordinal))["child=".Length..]);
        Assert.False(ProcessTable.IsAlive(child), $"child {child} survived");
        Assert.Empty(ProcessTable.LivingMembersOf(group));
    }

    public void Dispose() => work.Dispose();
}

public sealed class MaskingSecretsTests
{
    [Fact]
    public void Mask_LongerSecretContainingAShorterOne_IsHiddenWhole()
    {
        var masker = new SecretMasker(["abcd", "abcdefgh"]);

        Assert.Equal("x **** y **** z", masker.Mask("x abcdefgh y abcd z"));
    }

    [Fact]
    public void Mask_ValuesShorterThanFourCharacters_AreLeftAlone()
    {
        var masker = new SecretMasker(["yes", "1", ""]);

        Assert.Equal(0, masker.Count);
        Assert.Equal("yes 1", masker.Mask("yes 1"));
    }

    [Fact]
    public void Mask_EveryOccurrence_IsHidden()
    {
        var masker = new SecretMasker(["s3cret"]);

        Assert.Equal("****/****-****", masker.Mask("s3cret/s3cret-s3cret"));
    }

    [Fact]
    public void Mask_MultiLineValue_HidesEachOfItsLines()
    {
        var masker = new SecretMasker(["-----BEGIN KEY-----\r\nMIIEvQIBADANBg\n-----END KEY-----"]);

        Assert.Equal("****", masker.Mask("MIIEvQIBADANBg"));
        Assert.Equal("****", masker.Mask("-----BEGIN KEY-----"));
    }

    [Theory]
    [InlineData("fetching https://bot:ghp_abc@github.com/org/app.git", "fetching https://****@github.com/org/app.git")]
    [InlineData("https://token@host.example/x and ssh://git:pw@host:22/y", "https://****@host.example/x and ssh://****@host:22/y")]
    [InlineData("user:p@ss@host -> http://user:p@ss@host/r", "user:p@ss@host -> http://****@host/r")]
    [InlineData("https://example.com/path?mail=a@b.c", "https://example.com/path?mail=a@b.c")]
    [InlineData("no url here", "no url here")]
    public void Mask_UrlUserInfo_IsHidden(string line, string expected)
    {
        Assert.Equal(expected, SecretMasker.None.Mask(line));
    }
}

/// <summary>Reads /proc directly, so the check does not depend on procps being installed.</summary>
internal static class ProcessTable
{
    public static bool IsAlive(int pid) => Stat(pid) is { } stat && stat.State is not ('Z' or 'X');

    public static IReadOnlyList<int> LivingMembersOf(int group) =>
        Directory.EnumerateDirectories("/proc")
            .Select(d => int.TryParse(Path.GetFileName(d), out var pid) ? pid : 0)
            .Where(pid => pid > 0 && Stat(pid) is { } stat && stat.Group == group && stat.State is not ('Z' or 'X'))
            .ToList();

    private static (char State, int Group)? Stat(int pid)
    {
        try
        {
            var text = File.ReadAllText($"/proc/{pid}/stat");
            var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
            return (fields[0][0], int.Parse(fields[2]));
        }
        catch (IOException)
        {
            return null;
        }
    }
}
