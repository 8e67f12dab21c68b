using System.Diagnostics;
using System.Text.Json.Nodes;
using Slipway.Server.Runtime;

namespace Slipway.Server.Tests.Runtime;

[Collection(RuntimeCollection.Name)]
public sealed class StartingAReleaseTests : IAsyncLifetime
{
    private readonly RuntimeHarness runtime = new();
    private readonly NodeApp app;

    public StartingAReleaseTests()
    {
        app = runtime.NewApp();
    }

    private RuntimeOptions Options => runtime.Options;

    private Supervisor Supervisor => runtime.Supervisor;

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => runtime.CleanUpAsync();

    [Fact]
    public async Task StartAsync_HealthyApp_ServesOnItsPortWithPortHostAndItsEnvironment()
    {
        Environment.SetEnvironmentVariable("SLIPWAY_TEST_SERVER_SECRET", "server-only");
        var release = await Supervisor.StartAsync(app.Spec(environment: ("CUSTOM", "from-spec")), app.OnLine, CancellationToken.None);

        Assert.True(await Supervisor.HealthyWithinAsync(release));

        Assert.Equal(LiveStatus.Running, release.Status);
        Assert.Equal(new Uri($"http://127.0.0.1:{release.Port}"), release.Upstream);
        Assert.Same(release, Supervisor.Find(release.DeploymentId));
        Assert.Contains(release, Supervisor.Running);
        var seen = JsonNode.Parse(await RuntimeTesting.GetTextAsync(release.Upstream, "/env"))!;
        Assert.Equal(release.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), seen["port"]!.GetValue<string>());
        Assert.Equal("127.0.0.1", seen["host"]!.GetValue<string>());
        Assert.Equal("from-spec", seen["custom"]!.GetValue<string>());
        Assert.Null(seen["leaked"]);
        Assert.Contains(app.LinesOf("stdout"), l => l.Contains($"on 127.0.0.1:{release.Port}", StringComparison.Ordinal));
        Assert.Contains("a line on stderr", app.LinesOf("stderr"));
        Assert.Contains(app.LinesOf("system"), l => l.StartsWith($"Started on port {release.Port}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task WaitHealthyAsync_HealthCheckRedirects_CountsAsHealthyWithoutFollowing()
    {
        // /health answers 302 to /broken, which answers 500: following the redirect would fail the check.
        var release = await Supervisor.StartAsync(app.Spec(environment: ("HEALTH_STATUS", "302")), app.OnLine, CancellationToken.None);

        Assert.True(await Supervisor.HealthyWithinAsync(release));
        Assert.Equal(LiveStatus.Running, release.Status);
    }

    [Fact]
    public async Task WaitHealthyAsync_AppAnswers500_FalseAfterTheTimeoutAndStopLeavesNoProcess()
    {
        Options.HealthCheckTimeout = TimeSpan.FromSeconds(1.5);
        var release = await Supervisor.StartAsync(app.Spec(environment: ("HEALTH_STATUS", "500")), app.OnLine, CancellationToken.None);

        var watch = Stopwatch.StartNew();
        Assert.False(await Supervisor.HealthyWithinAsync(release));
        watch.Stop();
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(1.4), TimeSpan.FromSeconds(8));
        Assert.Equal(LiveStatus.Starting, release.Status);
        Assert.True(RuntimeTesting.IsAlive(release.ProcessId));

        await Supervisor.StopWithinAsync(release.DeploymentId);

        Assert.False(RuntimeTesting.IsAlive(release.ProcessId));
        Assert.True(await RuntimeTesting.RefusesConnectionsAsync(release.Port));
        Assert.Equal(LiveStatus.Stopped, release.Status);
        Assert.Null(Supervisor.Find(release.DeploymentId));
    }

    [Fact]
    public async Task WaitHealthyAsync_AppNeverListens_FalseAfterTheTimeout()
    {
        Options.HealthCheckTimeout = TimeSpan.FromSeconds(1);
        var release = await Supervisor.StartAsync(app.Spec(environment: ("NO_LISTEN", "1")), app.OnLine, CancellationToken.None);

        var watch = Stopwatch.StartNew();
        Assert.False(await Supervisor.HealthyWithinAsync(release));
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(8));

        await Supervisor.StopWithinAsync(release.DeploymentId);
        Assert.False(RuntimeTesting.IsAlive(release.ProcessId));
    }

    [Fact]
    public async Task WaitHealthyAsync_AppExitsBeforeListening_FalseAtOnceCrashedAndNotRestarted()
    {
        Options.HealthCheckTimeout = TimeSpan.FromSeconds(30);
        Options.RestartBackoffInitial = TimeSpan.FromMilliseconds(50);
        var release = await Supervisor.StartAsync(app.Spec(environment: ("EXIT_AT_ONCE", "1")), app.OnLine, CancellationToken.None);

        var watch = Stopwatch.StartNew();
        Assert.False(await Supervisor.HealthyWithinAsync(release));
        Assert.InRange(watch.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(8));

        await RuntimeTesting.UntilAsync(() => release.Status == LiveStatus.Crashed, "the release is crashed");
        await Task.Delay(500);
        Assert.Single(app.Starts());
        Assert.Equal(0, release.Restarts);
        Assert.Contains("Exited with code 2 before becoming healthy", app.LinesOf("system"));
    }

    [Fact]
    public async Task StartAsync_TwoReleases_GetTheirOwnPorts()
    {
        var other = runtime.NewApp();
        var first = await Supervisor.StartAsync(app.Spec(), app.OnLine, CancellationToken.None);
        var second = await Supervisor.StartAsync(other.Spec(), other.OnLine, CancellationToken.None);

        Assert.NotEqual(first.Port, second.Port);
        Assert.True(await Supervisor.HealthyWithinAsync(first));
        Assert.True(await Supervisor.HealthyWithinAsync(second));
        Assert.Equal(2, Supervisor.Running.Count);
    }

    [Fact]
    public async Task StartAsync_DirectoryMissing_ThrowsAndKeepsNothing()
    {
        var spec = app.Spec() with { Directory = Path.Combine(app.Directory, "missing") };

        await Assert.ThrowsAnyAsync<Exception>(() => Supervisor.StartAsync(spec, app.OnLine, CancellationToken.None));

        Assert.Null(Supervisor.Find(spec.DeploymentId));
        Assert.Empty(Supervisor.Running);
    }

    [Fact]
    public async Task StartAsync_DeploymentAlreadyRunning_Throws()
    {
        var spec = app.Spec();
        await Supervisor.StartAsync(spec, app.OnLine, CancellationToken.None);

        await Assert.ThrowsAsync<InvalidOperationException>(() => Supervisor.StartAsync(spec, app.OnLine, CancellationToken.None));
        Assert.Single(Supervisor.Running);
    }
}

[CollectionDefinition(Name)]
public sealed class RuntimeCollection
{
    /// <summary>Runtime tests measure timing with real processes; running them one at a time keeps that honest on a busy box.</summary>
    public const string Name = "Runtime";
}
