using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Slipway.Server.Builds;
using Slipway.Server.Runtime.Cgroups;

namespace Slipway.Server.Runtime;

/// <summary>
/// Runs releases as supervised processes on loopback ports, keyed by deployment id. A release that has been healthy
/// once and then exits is restarted with exponential backoff on the same port (the router keeps pointing there);
/// a release that never became healthy is left <see cref="LiveStatus.Crashed"/> for its deployment to fail.
/// </summary>
internal sealed class Supervisor : IAsyncDisposable
{
    private static readonly TimeSpan ProbeRequestTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan StopSupervisionTimeout = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<string, RunningRelease> releases = new(StringComparer.Ordinal);
    private readonly List<Channel<LiveStatusChange>> watchers = [];
    private readonly RuntimeOptions options;
    private readonly PortAllocator ports;
    private readonly Confinement confinement;
    private readonly TimeProvider time;
    private readonly ILogger<Supervisor> logger;
    private readonly HttpClient probes;

    public Supervisor(RuntimeOptions options, PortAllocator ports, Confinement confinement, TimeProvider time, ILogger<Supervisor> logger)
    {
        this.options = options;
        this.ports = ports;
        this.confinement = confinement;
        this.time = time;
        this.logger = logger;
        // Its own handler: no proxy, no cookies, no redirects (a 3xx already means the app answers), short timeouts.
        probes = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseProxy = false,
            UseCookies = false,
            ConnectTimeout = TimeSpan.FromSeconds(2),
            PooledConnectionLifetime = TimeSpan.FromSeconds(10),
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    public IReadOnlyCollection<RunningRelease> Running => releases.Values.ToList();

    public RunningRelease? Find(string deploymentId) => releases.GetValueOrDefault(deploymentId);

    /// <summary>
    /// Starts the release's process with <c>PORT</c> (a free loopback port) and <c>HOST=127.0.0.1</c> added to its
    /// environment. The release is <see cref="LiveStatus.Starting"/> until <see cref="WaitHealthyAsync"/> succeeds.
    /// Throws <see cref="InvalidOperationException"/> if the deployment already has a running release.
    /// </summary>
    public async Task<RunningRelease> StartAsync(ReleaseSpec spec, LineSink onLine, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        if (releases.ContainsKey(spec.DeploymentId)) throw AlreadyRunning(spec.DeploymentId);
        var port = ports.Reserve();
        var release = new RunningRelease(spec, confinement.Open("release-" + spec.DeploymentId, spec.Limits), port,
            SafeSink(spec.DeploymentId, onLine), time, Publish);
        if (!releases.TryAdd(spec.DeploymentId, release))
        {
            ports.Release(port);
            throw AlreadyRunning(spec.DeploymentId);
        }
        try
        {
            Launch(release, port, isRestart: false);
        }
        catch
        {
            releases.TryRemove(new KeyValuePair<string, RunningRelease>(spec.DeploymentId, release));
            ports.Release(port);
            await release.Unit.CloseAsync();
            throw;
        }
        release.SetStatus(LiveStatus.Starting);
        release.Supervision = Task.Run(() => SuperviseAsync(release), CancellationToken.None);
        return release;
    }

    private static InvalidOperationException AlreadyRunning(string deploymentId) => new($"Deployment {deploymentId} already has a running release.");

    /// <summary>
    /// Polls the health check path until it answers 2xx or 3xx (true), the process exits (false, at once), it listens
    /// only on other ports than its <c>PORT</c> for a second (false, with <see cref="RunningRelease.WrongPorts"/>) or
    /// <see cref="RuntimeOptions.HealthCheckTimeout"/> passes (false; the process is left running for the caller to stop).
    /// </summary>
    public async Task<bool> WaitHealthyAsync(RunningRelease release, CancellationToken ct)
    {
        var group = release.Current;
        var outcome = await ProbeUntilHealthyAsync(release, group, ct);
        if (outcome == ProbeOutcome.Healthy && release.MarkHealthy(group))
        {
            RuntimeLog.Healthy(logger, release.DeploymentId, release.Port);
            return true;
        }
        return false;
    }

    /// <summary>
    /// Stops supervising (no more restarts), lets the process serve in-flight requests for the drain grace
    /// (default <see cref="RuntimeOptions.DrainGrace"/>), then SIGTERM and, after <see cref="RuntimeOptions.StopTimeout"/>,
    /// SIGKILL to its whole process group. Unknown ids are ignored; concurrent calls share one stop.
    /// </summary>
    public async Task StopAsync(string deploymentId, TimeSpan? drainGrace = null)
    {
        if (!releases.TryGetValue(deploymentId, out var release)) return;
        await release.StopOnce(() => StopCoreAsync(release, drainGrace ?? options.DrainGrace));
    }

    /// <summary>Stops every release without draining (application shutdown); kills what is left if <paramref name="ct"/> fires.</summary>
    public async Task StopAllAsync(CancellationToken ct = default)
    {
        var all = releases.Keys.Select(id => StopAsync(id, TimeSpan.Zero)).ToList();
        try
        {
            await Task.WhenAll(all).WaitAsync(ct);
        }
        catch (OperationCanceledException)
        {
            KillEverything();
        }
    }

    /// <summary>Every status change of every release, from now on, until <paramref name="ct"/> fires.</summary>
    public async IAsyncEnumerable<LiveStatusChange> WatchAsync([EnumeratorCancellation] CancellationToken ct)
    {
        var channel = Channel.CreateUnbounded<LiveStatusChange>(new UnboundedChannelOptions { SingleReader = true });
        lock (watchers) watchers.Add(channel);
        try
        {
            await foreach (var change in channel.Reader.ReadAllAsync(ct)) yield return change;
        }
        finally
        {
            lock (watchers) watchers.Remove(channel);
        }
    }

    public ValueTask DisposeAsync()
    {
        KillEverything();
        probes.Dispose();
        return ValueTask.CompletedTask;
    }

    private void KillEverything()
    {
        foreach (var release in releases.Values)
        {
            release.RequestStop();
            release.CurrentOrNull?.KillAll();
            _ = release.Unit.CloseAsync();
        }
    }

    private void Launch(RunningRelease release, int port, bool isRestart)
    {
        var environment = new Dictionary<string, string>(release.Spec.Environment, StringComparer.Ordinal)
        {
            ["PORT"] = port.ToString(CultureInfo.InvariantCulture),
            ["HOST"] = "127.0.0.1",
        };
        release.Unit.EnsureCreated();
        release.OomKillsAtStart = release.Unit.OomKills();
        var group = ProcessGroup.Start(release.Spec.StartCommand, release.Spec.Directory, environment, release.Sink, [.. release.Unit.LaunchPrefix, .. release.Spec.LaunchPrefix ?? []]);
        release.Unit.Started(group.Pid);
        release.Attach(group, port, isRestart);
        release.Sink("system", $"Started on port {port} (pid {group.Pid})");
        RuntimeLog.Started(logger, release.DeploymentId, port, group.Pid);
    }

    private async Task SuperviseAsync(RunningRelease release)
    {
        var token = release.StopRequested.Token;
        try
        {
            var group = release.Current;
            var exit = await ReapAsync(release, group, await group.Exited.WaitAsync(token));
            if (release.MarkCrashedUnlessEverHealthy())
            {
                release.Sink("system", $"{exit} before becoming healthy");
                RuntimeLog.ExitedBeforeHealthy(logger, release.DeploymentId, exit);
                return;
            }

            var delay = options.RestartBackoffInitial;
            while (true)
            {
                // It was running: after a long enough healthy stretch the crash counts as a new incident.
                if (release.HealthySince is { } since && time.GetUtcNow() - since >= StableAfter(delay)) delay = options.RestartBackoffInitial;
                var status = LiveStatus.Restarting;
                while (true)
                {
                    release.Sink("system", status == LiveStatus.Restarting
                        ? $"{exit}, restarting in {Describe(delay)}"
                        : $"{exit} before becoming healthy, retrying in {Describe(delay)}");
                    RuntimeLog.Restarting(logger, release.DeploymentId, exit, delay);
                    release.SetStatus(status, delay);
                    await Task.Delay(delay, time, token);
                    delay = Min(delay * 2, options.RestartBackoffMax);

                    group = Relaunch(release);
                    if (group is not null)
                    {
                        var outcome = await ProbeUntilHealthyAsync(release, group, token);
                        if (outcome == ProbeOutcome.Healthy && release.MarkHealthy(group))
                        {
                            release.Sink("system", $"Healthy again on port {release.Port}");
                            RuntimeLog.Healthy(logger, release.DeploymentId, release.Port);
                            break;
                        }
                        if (outcome is ProbeOutcome.TimedOut or ProbeOutcome.WrongPort)
                        {
                            release.Sink("system", outcome == ProbeOutcome.WrongPort
                                ? $"It listens on {string.Join(", ", release.WrongPorts!)}, not on its PORT ({release.Port}); stopping it"
                                : $"Not healthy after {Describe(options.HealthCheckTimeout)}; stopping it");
                            await group.StopAsync(options.StopTimeout);
                        }
                        exit = await ReapAsync(release, group, await group.Exited.WaitAsync(token));
                    }
                    else
                    {
                        exit = "Exited with code -1";
                    }
                    status = LiveStatus.Crashed;
                }
                exit = await ReapAsync(release, group, await group.Exited.WaitAsync(token));
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // StopAsync took over.
        }
        catch (Exception e)
        {
            RuntimeLog.SupervisionFailed(logger, release.DeploymentId, e);
            release.SetStatus(LiveStatus.Crashed);
        }
    }

    /// <summary>Starts the process again, on the same port unless something else holds it now; null if it cannot start.</summary>
    private ProcessGroup? Relaunch(RunningRelease release)
    {
        var port = release.Port;
        try
        {
            if (!PortAllocator.IsFree(port))
            {
                var fresh = ports.Reserve();
                ports.Release(port);
                release.Sink("system", $"Port {port} is taken; moving to port {fresh}");
                port = fresh;
            }
            Launch(release, port, isRestart: true);
            return release.Current;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or IOException or InvalidOperationException or UnauthorizedAccessException)
        {
            release.Sink("system", $"Could not start: {e.Message}");
            return null;
        }
    }

    private async Task StopCoreAsync(RunningRelease release, TimeSpan drainGrace)
    {
        release.RequestStop();
        await release.Supervision.WaitAsync(StopSupervisionTimeout).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        var group = release.Current;
        if (drainGrace > TimeSpan.Zero && !group.Exited.IsCompleted)
        {
            release.Sink("system", $"Draining for {Describe(drainGrace)}");
            await Task.WhenAny(group.Exited, Task.Delay(drainGrace, time));
        }
        if (!group.Exited.IsCompleted) release.Sink("system", $"Stopping (SIGTERM, SIGKILL after {Describe(options.StopTimeout)})");
        await group.StopAsync(options.StopTimeout);
        await ReapAsync(release, group, null);
        await release.Unit.CloseAsync();
        release.SetStatus(LiveStatus.Stopped);
        release.Sink("system", "Stopped");
        RuntimeLog.Stopped(logger, release.DeploymentId);
        releases.TryRemove(new KeyValuePair<string, RunningRelease>(release.DeploymentId, release));
        ports.Release(release.Port);
    }

    /// <summary>
    /// Whatever the exited process left behind in its group and its cgroup goes too, before a restart reuses the port.
    /// Returns why it exited (an OOM kill in its cgroup, or its exit code), also kept as the release's last exit.
    /// </summary>
    private static async Task<string> ReapAsync(RunningRelease release, ProcessGroup group, int? code)
    {
        group.KillAll();
        await group.DisposeAsync();
        await release.Unit.KillAllAsync();
        if (code is null) return "Stopped";
        var exit = release.Unit.OutOfMemorySince(release.OomKillsAtStart) ?? $"Exited with code {code}";
        release.LastExit = exit;
        return exit;
    }

    private static readonly TimeSpan FastProbeInterval = TimeSpan.FromMilliseconds(25);
    private static readonly TimeSpan FastProbingFor = TimeSpan.FromSeconds(2);
    // How often a release that does not answer has its sockets looked at, and for how long it must listen only on
    // other ports before that is its failure (an app may open a side port a moment before its PORT).
    private static readonly TimeSpan PortCheckEvery = TimeSpan.FromMilliseconds(400);
    private static readonly TimeSpan WrongPortFor = TimeSpan.FromSeconds(1);

    private async Task<ProbeOutcome> ProbeUntilHealthyAsync(RunningRelease release, ProcessGroup group, CancellationToken ct)
    {
        var path = release.Spec.HealthCheckPath;
        if (string.IsNullOrWhiteSpace(path)) path = "/";
        else if (!path.StartsWith('/')) path = "/" + path;
        var uri = new Uri($"http://127.0.0.1:{release.Port}{path}");
        var started = time.GetTimestamp();
        var portsCheckedAt = started;
        long? wrongSince = null;
        while (true)
        {
            if (group.Exited.IsCompleted) return ProbeOutcome.Exited;
            var remaining = options.HealthCheckTimeout - time.GetElapsedTime(started);
            if (remaining <= TimeSpan.Zero) return ProbeOutcome.TimedOut;
            if (await ProbeOnceAsync(uri, Min(remaining, ProbeRequestTimeout), ct)) return ProbeOutcome.Healthy;
            if (time.GetElapsedTime(portsCheckedAt) >= PortCheckEvery)
            {
                portsCheckedAt = time.GetTimestamp();
                var listening = ListeningPorts.OfGroup(group.Pid);
                if (listening.Count == 0 || listening.Contains(release.Port)) wrongSince = null;
                else if (time.GetElapsedTime(wrongSince ??= portsCheckedAt) >= WrongPortFor)
                {
                    release.WrongPorts = listening;
                    return ProbeOutcome.WrongPort;
                }
            }
            // Most apps listen within a second: probe quickly at first, then settle to the configured interval.
            var interval = time.GetElapsedTime(started) < FastProbingFor ? Min(options.HealthCheckInterval, FastProbeInterval) : options.HealthCheckInterval;
            await Task.WhenAny(group.Exited, Task.Delay(interval, time, ct));
            ct.ThrowIfCancellationRequested();
        }
    }

    private async Task<bool> ProbeOnceAsync(Uri uri, TimeSpan timeout, CancellationToken ct)
    {
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct);
        attempt.CancelAfter(timeout);
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        // A fresh connection per probe: a pooled one may still point at the previous process on this port.
        request.Headers.ConnectionClose = true;
        try
        {
            using var response = await probes.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, attempt.Token);
            return (int)response.StatusCode is >= 200 and < 400;
        }
        catch (HttpRequestException)
        {
            return false;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return false;
        }
    }

