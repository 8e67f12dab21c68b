using Slipway.Server.Runtime;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Runtime;

[Collection(RuntimeCollection.Name)]
public sealed class RestartingACrashedReleaseTests : IAsyncLifetime
{
    private static readonly TimeSpan Tolerance = TimeSpan.FromMilliseconds(100);
    private readonly RuntimeHarness runtime = new();
    private readonly NodeApp app;

    public RestartingACrashedReleaseTests()
    {
        app = runtime.NewApp();
    }

    private Supervisor Supervisor => runtime.Supervisor;

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => runtime.CleanUpAsync();

    [Fact]
    public async Task CrashAfterHealthy_IsRestartedOnTheSamePortAndServesAgain()
    {
        var (release, changes) = await StartHealthyAsync();
        var port = release.Port;

        await CrashAndWaitForRestartAsync(release, 1);

        Assert.Equal(port, release.Port);
        Assert.Equal("hello from start 2", await RuntimeTesting.GetTextAsync(release.Upstream));
        Assert.Equal([LiveStatus.Restarting, LiveStatus.Running], changes.Select(c => c.Status));
        Assert.Equal(TimeSpan.FromMilliseconds(200), changes.First().RetryIn);
        Assert.Contains("Exited with code 3, restarting in 200 ms", app.LinesOf("system"));
        Assert.Contains("crashing", app.LinesOf("stderr"));
        Assert.Equal(2, app.LinesOf("system").Count(l => l.StartsWith($"Started on port {port}", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task RepeatedCrashes_BackoffDoublesEachTime()
    {
        var (release, changes) = await StartHealthyAsync();

        for (var restart = 1; restart <= 4; restart++) await CrashAndWaitForRestartAsync(release, restart);

        var waits = changes.Where(c => c.RetryIn is not null).ToList();
        Assert.Equal([200, 400, 800, 1600], waits.Select(c => (int)c.RetryIn!.Value.TotalMilliseconds));
        var starts = app.Starts();
        Assert.Equal(5, starts.Count);
        for (var i = 0; i < waits.Count; i++)
        {
            // From the supervisor deciding to wait to the app's next start: the backoff, plus Node's start-up.
            var waited = starts[i + 1] - waits[i].At;
            Assert.InRange(waited, waits[i].RetryIn!.Value - Tolerance, waits[i].RetryIn!.Value + TimeSpan.FromSeconds(3));
        }
    }

    [Fact]
    public async Task CrashAfterStayingUp_BackoffStartsOverFromTheInitialDelay()
    {
        // The clock only moves when the test says so: the second crash comes "at once", the third after 10 s of health.
        var clock = new ManualTimeProvider();
        runtime.Time = clock;
        var (release, changes) = await StartHealthyAsync();

        await CrashAndWaitForRestartAsync(release, 1);
        await CrashAndWaitForRestartAsync(release, 2);
        clock.Advance(TimeSpan.FromSeconds(10));
        await CrashAndWaitForRestartAsync(release, 3);

        Assert.Equal([200, 400, 200], changes.Where(c => c.RetryIn is not null).Select(c => (int)c.RetryIn!.Value.TotalMilliseconds));
    }

    [Fact]
    public async Task RestartExitsBeforeHealthy_IsCrashedAndKeepsRetryingWithBackoff()
    {
        var (release, changes) = await StartHealthyAsync(("CRASH_PLAN", "-,x,x"));

        await CrashAndWaitForRestartAsync(release, 3);

        Assert.Equal(
            [(LiveStatus.Restarting, 200), (LiveStatus.Crashed, 400), (LiveStatus.Crashed, 800), (LiveStatus.Running, 0)],
            changes.Select(c => (c.Status, (int)(c.RetryIn?.TotalMilliseconds ?? 0))));
        Assert.Contains("Exited with code 3 before becoming healthy, retrying in 400 ms", app.LinesOf("system"));
        Assert.Equal("hello from start 4", await RuntimeTesting.GetTextAsync(release.Upstream));
    }

    [Fact]
    public async Task Crash_WhatTheOldProcessLeftBehindIsKilledBeforeTheRestart()
    {
        var (release, _) = await StartHealthyAsync(("SPAWN_CHILD", "1"));
        var orphan = app.ChildPid(1);
        Assert.True(RuntimeTesting.IsAlive(orphan));

        await CrashAndWaitForRestartAsync(release, 1);

        Assert.False(RuntimeTesting.IsAlive(orphan));
        Assert.True(RuntimeTesting.IsAlive(app.ChildPid(2)));
    }

    [Fact]
    public async Task StoppedRelease_IsNotRestarted()
    {
        var (release, changes) = await StartHealthyAsync();

        await Supervisor.StopWithinAsync(release.DeploymentId);
        await Task.Delay(1000);

        Assert.Single(app.Starts());
        Assert.Equal(LiveStatus.Stopped, Assert.Single(changes).Status);
        Assert.Equal(0, release.Restarts);
        Assert.Null(Supervisor.Find(release.DeploymentId));
    }

    [Fact]
    public async Task StopWhileWaitingToRestart_EndsTheWaitAndNothingStartsAgain()
    {
        runtime.Options.RestartBackoffInitial = TimeSpan.FromSeconds(2);
        var (release, changes) = await StartHealthyAsync();
        await RuntimeTesting.GetTextAsync(release.Upstream, "/crash");
        await RuntimeTesting.UntilAsync(() => release.Status == LiveStatus.Restarting, "the release waits to restart");

        var watch = System.Diagnostics.Stopwatch.StartNew();
        await Supervisor.StopWithinAsync(release.DeploymentId);
        Assert.InRange(watch.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(1.5));
        await Task.Delay(2500);

        Assert.Single(app.Starts());
        Assert.Equal([LiveStatus.Restarting, LiveStatus.Stopped], changes.Select(c => c.Status));
        Assert.True(await RuntimeTesting.RefusesConnectionsAsync(release.Port));
    }

    [Fact]
    public async Task WatchAsync_ReleaseCrashesAndRecovers_SeesEveryChange()
    {
        using var watching = new CancellationTokenSource(RuntimeTesting.Patience);
        var seen = new List<LiveStatusChange>();
        var subscribed = new TaskCompletionSource();
        var watcher = Task.Run(async () =>
        {
            var changes = Supervisor.WatchAsync(watching.Token).GetAsyncEnumerator(watching.Token);
            var next = changes.MoveNextAsync();
            subscribed.SetResult();
            while (await next)
            {
                seen.Add(changes.Current);
                if (changes.Current is { Status: LiveStatus.Running, Restarts: 1 }) break;
                next = changes.MoveNextAsync();
            }
            await changes.DisposeAsync();
        });
        await subscribed.Task.WaitAsync(RuntimeTesting.Patience);

        var (release, _) = await StartHealthyAsync();
        await CrashAndWaitForRestartAsync(release, 1);
        await watcher.WaitAsync(RuntimeTesting.Patience);

        Assert.All(seen, c => Assert.Equal(release.DeploymentId, c.DeploymentId));
        Assert.Equal([LiveStatus.Starting, LiveStatus.Running, LiveStatus.Restarting, LiveStatus.Running], seen.Select(c => c.Status));
    }

    private async Task<(RunningRelease Release, System.Collections.Concurrent.ConcurrentQueue<LiveStatusChange> Changes)> StartHealthyAsync(
        params (string Key, string Value)[] environment)
    {
        var release = await Supervisor.StartAsync(app.Spec(environment: environment), app.OnLine, CancellationToken.None);
        Assert.True(await Supervisor.HealthyWithinAsync(release));
        return (release, release.Record());
    }

    private static async Task CrashAndWaitForRestartAsync(RunningRelease release, int restarts)
    {
        Assert.Equal("bye", await RuntimeTesting.GetTextAsync(release.Upstream, "/crash"));
        await RuntimeTesting.UntilAsync(() => release.Restarts == restarts && release.Status == LiveStatus.Running, $"restart {restarts} runs");
    }
}
