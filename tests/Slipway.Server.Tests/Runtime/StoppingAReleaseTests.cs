using System.Diagnostics;
using Slipway.Server.Runtime;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Runtime;

[Collection(RuntimeCollection.Name)]
public sealed class StoppingAReleaseTests : IAsyncLifetime
{
    private readonly RuntimeHarness runtime = new();
    private readonly NodeApp app;

    public StoppingAReleaseTests()
    {
        app = runtime.NewApp();
    }

    private Supervisor Supervisor => runtime.Supervisor;

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => runtime.CleanUpAsync();

    [Fact]
    public async Task StopAsync_RunningApp_SendsSigtermFirstAndTheAppExitsCleanly()
    {
        var release = await StartHealthyAsync(app.Spec());
        var changes = release.Record();

        var watch = Stopwatch.StartNew();
        await Supervisor.StopWithinAsync(release.DeploymentId);

        Assert.True(app.ReceivedSigterm);
        Assert.InRange(watch.Elapsed, TimeSpan.Zero, runtime.Options.StopTimeout);
        Assert.False(RuntimeTesting.IsAlive(release.ProcessId));
        Assert.True(await RuntimeTesting.RefusesConnectionsAsync(release.Port));
        Assert.Equal(LiveStatus.Stopped, Assert.Single(changes).Status);
        Assert.Empty(Supervisor.Running);
    }

    [Fact]
    public async Task StopAsync_AppIgnoresSigterm_IsKilledAfterTheStopTimeout()
    {
        runtime.Options.StopTimeout = TimeSpan.FromSeconds(1);
        var release = await StartHealthyAsync(app.Spec(environment: ("IGNORE_SIGTERM", "1")));

        var watch = Stopwatch.StartNew();
        await Supervisor.StopWithinAsync(release.DeploymentId);

        Assert.True(app.ReceivedSigterm);
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(8));
        Assert.False(RuntimeTesting.IsAlive(release.ProcessId));
        Assert.True(await RuntimeTesting.RefusesConnectionsAsync(release.Port));
    }

    [Fact]
    public async Task StopAsync_StartCommandIsAShellScript_TheAppStillGetsTheStopTimeout()
    {
        // The shell is the group leader here and dies of SIGTERM at once; the app behind it must still get its grace.
        runtime.Options.StopTimeout = TimeSpan.FromSeconds(1);
        var spec = app.Spec(environment: ("IGNORE_SIGTERM", "1")) with { StartCommand = "echo starting && node server.js" };
        var release = await StartHealthyAsync(spec);
        var appPid = int.Parse(app.LinesOf("stdout").First(l => l.StartsWith("app ", StringComparison.Ordinal)).Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);

        var watch = Stopwatch.StartNew();
        await Supervisor.StopWithinAsync(release.DeploymentId);

        Assert.True(app.ReceivedSigterm);
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(8));
        Assert.False(RuntimeTesting.IsAlive(appPid));
    }

    [Fact]
    public async Task StopAsync_AppSpawnedAChild_TheChildDiesToo()
    {
        var release = await StartHealthyAsync(app.Spec(environment: ("SPAWN_CHILD", "1")));
        var child = app.ChildPid(1);
        Assert.True(RuntimeTesting.IsAlive(child));

        await Supervisor.StopWithinAsync(release.DeploymentId);

        await RuntimeTesting.UntilAsync(() => !RuntimeTesting.IsAlive(child), "the child is gone", TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task StopAsync_WithDrainGrace_KeepsServingUntilTheGraceEnds()
    {
        var release = await StartHealthyAsync(app.Spec());

        var watch = Stopwatch.StartNew();
        var stopping = Supervisor.StopAsync(release.DeploymentId, TimeSpan.FromSeconds(1.5));
        await Task.Delay(300);
        Assert.Equal("hello from start 1", await RuntimeTesting.GetTextAsync(release.Upstream));
        Assert.False(app.ReceivedSigterm);
        await stopping.WaitAsync(RuntimeTesting.Patience);

        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(1.4), TimeSpan.FromSeconds(10));
        Assert.True(app.ReceivedSigterm);
        Assert.True(await RuntimeTesting.RefusesConnectionsAsync(release.Port));
    }

    [Fact]
    public async Task StopAsync_CalledTwiceAtOnce_StopsOnce()
    {
        var release = await StartHealthyAsync(app.Spec());
        var changes = release.Record();

        await Task.WhenAll(Supervisor.StopAsync(release.DeploymentId), Supervisor.StopAsync(release.DeploymentId)).WaitAsync(RuntimeTesting.Patience);
        await Supervisor.StopWithinAsync(release.DeploymentId);

        Assert.Single(changes);
        Assert.Single(app.LinesOf("system"), "Stopped");
    }

    [Fact]
    public async Task HostShutdown_ReleasesRunning_StopsEveryRelease()
    {
        var other = runtime.NewApp();
        var server = await SlipwayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Slipway:Runtime:HealthCheckInterval"] = "00:00:00.050",
            ["Slipway:Runtime:DrainGrace"] = "00:00:30",
        });
        RunningRelease first, second;
        try
        {
            var supervisor = server.Service<Supervisor>();
            first = await supervisor.StartAsync(app.Spec(), app.OnLine, CancellationToken.None);
            second = await supervisor.StartAsync(other.Spec(), other.OnLine, CancellationToken.None);
            Assert.True(await supervisor.HealthyWithinAsync(first));
            Assert.True(await supervisor.HealthyWithinAsync(second));
        }
        finally
        {
            await server.DisposeAsync();
        }

        Assert.True(app.ReceivedSigterm);
        Assert.True(other.ReceivedSigterm);
        Assert.False(RuntimeTesting.IsAlive(first.ProcessId));
        Assert.False(RuntimeTesting.IsAlive(second.ProcessId));
        Assert.Equal(LiveStatus.Stopped, first.Status);
    }

    private async Task<RunningRelease> StartHealthyAsync(ReleaseSpec spec)
    {
        var release = await Supervisor.StartAsync(spec, app.OnLine, CancellationToken.None);
        Assert.True(await Supervisor.HealthyWithinAsync(release));
        return release;
    }
}