    private TimeSpan StableAfter(TimeSpan delay) => Min(delay * 5, options.RestartBackoffMax);

    private void Publish(RunningRelease release, LiveStatusChange change)
    {
        try
        {
            release.RaiseStatusChanged(change);
        }
        catch (Exception e)
        {
            RuntimeLog.ObserverFailed(logger, release.DeploymentId, e);
        }
        lock (watchers)
        {
            foreach (var watcher in watchers) watcher.Writer.TryWrite(change);
        }
    }

    private LineSink SafeSink(string deploymentId, LineSink onLine) => (stream, line) =>
    {
        try
        {
            onLine(stream, line);
        }
        catch (Exception e)
        {
            RuntimeLog.ObserverFailed(logger, deploymentId, e);
        }
    };

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    internal static string Describe(TimeSpan duration) => duration < TimeSpan.FromSeconds(1)
        ? $"{duration.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture)} ms"
        : $"{duration.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture)} s";

    private enum ProbeOutcome
    {
        Healthy,
        Exited,
        TimedOut,
        /// <summary>It listens, but not on its <c>PORT</c>: see <see cref="RunningRelease.WrongPorts"/>.</summary>
        WrongPort,
    }
}

internal static partial class RuntimeLog
{
    [LoggerMessage(EventId = 6101, Level = LogLevel.Information, Message = "Release {DeploymentId} started on port {Port} (pid {Pid})")]
    public static partial void Started(ILogger logger, string deploymentId, int port, int pid);

