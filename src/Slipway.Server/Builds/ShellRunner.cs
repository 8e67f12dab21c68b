using Slipway.Server.Runtime;
using Slipway.Server.Runtime.Cgroups;

namespace Slipway.Server.Builds;

/// <summary>
/// Runs one build command through <c>/bin/sh -c</c> in its own process group. A timeout or a cancellation ends the
/// whole tree (SIGTERM, a short grace, SIGKILL), and after a normal exit whatever the command left running is killed.
/// With a <see cref="ConfinedUnit"/> the command runs in its cgroup (limits), and "whatever it left" is everything in
/// that cgroup, processes that left the group included; <c>sandboxPrefix</c> (the project's bubblewrap) goes after the
/// cgroup entry, so the command runs confined in both.
/// </summary>
internal sealed class ShellRunner(TimeProvider time)
{
    /// <summary>Between SIGTERM and SIGKILL; short, so the tree is gone well within 5 s.</summary>
    public static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(2);

    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(2);

    public async Task<ProcessResult> RunAsync(string command, string workingDirectory, IReadOnlyDictionary<string, string> environment,
        TimeSpan timeout, LineSink onLine, CancellationToken ct, ConfinedUnit? unit = null, IReadOnlyList<string>? sandboxPrefix = null)
    {
        var started = time.GetTimestamp();
        await using var group = ProcessGroup.Start(command, workingDirectory, environment, onLine, [.. unit?.LaunchPrefix ?? [], .. sandboxPrefix ?? []]);
        unit?.Started(group.Pid);
        using var deadline = new CancellationTokenSource(timeout, time);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct, deadline.Token);

        int exitCode;
        try
        {
            exitCode = await group.Exited.WaitAsync(stop.Token);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            await group.StopAsync(StopGrace);
            if (unit is not null) await unit.KillAllAsync();
            await DrainAsync(group);
            var code = group.Exited.IsCompletedSuccessfully ? group.Exited.Result : -1;
            var canceled = ct.IsCancellationRequested;
            return new ProcessResult(code, TimedOut: !canceled, Canceled: canceled, time.GetElapsedTime(started));
        }

        // Children that outlived the shell (a forgotten `&`, a daemonised dev server) must not survive the build.
        group.KillAll();
        if (unit is not null) await unit.KillAllAsync();
        await DrainAsync(group);
        return new ProcessResult(exitCode, TimedOut: false, Canceled: false, time.GetElapsedTime(started));
    }

    /// <summary>Lets the last lines reach the sink; bounded, in case something outside the group holds the pipes.</summary>
    private static async Task DrainAsync(ProcessGroup group) =>
        await group.OutputClosed.WaitAsync(DrainTimeout).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
}
