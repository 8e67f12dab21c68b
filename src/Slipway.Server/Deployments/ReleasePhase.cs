using Slipway.Server.Builds;
using Slipway.Server.Hosting;
using Slipway.Server.Projects;
using Slipway.Server.Routing;
using Slipway.Server.Runtime;
using Slipway.Server.Runtime.Cgroups;
using Slipway.Server.Runtime.Sandbox;

namespace Slipway.Server.Deployments;

/// <summary>
/// Release: the artifact unpacked to <c>&lt;data&gt;/releases/&lt;deployment&gt;</c>; a static site is ready as it is, a process
/// is started in the sandbox and must pass its health check. Nothing routes to it yet (that is <see cref="RoutePhase"/>).
/// </summary>
internal sealed class ReleasePhase(ArtifactStore artifacts, ReleaseFiles files, Supervisor supervisor, Sandbox sandbox, RuntimeOptions runtimeOptions,
    IConfiguration configuration)
{
    private readonly string releases = configuration.ReleasesDirectory();

    /// <summary>The route target and the process when there is one (the caller stops it if the switch fails).</summary>
    public async Task<(RouteTarget Target, RunningRelease? Started)> ReleaseAsync(DeploymentRun run, CancellationToken ct)
    {
        var (deployment, project) = (run.Deployment, run.Project);
        var phase = System.Diagnostics.Stopwatch.StartNew();
        var directory = await UnpackAsync(deployment, run.Identity, ct);
        if (deployment.StaticDirectory is { } staticDirectory)
        {
            run.Log("system", "Static release ready; the router serves it directly.");
            run.Timings["release_ms"] = phase.ElapsedMilliseconds;
            return (new RouteTarget(run.Id, null, Path.GetFullPath(Path.Combine(directory, staticDirectory))), null);
        }
        var environment = run.ProcessEnvironment();
        var started = await StartAsync(deployment, project, run.Environment, environment, run.Identity, directory, alreadyLive: false,
            (stream, line) => run.Log(stream == "system" ? "system" : "runtime", line, stream == "stderr" ? "warn" : "info"), ct);
        run.Log("system", $"Started `{deployment.StartCommand}` on port {started.Port}; waiting for {project.HealthCheckPath} to answer 2xx/3xx.");
        try
        {
            if (!await supervisor.WaitHealthyAsync(started, ct))
            {
                ct.ThrowIfCancellationRequested();
                throw new DeploymentFailedException(WrongPort(started, deployment.Framework)
                    ?? await ExitedBeforeHealthyAsync(started, project.HealthCheckPath, ct)
                    ?? $"The release did not pass its health check on {project.HealthCheckPath} within {runtimeOptions.HealthCheckTimeout.TotalSeconds:0} s.");
            }
        }
        catch
        {
            run.Timings["release_ms"] = phase.ElapsedMilliseconds;
            // Nothing routes to it yet: it can simply go.
            await supervisor.StopAsync(run.Id, TimeSpan.Zero);
            throw;
        }
        run.Timings["release_ms"] = phase.ElapsedMilliseconds;
        return (new RouteTarget(run.Id, started.Upstream, null), started);
    }

    /// <summary>The headline when the app listens, but not on the port it was given, with how to read that port in its language.</summary>
    private static string? WrongPort(RunningRelease started, string? framework) => started.WrongPorts is { Count: > 0 } ports
        ? $"The app listens on {string.Join(" and ", ports)}, not on $PORT ({started.Port}): bind to " + framework switch
        {
            "python" => "os.environ[\"PORT\"]",
            "go" => "os.Getenv(\"PORT\")",
            "dotnet" => "the PORT environment variable (ASPNETCORE_URLS=http://+:$PORT)",
            _ => "process.env.PORT",
        }
        : null;

    /// <summary>
    /// The headline when the start command ended before it ever answered ("The start command exited with code 1 before
    /// answering on /"), or null when it is still running (it just never answered in time). The supervisor records why
    /// it exited a moment after the exit itself.
    /// </summary>
    private static async Task<string?> ExitedBeforeHealthyAsync(RunningRelease started, string path, CancellationToken ct)
    {
        if (started.CurrentOrNull is not { Exited: { IsCompleted: true } exited }) return null;
        for (var i = 0; i < 100 && started.LastExit is null; i++) await Task.Delay(20, ct);
        var why = started.LastExit ?? $"Exited with code {await exited}";
        return why.StartsWith("Exited ", StringComparison.Ordinal)
            ? $"The start command {why.ToLowerInvariant()} before answering on {path}."
            : $"The start command stopped before answering on {path}: {why}.";
    }

    /// <summary>A live release after a restart: unpacked again if it has to be, handed over, started and waited for.</summary>
    public async Task RestoreAsync(Deployment deployment, Project project, ProjectEnvironment environment, IReadOnlyDictionary<string, string> variables,
        SandboxIdentity? identity, LineSink log, CancellationToken ct)
    {
        var directory = await UnpackAsync(deployment, identity, ct, reclaim: true);
        if (deployment.StaticDirectory is not null) return;
        var processEnvironment = DeploymentRun.ProcessEnvironment(variables, project, environment, deployment);
        var release = await StartAsync(deployment, project, environment, processEnvironment, identity, directory, alreadyLive: true, log, ct);
        await supervisor.WaitHealthyAsync(release, ct);
    }

    private Task<RunningRelease> StartAsync(Deployment deployment, Project project, ProjectEnvironment environment, Dictionary<string, string> processEnvironment,
        SandboxIdentity? identity, string directory, bool alreadyLive, LineSink log, CancellationToken ct)
    {
        Sandbox.AddDefaults(processEnvironment, identity);
        var spec = new ReleaseSpec(deployment.Id, project.Id, environment.Id, directory, deployment.StartCommand!, processEnvironment,
            project.HealthCheckPath, AlreadyLive: alreadyLive, LaunchPrefix: sandbox.Prefix(identity, directory, directory),
            Limits: ResourceRules.Effective(project, environment, runtimeOptions.Resources));
        return supervisor.StartAsync(spec, log, ct);
    }

    /// <summary>
    /// Unpacks the release once; an app's release belongs to its project's sandbox uid (the router reads static ones).
    /// <paramref name="reclaim"/> (start-up): an existing directory is handed over again, so releases unpacked before
    /// the sandbox (or while it was off) become writable to their app.
    /// </summary>
    private async Task<string> UnpackAsync(Deployment deployment, SandboxIdentity? identity, CancellationToken ct, bool reclaim = false)
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
}