    [LoggerMessage(EventId = 6102, Level = LogLevel.Information, Message = "Release {DeploymentId} is healthy on port {Port}")]
    public static partial void Healthy(ILogger logger, string deploymentId, int port);

    [LoggerMessage(EventId = 6103, Level = LogLevel.Warning, Message = "Release {DeploymentId} exited before becoming healthy ({Exit})")]
    public static partial void ExitedBeforeHealthy(ILogger logger, string deploymentId, string exit);

    [LoggerMessage(EventId = 6104, Level = LogLevel.Warning, Message = "Release {DeploymentId} exited ({Exit}); restarting in {Delay}")]
    public static partial void Restarting(ILogger logger, string deploymentId, string exit, TimeSpan delay);

    [LoggerMessage(EventId = 6105, Level = LogLevel.Information, Message = "Release {DeploymentId} stopped")]
    public static partial void Stopped(ILogger logger, string deploymentId);

    [LoggerMessage(EventId = 6106, Level = LogLevel.Error, Message = "Supervision of release {DeploymentId} failed")]
    public static partial void SupervisionFailed(ILogger logger, string deploymentId, Exception exception);

    [LoggerMessage(EventId = 6107, Level = LogLevel.Warning, Message = "A log or status observer of release {DeploymentId} threw")]
    public static partial void ObserverFailed(ILogger logger, string deploymentId, Exception exception);
}
