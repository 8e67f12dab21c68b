using System.Diagnostics;
using System.Text.Json;
using Slipway.Server.Builds;
using Slipway.Server.Data;
using Slipway.Server.EnvVars;
using Slipway.Server.Hosting;
using Slipway.Server.Logs;
using Slipway.Server.Runtime;
using Slipway.Server.Runtime.Sandbox;

namespace Slipway.Server.Deployments;

/// <summary>
/// Runs queued deployments through the pipeline: source (<see cref="SourcePhase"/>: a git commit and its security gate, or an
/// approved upload) → build and artifact (<see cref="BuildPhase"/>) → release (<see cref="ReleasePhase"/>: unpack, start,
/// health) → route (<see cref="RoutePhase"/>: route first, switch, drain, retention).
/// The database is the source of truth: the loop claims work with guarded updates, at most one deployment per
/// environment at a time (oldest first) and at most <see cref="BuildOptions.MaxConcurrentBuilds"/> overall.
/// On start it ends every deployment a crash or restart interrupted and brings live releases back.
/// </summary>
internal sealed partial class DeploymentWorker(
    IServiceScopeFactory scopes, DeploymentQueue queue, LogWriter logs, SourcePhase sourcePhase, BuildPhase buildPhase, ReleasePhase releasePhase,
    RoutePhase routePhase, ReleaseFiles files, Supervisor supervisor, Sandbox sandbox, RouteSync routes, BuildOptions buildOptions,
    IConfiguration configuration, TimeProvider time, ILogger<DeploymentWorker> logger) : BackgroundService
{
    private readonly string dataDirectory = configuration.DataDirectory();

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

    /// <summary>source → build → artifact → release → route, each phase recording its timing; any failure ends it failed or canceled.</summary>
    private async Task RunAsync(string id, CancellationToken stopping)
    {
        using var cancel = queue.Register(id, stopping);
        var ct = cancel.Token;
        var workDirectory = Path.Combine(dataDirectory, "work", id);
        var total = Stopwatch.StartNew();
        RunningRelease? started = null;
        await logs.OpenAsync(id, CancellationToken.None);
        await using var scope = scopes.CreateAsyncScope();
        var run = new DeploymentRun(id, scope.ServiceProvider.GetRequiredService<SlipwayDb>(), scope.ServiceProvider, logs, workDirectory);
        var states = scope.ServiceProvider.GetRequiredService<DeploymentStates>();
        try
        {
            await run.LoadAsync(ct);
            // Canceled between the claim and the registration of its cancellation: nothing may start.
            if (run.Deployment.Status != DeploymentStatus.Building) throw new OperationCanceledException(ct);
            await run.UnlockAsync(sandbox, ct);
            var deployment = run.Deployment;
            run.Timings["queue_ms"] = (long)((deployment.StartedAt ?? deployment.CreatedAt) - deployment.CreatedAt).TotalMilliseconds;

            if (deployment.Trigger == DeploymentTrigger.Rollback)
            {
                run.Log("system", $"Rolling back to the release of deployment {deployment.SourceDeploymentId} (artifact {deployment.ArtifactSha256![..12]}): no rebuild.");
            }
            else
            {
                var source = await sourcePhase.FetchAsync(run, ct);
                await buildPhase.BuildAsync(run, source, ct);
            }

            if (!await states.TransitionAsync(id, d => d.Status == DeploymentStatus.Building, DeploymentStatus.Deploying, null, ct))
            {
                throw new OperationCanceledException(ct);
            }
            (_, started) = await releasePhase.ReleaseAsync(run, ct);
            run.Timings["total_ms"] = total.ElapsedMilliseconds;
            if (!await routePhase.SwitchAsync(run, states, ct)) throw new OperationCanceledException(ct);
            started = null;
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            await EndAsync(run, states, DeploymentStatus.Failed, "Interrupted by server shutdown.");
        }
        catch (OperationCanceledException)
        {
            await EndAsync(run, states, DeploymentStatus.Canceled, "Canceled by request.");
        }
        catch (Exception ex) when (ex is DeploymentFailedException or BuildException or SecretUnavailableException or SandboxUnavailableException)
        {
            await EndAsync(run, states, DeploymentStatus.Failed, run.WithContext(ex.Message));
        }
        catch (Exception ex)
        {
            DeploymentCrashed(logger, ex, id);
            await EndAsync(run, states, DeploymentStatus.Failed, "Slipway hit an internal error while deploying; see the server log.");
        }
        finally
        {
            if (started is not null)
            {
                // Never became live: make sure no route still points at it (route-first switch), then stop it.
                await routes.SettleAsync(run.Deployment.EnvironmentId, CancellationToken.None);
                await supervisor.StopAsync(id, TimeSpan.Zero);
            }
            queue.Unregister(id);
            files.DeleteDirectory(workDirectory);
        }
    }

    private async Task EndAsync(DeploymentRun run, DeploymentStates states, DeploymentStatus status, string error)
    {
        var (db, id) = (run.Db, run.Id);
        run.Log("system", error, status == DeploymentStatus.Canceled ? "warn" : "error");
        await logs.FlushAsync(CancellationToken.None);
        var build = status == DeploymentStatus.Canceled ? BuildStatus.Canceled : BuildStatus.Failed;
        // Guarded: a cancel request may already have ended it, and the build may already have succeeded. A release that
        // never went live is never rolled back to: its artifact is marked collected in the same transition.
        var sha = await db.Deployments.Where(d => d.Id == id && d.Trigger != DeploymentTrigger.Rollback).Select(d => d.ArtifactSha256)
            .FirstOrDefaultAsync(CancellationToken.None);
        var timingsJson = run.Timings.Count == 0 ? null : JsonSerializer.Serialize(run.Timings);
        await states.TransitionAsync(id, DeploymentStates.NotTerminal, status, error, CancellationToken.None,
            buildStatusWhenRunning: build,
            alsoInTransaction: () => db.Deployments.Where(d => d.Id == id).ExecuteUpdateAsync(s => s
                .SetProperty(d => d.Timings, d => timingsJson ?? d.Timings)
                .SetProperty(d => d.ArtifactCollected, d => d.ArtifactSha256 != null && d.Trigger != DeploymentTrigger.Rollback), CancellationToken.None));
        files.DeleteRelease(id);
        if (sha is not null) await files.DeleteArtifactIfUnusedAsync(db, sha, CancellationToken.None);
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
                var variables = l.Deployment.StaticDirectory is null
                    ? await releaseScope.ServiceProvider.GetRequiredService<EnvVarSecrets>().DecryptAllAsync(l.Project.Id, l.Environment.Id, ct)
                    : new Dictionary<string, string>();
                var masker = new SecretMasker(variables.Values);
                await releasePhase.RestoreAsync(l.Deployment, l.Project, l.Environment, variables, identity, (stream, line) =>
                    logs.Append(l.Deployment.Id, stream == "system" ? "system" : "runtime", stream == "stderr" ? "warn" : "info", masker.Mask(line)), ct);
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

