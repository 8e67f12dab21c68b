using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Slipway.Server.Builds;
using Slipway.Server.Hosting;
using Slipway.Server.Runtime;
using Slipway.Server.Runtime.Cgroups;
using Slipway.Server.Runtime.Sandbox;

namespace Slipway.Server.Deployments;

/// <summary>
/// Build and artifact: the plan (explicit commands win over framework detection), the build command in the sandbox
/// and its cgroup, then the output packed as a content-addressed artifact recorded on the deployment.
/// </summary>
internal sealed class BuildPhase(ShellRunner shell, Sandbox sandbox, Confinement confinement, ArtifactStore artifacts, BuildOptions buildOptions,
    RuntimeOptions runtimeOptions, TimeProvider time)
{
    public async Task BuildAsync(DeploymentRun run, SourceTree source, CancellationToken ct)
    {
        var (project, environment) = (run.Project, run.Environment);
        var plan = FrameworkDetection.Plan(source.Root, project.Framework, environment.BuildCommand ?? project.BuildCommand,
            environment.StartCommand ?? project.StartCommand, project.OutputDirectory);
        run.Log("system", $"Framework {plan.Framework}: build `{plan.BuildCommand ?? "(none)"}`, " +
                          (plan.IsStatic ? $"static site from '{plan.OutputDirectory}'" : $"start `{plan.StartCommand}`"));
        var deployment = run.Deployment;
        deployment.Framework = plan.Framework;
        await run.Db.SaveChangesAsync(ct);
        var phase = Stopwatch.StartNew();
        if (plan.BuildCommand is { } command)
        {
            var buildEnvironment = run.ProcessEnvironment();
            buildEnvironment["CI"] = "true";
            Sandbox.AddDefaults(buildEnvironment, run.Identity);
            sandbox.HandOver(source.Directory, run.Identity);
            var unit = confinement.Open("build-" + run.Id, ResourceRules.Effective(project, environment, runtimeOptions.Resources));
            ProcessResult result;
            string? outOfMemory;
            try
            {
                result = await shell.RunAsync(command, source.Root, buildEnvironment, buildOptions.BuildTimeout,
                    (stream, line) => run.Log("build", line, stream == "stderr" ? "warn" : "info"), ct, unit,
                    sandbox.Prefix(run.Identity, source.Directory, source.Root));
                outOfMemory = unit.OutOfMemorySince(0);
            }
            finally
            {
                await unit.CloseAsync();
            }
            // Written even when canceled: the deployment keeps what ran.
            await run.RecordAsync("build_ms", phase, CancellationToken.None);
            if (result.Canceled) throw new OperationCanceledException(ct);
            if (result.TimedOut) throw new DeploymentFailedException($"The build timed out after {buildOptions.BuildTimeout}.");
            if (result.ExitCode != 0 && outOfMemory is not null) throw new DeploymentFailedException($"The build command failed. {outOfMemory}.");
            if (result.ExitCode != 0) throw new DeploymentFailedException($"The build command exited with code {result.ExitCode}.");
        }

        phase.Restart();
        var packed = plan.IsStatic ? Path.GetFullPath(Path.Combine(source.Root, plan.OutputDirectory ?? ".")) : source.Root;
        if (!packed.StartsWith(source.Directory, StringComparison.Ordinal) || !Directory.Exists(packed))
        {
            throw new DeploymentFailedException($"The output directory '{plan.OutputDirectory}' does not exist after the build.");
        }
        // The server packs as itself: a link the build made (dist -> /the/data/directory) must not be followed.
        if (SourcePhase.ThroughALink(source.Directory, packed))
        {
            throw new DeploymentFailedException($"The output directory '{plan.OutputDirectory}' is a link; it must be a directory the build wrote.");
        }
        var artifact = await artifacts.PackAsync(packed, ct,
            run.Deployment.UploadId is null ? System.IO.Compression.CompressionLevel.Fastest : System.IO.Compression.CompressionLevel.NoCompression);
        run.Timings["pack_ms"] = phase.ElapsedMilliseconds;
        deployment.StartCommand = plan.IsStatic ? null : plan.StartCommand;
        deployment.StaticDirectory = plan.IsStatic ? "." : null;
        deployment.ArtifactSha256 = artifact.Sha256;
        deployment.ArtifactSize = artifact.Size;
        deployment.BuildFinishedAt = time.UtcNowMs();
        deployment.BuildStatus = BuildStatus.Succeeded;
        deployment.Timings = JsonSerializer.Serialize(run.Timings);
        await run.Db.SaveChangesAsync(ct);
        run.Log("system", $"Build succeeded: artifact {artifact.Sha256[..12]} ({artifact.Size.ToString("N0", CultureInfo.InvariantCulture)} bytes).");
    }
}
