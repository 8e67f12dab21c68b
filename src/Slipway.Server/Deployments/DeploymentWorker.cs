using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Slipway.Server.Builds;
using Slipway.Server.Data;
using Slipway.Server.EnvVars;
using Slipway.Server.Hosting;
using Slipway.Server.Logs;
using Slipway.Server.Projects;
using Slipway.Server.Routing;
using Slipway.Server.Runtime;
using Slipway.Server.Runtime.Cgroups;
using Slipway.Server.Runtime.Sandbox;
using Slipway.Server.Security;

namespace Slipway.Server.Deployments;

/// <summary>
/// Runs queued deployments: clone → build → pack → release → health → switch the route → drain the old release.
/// The database is the source of truth: the loop claims work with guarded updates, at most one deployment per
/// environment at a time (oldest first) and at most <see cref="BuildOptions.MaxConcurrentBuilds"/> overall.
/// On start it ends every deployment a crash or restart interrupted and brings live releases back.
/// </summary>
internal sealed partial class DeploymentWorker(
    IServiceScopeFactory scopes, DeploymentQueue queue, LogWriter logs, GitSource git, ShellRunner shell, ArtifactStore artifacts,
    ReleaseFiles files, Supervisor supervisor, Sandbox sandbox, Confinement confinement, RouteSync routes, ProjectReadCache projectCache,
    DeploymentReadCache deploymentCache, BuildOptions buildOptions, RuntimeOptions runtimeOptions, IConfiguration configuration,
    TimeProvider time, ILogger<DeploymentWorker> logger) : BackgroundService
{
    private const int ContextLines = 15;
    private readonly string dataDirectory = configuration.DataDirectory();
    private readonly string releases = configuration.ReleasesDirectory();

    private int MaxConcurrent => buildOptions.MaxConcurrentBuilds > 0 ? buildOptions.MaxConcurrentBuilds : Math.Max(1, Environment.ProcessorCount / 2);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await RecoverAsync(stoppingToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            DispatchFailed(logger, ex);
        }
        using var slots = new SemaphoreSlim(MaxConcurrent);
        var running = new List<Task>();
        while (!stoppingToken.IsCancellationRequested)
        {
            queue.Drain();
            try
            {
                await DispatchAsync(slots, running, stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // A transient database error must not stop the server (and every app with it): log, wait, try again.
                DispatchFailed(logger, ex);
            }
            running.RemoveAll(t => t.IsCompleted);
            // Look again every 2 s even without a wake-up. The wait itself times out (rather than racing a delay), so no
            // abandoned channel waiter is left behind each idle round.
            using var idle = new CancellationTokenSource(TimeSpan.FromSeconds(2), time);
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, idle.Token);
            try
            {
                await queue.WaitAsync(wait.Token);
            }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
            {
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        await Task.WhenAll(running).WaitAsync(TimeSpan.FromSeconds(20), CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task DispatchAsync(SemaphoreSlim slots, List<Task> running, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
        var states = scope.ServiceProvider.GetRequiredService<DeploymentStates>();
        var busy = db.Deployments.Where(d => d.Status == DeploymentStatus.Building || d.Status == DeploymentStatus.Deploying).Select(d => d.EnvironmentId);
        var candidates = await db.Deployments.Where(d => d.Status == DeploymentStatus.Queued && !busy.Contains(d.EnvironmentId))
            .OrderBy(d => d.Id).Select(d => new { d.Id, d.EnvironmentId }).Take(64).ToListAsync(ct);
        foreach (var next in candidates.GroupBy(c => c.EnvironmentId).Select(g => g.First()).OrderBy(c => c.Id))
        {
            if (!await slots.WaitAsync(0, ct)) return;
            if (!await states.TransitionAsync(next.Id, d => d.Status == DeploymentStatus.Queued, DeploymentStatus.Building, null, ct, BuildStatus.Running))
            {
                slots.Release();
                continue;
            }
            running.Add(Task.Run(async () =>
            {
                try
                {
                    await RunAsync(next.Id, ct);
                }
                finally
                {
                    slots.Release();
                    queue.Wake();
                }
            }, CancellationToken.None));
        }
    }

    private async Task RunAsync(string id, CancellationToken stopping)
    {
        using var cancel = queue.Register(id, stopping);
        var ct = cancel.Token;
        var recent = new Queue<string>();
        var workDirectory = Path.Combine(dataDirectory, "work", id);
        var timings = new Dictionary<string, long>();
        var total = Stopwatch.StartNew();
        SecretMasker masker = new([]);
        RunningRelease? started = null;
        string? environmentId = null;
        await logs.OpenAsync(id, CancellationToken.None);

        void Log(string stream, string line, string level = "info")
        {
            var masked = masker.Mask(line);
            lock (recent)
            {
                recent.Enqueue(masked);
                if (recent.Count > ContextLines) recent.Dequeue();
            }
            logs.Append(id, stream, level, masked);
        }

        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
        var states = scope.ServiceProvider.GetRequiredService<DeploymentStates>();
        try
        {
            var deployment = await db.Deployments.AsTracking().FirstAsync(d => d.Id == id, ct);
            var project = await db.Projects.FirstAsync(p => p.Id == deployment.ProjectId, ct);
            var environment = await db.Environments.FirstAsync(e => e.Id == deployment.EnvironmentId, ct);
            environmentId = environment.Id;
            // Canceled between the claim and the registration of its cancellation: nothing may start.
            if (deployment.Status != DeploymentStatus.Building) throw new OperationCanceledException(ct);
            var secrets = scope.ServiceProvider.GetRequiredService<EnvVarSecrets>();
            var variables = await secrets.DecryptAllAsync(project.Id, environment.Id, ct);
            var identity = await sandbox.IdentityAsync(db, project.Id, ct);
            masker = new SecretMasker(variables.Values);
            timings["queue_ms"] = (long)((deployment.StartedAt ?? deployment.CreatedAt) - deployment.CreatedAt).TotalMilliseconds;

            if (deployment.Trigger == DeploymentTrigger.Rollback)
            {
                Log("system", $"Rolling back to the release of deployment {deployment.SourceDeploymentId} (artifact {deployment.ArtifactSha256![..12]}): no rebuild.");
            }
            else
            {
                deployment.BuildStartedAt = time.UtcNowMs();
                await db.SaveChangesAsync(ct);
                var phase = Stopwatch.StartNew();
                var cloneUrl = scope.ServiceProvider.GetRequiredService<RepoCredentials>().CloneUrl(project);
                var checkout = await git.CheckoutAsync(cloneUrl, deployment.Branch, deployment.RequestedCommitSha, workDirectory,
                    (stream, line) => Log("system", line), ct);
                timings["clone_ms"] = phase.ElapsedMilliseconds;
                deployment.CommitSha = checkout.CommitSha;
                deployment.CommitMessage = checkout.CommitMessage;
                await db.SaveChangesAsync(ct);
                try
                {
                    await scope.ServiceProvider.GetRequiredService<DeploymentGate>().CheckAsync(project.WorkspaceId, project.Id, id, checkout.CommitSha,
                        deployment.Branch, checkout.Directory, workDirectory + ".scan", (stream, line) => Log(stream == "scan" ? "build" : "system", line), ct);
                }
                finally
                {
                    files.DeleteDirectory(workDirectory + ".scan");
                }

                var sourceRoot = project.RootDirectory is { } root ? Path.GetFullPath(Path.Combine(checkout.Directory, root)) : checkout.Directory;
                if (!sourceRoot.StartsWith(checkout.Directory, StringComparison.Ordinal) || !Directory.Exists(sourceRoot))
                {
                    throw new DeploymentFailedException($"root_directory '{project.RootDirectory}' does not exist in the repository.");
                }
                if (ThroughALink(checkout.Directory, sourceRoot))
                {
                    throw new DeploymentFailedException($"root_directory '{project.RootDirectory}' is a link; it must be a directory of the repository.");
                }
                var plan = FrameworkDetection.Plan(sourceRoot, project.Framework, environment.BuildCommand ?? project.BuildCommand,
                    environment.StartCommand ?? project.StartCommand, project.OutputDirectory);
                Log("system", $"Framework {plan.Framework}: build `{plan.BuildCommand ?? "(none)"}`, " +
                              (plan.IsStatic ? $"static site from '{plan.OutputDirectory}'" : $"start `{plan.StartCommand}`"));
                if (plan.BuildCommand is { } command)
                {
                    phase.Restart();
                    var buildEnvironment = ProcessEnvironment(variables, project, environment, deployment);
                    buildEnvironment["CI"] = "true";
                    Sandbox.AddDefaults(buildEnvironment, identity);
                    sandbox.HandOver(checkout.Directory, identity);
                    var unit = confinement.Open("build-" + id, ResourceRules.Effective(project, environment, runtimeOptions.Resources));
                    ProcessResult result;
                    string? outOfMemory;
                    try
                    {
                        result = await shell.RunAsync(command, sourceRoot, buildEnvironment, buildOptions.BuildTimeout,
                            (stream, line) => Log("build", line, stream == "stderr" ? "warn" : "info"), ct, unit,
                            sandbox.Prefix(identity, checkout.Directory, sourceRoot));
                        outOfMemory = unit.OutOfMemorySince(0);
                    }
                    finally
                    {
                        await unit.CloseAsync();
                    }
                    timings["build_ms"] = phase.ElapsedMilliseconds;
                    if (result.Canceled) throw new OperationCanceledException(ct);
                    if (result.TimedOut) throw new DeploymentFailedException($"The build timed out after {buildOptions.BuildTimeout}.");
                    if (result.ExitCode != 0 && outOfMemory is not null) throw new DeploymentFailedException($"The build command failed. {outOfMemory}.");
                    if (result.ExitCode != 0) throw new DeploymentFailedException($"The build command exited with code {result.ExitCode}.");
                }
                phase.Restart();
                var packed = plan.IsStatic ? Path.GetFullPath(Path.Combine(sourceRoot, plan.OutputDirectory ?? ".")) : sourceRoot;
                if (!packed.StartsWith(checkout.Directory, StringComparison.Ordinal) || !Directory.Exists(packed))
                {
                    throw new DeploymentFailedException($"The output directory '{plan.OutputDirectory}' does not exist after the build.");
                }
                // The server packs as itself: a link the build made (dist -> /the/data/directory) must not be followed.
                if (ThroughALink(checkout.Directory, packed))
                {
                    throw new DeploymentFailedException($"The output directory '{plan.OutputDirectory}' is a link; it must be a directory the build wrote.");
                }
                var artifact = await artifacts.PackAsync(packed, ct);
                timings["pack_ms"] = phase.ElapsedMilliseconds;
                deployment.Framework = plan.Framework;
                deployment.StartCommand = plan.IsStatic ? null : plan.StartCommand;
                deployment.StaticDirectory = plan.IsStatic ? "." : null;
                deployment.ArtifactSha256 = artifact.Sha256;
                deployment.ArtifactSize = artifact.Size;
                deployment.BuildFinishedAt = time.UtcNowMs();
                deployment.BuildStatus = BuildStatus.Succeeded;
                deployment.Timings = JsonSerializer.Serialize(timings);
                await db.SaveChangesAsync(ct);
                Log("system", $"Build succeeded: artifact {artifact.Sha256[..12]} ({artifact.Size.ToString("N0", CultureInfo.InvariantCulture)} bytes).");
            }

            if (!await states.TransitionAsync(id, d => d.Status == DeploymentStatus.Building, DeploymentStatus.Deploying, null, ct))
            {
                throw new OperationCanceledException(ct);
            }

            var release = Stopwatch.StartNew();
            var releaseDirectory = await UnpackReleaseAsync(deployment, identity, ct);
            RouteTarget target;
            if (deployment.StaticDirectory is { } staticDirectory)
            {
                target = new RouteTarget(id, null, Path.GetFullPath(Path.Combine(releaseDirectory, staticDirectory)));
                Log("system", "Static release ready; the router serves it directly.");
            }
            else
            {
                var releaseEnvironment = ProcessEnvironment(variables, project, environment, deployment);
                Sandbox.AddDefaults(releaseEnvironment, identity);
                var spec = new ReleaseSpec(id, project.Id, environment.Id, releaseDirectory, deployment.StartCommand!,
                    releaseEnvironment, project.HealthCheckPath, LaunchPrefix: sandbox.Prefix(identity, releaseDirectory, releaseDirectory),
                    Limits: ResourceRules.Effective(project, environment, runtimeOptions.Resources));
                started = await supervisor.StartAsync(spec, (stream, line) => Log(stream == "system" ? "system" : "runtime", line,
                    stream == "stderr" ? "warn" : "info"), ct);
                Log("system", $"Started `{deployment.StartCommand}` on port {started.Port}; waiting for {project.HealthCheckPath} to answer 2xx/3xx.");
                if (!await supervisor.WaitHealthyAsync(started, ct))
                {
                    ct.ThrowIfCancellationRequested();
                    throw new DeploymentFailedException($"The release did not pass its health check on {project.HealthCheckPath} within " +
                                                        $"{runtimeOptions.HealthCheckTimeout.TotalSeconds:0} s.");
                }
                target = new RouteTarget(id, started.Upstream, null);
            }
            timings["release_ms"] = release.ElapsedMilliseconds;
            timings["total_ms"] = total.ElapsedMilliseconds;

            var previousLive = environment.LiveDeploymentId;
            // Route first, then commit: whoever sees "ready" reaches the new release. A failed commit routes back.
            await routes.RouteAheadAsync(deployment, CancellationToken.None);
            // Every line is written before the terminal state, so a follower's "end" really is the end of the log.
            Log("system", $"Live: {deployment.Id} serves {environment.Name}.");
            await logs.FlushAsync(CancellationToken.None);
            var isProduction = environment.Name == ProjectEnvironment.Production;
            var switched = await states.TransitionAsync(id, d => d.Status == DeploymentStatus.Deploying, DeploymentStatus.Ready, null, ct,
                alsoInTransaction: async () =>
                {
                    await db.Deployments.Where(d => d.Id == id).ExecuteUpdateAsync(s => s.SetProperty(d => d.Timings, JsonSerializer.Serialize(timings)), ct);
                    await db.Environments.Where(e => e.Id == environment.Id).ExecuteUpdateAsync(s => s.SetProperty(e => e.LiveDeploymentId, id), ct);
                    if (isProduction)
                    {
                        await db.Projects.Where(p => p.Id == project.Id).ExecuteUpdateAsync(s => s.SetProperty(p => p.LiveDeploymentId, id), ct);
                    }
                });
            projectCache.Invalidate(project.Id);
            await routes.SettleAsync(environment.Id, CancellationToken.None);
            if (!switched) throw new OperationCanceledException(ct);
            started = null;
            if (previousLive is not null && previousLive != id)
            {
                _ = supervisor.StopAsync(previousLive, runtimeOptions.DrainGrace);
            }
            await CollectAsync(environment.Id, CancellationToken.None);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            await EndAsync(db, states, id, DeploymentStatus.Failed, "Interrupted by server shutdown.", Log, timings);
        }
        catch (OperationCanceledException)
        {
            await EndAsync(db, states, id, DeploymentStatus.Canceled, "Canceled by request.", Log, timings);
        }
        catch (Exception ex) when (ex is DeploymentFailedException or BuildException or SecretUnavailableException or SandboxUnavailableException)
        {
            await EndAsync(db, states, id, DeploymentStatus.Failed, WithContext(ex.Message, recent), Log, timings);
        }
        catch (Exception ex)
        {
            DeploymentCrashed(logger, ex, id);
            await EndAsync(db, states, id, DeploymentStatus.Failed, "Slipway hit an internal error while deploying; see the server log.", Log, timings);
        }
        finally
        {
            if (started is not null)
            {
                // Never became live: make sure no route still points at it (route-first switch), then stop it.
                if (environmentId is not null) await routes.SettleAsync(environmentId, CancellationToken.None);
                await supervisor.StopAsync(id, TimeSpan.Zero);
            }
            queue.Unregister(id);
            files.DeleteDirectory(workDirectory);
        }
    }

    private async Task EndAsync(SlipwayDb db, DeploymentStates states, string id, DeploymentStatus status, string error,
        Action<string, string, string> log, Dictionary<string, long>? timings = null)
    {
        log("system", error, status == DeploymentStatus.Canceled ? "warn" : "error");
        await logs.FlushAsync(CancellationToken.None);
        var build = status == DeploymentStatus.Canceled ? BuildStatus.Canceled : BuildStatus.Failed;
        // Guarded: a cancel request may already have ended it, and the build may already have succeeded. A release that
        // never went live is never rolled back to: its artifact is marked collected in the same transition.
        var sha = await db.Deployments.Where(d => d.Id == id && d.Trigger != DeploymentTrigger.Rollback).Select(d => d.ArtifactSha256)
            .FirstOrDefaultAsync(CancellationToken.None);
        var timingsJson = timings is null ? null : JsonSerializer.Serialize(timings);
        await states.TransitionAsync(id, DeploymentStates.NotTerminal, status, error, CancellationToken.None,
            buildStatusWhenRunning: build,
            alsoInTransaction: () => db.Deployments.Where(d => d.Id == id).ExecuteUpdateAsync(s => s
                .SetProperty(d => d.Timings, d => timingsJson ?? d.Timings)
                .SetProperty(d => d.ArtifactCollected, d => d.ArtifactSha256 != null && d.Trigger != DeploymentTrigger.Rollback), CancellationToken.None));
        files.DeleteRelease(id);
        if (sha is not null) await files.DeleteArtifactIfUnusedAsync(db, sha, CancellationToken.None);
    }

    /// <summary>What builds and releases see: the environment's env vars plus <c>SLIPWAY_*</c> (never the server's own environment).</summary>
    private static Dictionary<string, string> ProcessEnvironment(IReadOnlyDictionary<string, string> variables, Project project,
        ProjectEnvironment environment, Deployment deployment) => new(variables)
    {
        ["SLIPWAY_PROJECT_ID"] = project.Id, ["SLIPWAY_PROJECT_NAME"] = project.Name, ["SLIPWAY_ENVIRONMENT"] = environment.Name,
        ["SLIPWAY_DEPLOYMENT_ID"] = deployment.Id, ["SLIPWAY_BRANCH"] = deployment.Branch,
    };

    private static string WithContext(string message, Queue<string> recent)
    {
        string[] lines;
        lock (recent) lines = recent.ToArray();
        return lines.Length == 0 ? message : message + "\nLast output:\n" + string.Join('\n', lines);
    }

    /// <summary>True when a directory on the way from <paramref name="root"/> down to <paramref name="path"/> is a link.</summary>
    private static bool ThroughALink(string root, string path)
    {
        for (var current = path; current.Length > root.Length; current = Path.GetDirectoryName(current)!)
        {
            if (new DirectoryInfo(current).LinkTarget is not null) return true;
        }
        return false;
    }

    /// <summary>
    /// Unpacks the release once; an app's release belongs to its project's sandbox uid (the router reads static ones).
    /// <paramref name="reclaim"/> (start-up): an existing directory is handed over again, so releases unpacked before
    /// the sandbox (or while it was off) become writable to their app.
    /// </summary>
    private async Task<string> UnpackReleaseAsync(Deployment deployment, SandboxIdentity? identity, CancellationToken ct, bool reclaim = false)
    {
        var directory = Path.Combine(releases, deployment.Id);
        if (!Directory.Exists(directory))
        {
            var temporary = directory + ".unpacking";
            files.DeleteDirectory(temporary);
            await artifacts.UnpackAsync(deployment.ArtifactSha256!, temporary, ct);
            if (deployment.StaticDirectory is null) sandbox.HandOver(temporary, identity);
            Directory.Move(temporary, directory);
        }
        else if (reclaim && deployment.StaticDirectory is null)
        {
            sandbox.HandOver(directory, identity);
        }
        return directory;
    }

    /// <summary>Keeps the newest N ready releases per environment (and always the live one); frees the rest.</summary>
    private async Task CollectAsync(string environmentId, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
        var live = await db.Environments.Where(e => e.Id == environmentId).Select(e => e.LiveDeploymentId).FirstAsync(ct);
        var retained = await db.Deployments
            .Where(d => d.EnvironmentId == environmentId && d.Status == DeploymentStatus.Ready && !d.ArtifactCollected)
            .OrderByDescending(d => d.FinishedAt).ThenByDescending(d => d.Id).Select(d => new { d.Id, d.ArtifactSha256 }).ToListAsync(ct);
        var keep = retained.Take(Math.Max(1, buildOptions.RetainedReleases)).Select(d => d.Id).Append(live).ToHashSet();
        foreach (var old in retained.Where(d => !keep.Contains(d.Id)))
        {
            await db.Deployments.Where(d => d.Id == old.Id).ExecuteUpdateAsync(s => s.SetProperty(d => d.ArtifactCollected, true), ct);
            deploymentCache.Forget(old.Id);
            files.DeleteRelease(old.Id);
            if (old.ArtifactSha256 is { } sha) await files.DeleteArtifactIfUnusedAsync(db, sha, ct);
        }
    }

    /// <summary>After a crash or restart: nothing stays building or deploying, and every live release serves again.</summary>
    private async Task RecoverAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
        var states = scope.ServiceProvider.GetRequiredService<DeploymentStates>();
        var interrupted = await db.Deployments.Where(d => d.Status == DeploymentStatus.Building || d.Status == DeploymentStatus.Deploying)
            .Select(d => d.Id).ToListAsync(ct);
        foreach (var id in interrupted)
        {
            await logs.OpenAsync(id, ct);
            logs.Append(id, "system", "error", "Interrupted by server restart.");
            await states.TransitionAsync(id, DeploymentStates.NotTerminal, DeploymentStatus.Failed, "Interrupted by server restart.", ct,
                buildStatusWhenRunning: BuildStatus.Failed);
            files.DeleteDirectory(Path.Combine(dataDirectory, "work", id));
            files.DeleteRelease(id);
        }
        if (interrupted.Count > 0) await logs.FlushAsync(ct);

        var live = await (from e in db.Environments
                          join d in db.Deployments on e.LiveDeploymentId equals d.Id
                          join p in db.Projects on e.ProjectId equals p.Id
                          select new { Deployment = d, Project = p, Environment = e }).ToListAsync(ct);
        await Task.WhenAll(live.Select(async l =>
        {
            try
            {
                await logs.OpenAsync(l.Deployment.Id, ct);
                // One scope per release: these run in parallel, and a DbContext serves one operation at a time.
                await using var releaseScope = scopes.CreateAsyncScope();
                var identity = l.Deployment.StaticDirectory is null
                    ? await sandbox.IdentityAsync(releaseScope.ServiceProvider.GetRequiredService<SlipwayDb>(), l.Project.Id, ct)
                    : null;
                var directory = await UnpackReleaseAsync(l.Deployment, identity, ct, reclaim: true);
                if (l.Deployment.StaticDirectory is not null) return;
                var variables = await releaseScope.ServiceProvider.GetRequiredService<EnvVarSecrets>().DecryptAllAsync(l.Project.Id, l.Environment.Id, ct);
                var environment = ProcessEnvironment(variables, l.Project, l.Environment, l.Deployment);
                Sandbox.AddDefaults(environment, identity);
                var spec = new ReleaseSpec(l.Deployment.Id, l.Project.Id, l.Environment.Id, directory, l.Deployment.StartCommand!,
                    environment, l.Project.HealthCheckPath, AlreadyLive: true, LaunchPrefix: sandbox.Prefix(identity, directory, directory),
                    Limits: ResourceRules.Effective(l.Project, l.Environment, runtimeOptions.Resources));
                var masker = new SecretMasker(variables.Values);
                var release = await supervisor.StartAsync(spec, (stream, line) =>
                    logs.Append(l.Deployment.Id, stream == "system" ? "system" : "runtime", stream == "stderr" ? "warn" : "info", masker.Mask(line)), ct);
                await supervisor.WaitHealthyAsync(release, ct);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                RestoreFailed(logger, ex, l.Deployment.Id);
            }
        }));
        await routes.RebuildAsync(ct);
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Error, Message = "Deployment {DeploymentId} failed with an internal error")]
    private static partial void DeploymentCrashed(ILogger logger, Exception ex, string deploymentId);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Error, Message = "The deployment loop failed; retrying")]
    private static partial void DispatchFailed(ILogger logger, Exception ex);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Error, Message = "Could not bring live release {DeploymentId} back after start-up")]
    private static partial void RestoreFailed(ILogger logger, Exception ex, string deploymentId);
}

/// <summary>A deployment failure whose message is safe and useful to show the user.</summary>
internal sealed class DeploymentFailedException(string message) : Exception(message);
