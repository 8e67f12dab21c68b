using System.Diagnostics;
using System.Globalization;
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
    private const int Esrch = 3;
    private static readonly TimeSpan OutputDrainTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan GroupPollInterval = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan KillWait = TimeSpan.FromSeconds(2);
    private const int ReaderStackSize = 256 * 1024;
    private readonly Process process;
    private readonly TaskCompletionSource<int> exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource outputClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int closedStreams;
    private volatile bool shellExited;
    private volatile bool disposed;

    private ProcessGroup(Process process)
    {
        this.process = process;
    }

    /// <summary>Pid of the shell, which is also the process group id. Kept after exit and disposal.</summary>
    public int Pid { get; private set; }

    /// <summary>Completes with the exit code when the shell exits.</summary>
    public Task<int> Exited => exited.Task;

    public static ProcessGroup Start(string command, string workingDirectory, IReadOnlyDictionary<string, string> environment, LineSink onLine,
        IReadOnlyList<string>? launchPrefix = null) =>
        StartProgram("/bin/sh", ["-c", command], workingDirectory, environment, onLine, launchPrefix);

    /// <summary>
    /// Runs a program with an argument array (no shell involved, so arguments are never re-parsed), in its own group
    /// with the same clean environment as <see cref="Start"/>. For tools such as git that take untrusted values.
    /// <paramref name="launchPrefix"/>: argv that runs first, after <c>setsid</c>, and ends by exec'ing the program
    /// (the cgroup entry, the sandbox).
    /// </summary>
    public static ProcessGroup StartProgram(string fileName, IReadOnlyList<string> arguments, string workingDirectory,
        IReadOnlyDictionary<string, string> environment, LineSink onLine, IReadOnlyList<string>? launchPrefix = null)
    {
        var info = new ProcessStartInfo("setsid")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in launchPrefix ?? []) info.ArgumentList.Add(argument);
        info.ArgumentList.Add(fileName);
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        info.Environment.Clear();
        info.Environment["PATH"] = Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
        info.Environment["HOME"] = Environment.GetEnvironmentVariable("HOME") ?? workingDirectory;
        info.Environment["LANG"] = "C.UTF-8";
        foreach (var (key, value) in environment) info.Environment[key] = value;

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var group = new ProcessGroup(process);
        process.Exited += (_, _) => _ = group.CompleteAsync();
        process.Start();
        group.Pid = process.Id;
        process.StandardInput.Close();
        group.StartReader(process.StandardOutput.BaseStream, "stdout", onLine);
        group.StartReader(process.StandardError.BaseStream, "stderr", onLine);
        if (process.HasExited) _ = group.CompleteAsync();
        return group;
    }

    /// <summary>
    /// Reads one pipe on a thread of its own, so that a sink that waits (the log writer paces a build that writes faster
    /// than storage takes it) holds up only this pipe, and never a thread-pool thread that the streams to log
    /// followers need. Lines are cut as <see cref="LineSplitter"/> says. The thread ends when every holder of the pipe's
    /// other end has closed it (the group's processes exit), and closes the pipe. Lines that arrive after the group was
    /// disposed (from a process that left the group and kept the pipe) are dropped.
    /// </summary>
    private void StartReader(Stream pipe, string name, LineSink onLine)
    {
        var thread = new Thread(() =>
        {
            try
            {
                LineSplitter.Read(pipe, line =>
                {
                    if (!disposed) onLine(name, line);
                });
            }
            catch (IOException)
            {
                // The pipe went away with the process.
            }
            finally
            {
                // Reading StandardOutput/StandardError puts Process in synchronous mode, where disposing it leaves the
                // streams open: close them here, or every command would leak two descriptors until a finalizer ran.
                pipe.Dispose();
                StreamClosed();
            }
        }, ReaderStackSize) { IsBackground = true, Name = $"slipway {name} reader" };
        thread.Start();
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
        // Right after Start, setsid may not have made the group yet: then the shell is the one to signal.
        if (Kill(-Pid, signal) != 0 && Marshal.GetLastPInvokeError() == Esrch && !shellExited) _ = Kill(Pid, signal);
    }

    /// <summary>
    /// SIGTERM to the group, then SIGKILL to the group once every process in it is gone or after
    /// <paramref name="grace"/>; waits for the shell. The shell usually dies of SIGTERM at once while the app behind it
    /// is still shutting down, so the grace is measured on the whole group, not on the shell.
    /// </summary>
    public async Task StopAsync(TimeSpan grace)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(grace.TotalSeconds * Stopwatch.Frequency);
        Signal(SigTerm);
        await Task.WhenAny(Exited, Task.Delay(grace));
        while (GroupAlive() && Stopwatch.GetTimestamp() < deadline) await Task.Delay(GroupPollInterval);
        // Also after a clean exit: children that outlived the shell (daemons, watchers) must not linger.
        Signal(SigKill);
        if (!Exited.IsCompleted) await ((Task)Exited).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        // SIGKILL is delivered asynchronously: when this returns, nothing of the group runs or holds a port any more.
        var killDeadline = Stopwatch.GetTimestamp() + (long)(KillWait.TotalSeconds * Stopwatch.Frequency);
        while (GroupAlive() && Stopwatch.GetTimestamp() < killDeadline) await Task.Delay(GroupPollInterval / 5);
    }

    /// <summary>Kills whatever is left of the group (e.g. after the shell exited on its own).</summary>
    public void KillAll() => Signal(SigKill);

    public async ValueTask DisposeAsync()
    {
        if (!Exited.IsCompleted) await StopAsync(TimeSpan.FromSeconds(2));
        KillAll();
        disposed = true;
        process.Dispose();
    }

    /// <summary>Whether any process of the group is still running.</summary>
    private bool GroupAlive()
    {
        if (OperatingSystem.IsWindows() || Kill(-Pid, 0) != 0) return false;
        if (!OperatingSystem.IsLinux()) return true;
        // kill(2) also counts zombies, and where nobody reaps orphans (the server as PID 1 in a container) they stay
        // forever: only a member that is not a zombie keeps the grace running.
        foreach (var entry in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), out _)) continue;
            try
            {
                var stat = File.ReadAllText(Path.Combine(entry, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (fields.Length > 2 && fields[2] == Pid.ToString(CultureInfo.InvariantCulture) && fields[0] is not ("Z" or "X")) return true;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The process went away while we looked.
            }
        }
        return false;
    }

    /// <summary>
    /// The Exited event can fire before the last output lines were delivered; wait for both streams to end (bounded:
    /// a grandchild may hold them open) so <see cref="Exited"/> comes after the process's final words.
    /// </summary>
    private async Task CompleteAsync()
    {
        shellExited = true;
        try
        {
            await outputClosed.Task.WaitAsync(OutputDrainTimeout).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await process.WaitForExitAsync().ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException)
        {
            // Disposed meanwhile: the exit code below says -1.
        }
        finally
        {
            exited.TrySetResult(SafeExitCode(process));
        }
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
