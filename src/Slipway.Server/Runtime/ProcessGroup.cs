using System.Diagnostics;
using System.Runtime.InteropServices;
using Slipway.Server.Builds;

namespace Slipway.Server.Runtime;

/// <summary>
/// A shell command running in its own process group (started through <c>setsid</c>), so the whole tree it spawns
/// can be signalled at once. Used for builds and for releases. The environment is exactly what the caller passes
/// plus a minimal base (PATH, HOME, LANG): the server's own environment, which may hold secrets, is never inherited.
/// </summary>
internal sealed partial class ProcessGroup : IAsyncDisposable
{
    private const int SigTerm = 15;
    private const int SigKill = 9;
    private readonly Process process;
    private readonly TaskCompletionSource<int> exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource outputClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int closedStreams;

    private ProcessGroup(Process process)
    {
        this.process = process;
    }

    public int Pid => process.Id;

    /// <summary>Completes with the exit code when the shell exits.</summary>
    public Task<int> Exited => exited.Task;

    public static ProcessGroup Start(string command, string workingDirectory, IReadOnlyDictionary<string, string> environment, LineSink onLine) =>
        StartProgram("/bin/sh", ["-c", command], workingDirectory, environment, onLine);

    /// <summary>
    /// Runs a program with an argument array (no shell involved, so arguments are never re-parsed), in its own group
    /// with the same clean environment as <see cref="Start"/>. For tools such as git that take untrusted values.
    /// </summary>
    public static ProcessGroup StartProgram(string fileName, IReadOnlyList<string> arguments, string workingDirectory,
        IReadOnlyDictionary<string, string> environment, LineSink onLine)
    {
        var info = new ProcessStartInfo("setsid")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(fileName);
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        info.Environment.Clear();
        info.Environment["PATH"] = Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
        info.Environment["HOME"] = Environment.GetEnvironmentVariable("HOME") ?? workingDirectory;
        info.Environment["LANG"] = "C.UTF-8";
        foreach (var (key, value) in environment) info.Environment[key] = value;

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var group = new ProcessGroup(process);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null) onLine("stdout", e.Data);
            else group.StreamClosed();
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null) onLine("stderr", e.Data);
            else group.StreamClosed();
        };
        process.Exited += (_, _) => group.exited.TrySetResult(SafeExitCode(process));
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (process.HasExited) group.exited.TrySetResult(SafeExitCode(process));
        return group;
    }

    /// <summary>
    /// Completes when stdout and stderr are both closed, i.e. every line has been passed to the sink. <see cref="Exited"/>
    /// can complete before the last lines are delivered, and a child that outlives the shell keeps the pipes open.
    /// </summary>
    public Task OutputClosed => outputClosed.Task;

    private void StreamClosed()
    {
        if (Interlocked.Increment(ref closedStreams) == 2) outputClosed.TrySetResult();
    }

    /// <summary>Sends a signal to every process in the group (the shell and everything it started).</summary>
    public void Signal(int signal)
    {
        if (OperatingSystem.IsWindows()) return;
        _ = Kill(-process.Id, signal);
    }

    /// <summary>SIGTERM to the group, then SIGKILL to the group after <paramref name="grace"/>; waits for the shell.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        Signal(SigTerm);
        var done = await Task.WhenAny(Exited, Task.Delay(grace));
        // Also after a clean exit: children that outlived the shell (daemons, watchers) must not linger.
        Signal(SigKill);
        if (done != Exited) await ((Task)Exited).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <summary>Kills whatever is left of the group (e.g. after the shell exited on its own).</summary>
    public void KillAll() => Signal(SigKill);

    public async ValueTask DisposeAsync()
    {
        if (!Exited.IsCompleted) await StopAsync(TimeSpan.FromSeconds(2));
        KillAll();
        process.Dispose();
    }

    private static int SafeExitCode(Process process)
    {
        try
        {
            return process.ExitCode;
        }
        catch (InvalidOperationException)
        {
            return -1;
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
