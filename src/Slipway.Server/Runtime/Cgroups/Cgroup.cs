using System.Globalization;
using System.Runtime.InteropServices;

namespace Slipway.Server.Runtime.Cgroups;

/// <summary>
/// One cgroup (in v1: the same name in the memory, pids and cpu hierarchies) holding every process of one release or
/// build. Processes enter it through <see cref="EntryPrefix"/> before they run anything, so nothing they fork escapes it;
/// it is killed as a whole and removed when the release or build ends.
/// </summary>
internal sealed partial class Cgroup(CgroupVersion version, IReadOnlyList<string> directories)
{
    private const int SigKill = 9;
    private static readonly TimeSpan EmptyWait = TimeSpan.FromSeconds(5);

    /// <summary>The entry script: writes its own pid into every <c>cgroup.procs</c> given before <c>--</c>, then execs the rest.</summary>
    internal const string EntryScript = "while [ \"$1\" != -- ]; do echo $$ > \"$1\" || exit 125; shift; done; shift; exec \"$@\"";

    public CgroupVersion Version { get; } = version;

    public IReadOnlyList<string> Directories { get; } = directories;

    /// <summary>
    /// argv to put in front of a program: a shell, still running as the server's user, that moves itself into this
    /// cgroup and then becomes the program (same pid). Paths travel as arguments, never as script text.
    /// </summary>
    public IReadOnlyList<string> EntryPrefix =>
        ["/bin/sh", "-c", EntryScript, "slipway-cgroup-entry", .. Directories.Select(d => Path.Combine(d, "cgroup.procs")), "--"];

    /// <summary>The limit files and what goes in them, in the order they must be written.</summary>
    internal static IReadOnlyList<(string Controller, string File, string Value)> LimitFiles(CgroupVersion version, ResourceLimits limits)
    {
        var bytes = (long)limits.MemoryMb * 1024 * 1024;
        const int period = 100_000;
        var quota = Math.Max(1000, (long)Math.Round(limits.Cpus * period));
        string Text(long value) => value.ToString(CultureInfo.InvariantCulture);
        return version switch
        {
            CgroupVersion.V1 =>
            [
                ("memory", "memory.limit_in_bytes", Text(bytes)),
                // With swap, the limit on memory alone would let the app swap instead of being killed (absent without swap accounting).
                ("memory", "memory.memsw.limit_in_bytes", Text(bytes)),
                ("pids", "pids.max", Text(limits.Pids)),
                ("cpu", "cpu.cfs_period_us", Text(period)),
                ("cpu", "cpu.cfs_quota_us", Text(quota)),
                ("cpu", "cpu.shares", Text(Math.Clamp((long)Math.Round(limits.Cpus * 1024), 2, 262_144))),
            ],
            CgroupVersion.V2 =>
            [
                ("memory", "memory.max", Text(bytes)),
                ("memory", "memory.swap.max", "0"),
                ("pids", "pids.max", Text(limits.Pids)),
                ("cpu", "cpu.max", $"{Text(quota)} {Text(period)}"),
                ("cpu", "cpu.weight", Text(Math.Clamp((long)Math.Round(limits.Cpus * 100), 1, 10_000))),
            ],
            _ => throw new ArgumentOutOfRangeException(nameof(version)),
        };
    }

    /// <summary>Creates the directories (again, after a release was restarted) and writes the limits.</summary>
    public void Create(ResourceLimits limits)
    {
        foreach (var directory in Directories) Directory.CreateDirectory(directory);
        foreach (var (controller, file, value) in LimitFiles(Version, limits))
        {
            var path = Path.Combine(DirectoryOf(controller), file);
            // Optional files (swap accounting off) are skipped; a required one that cannot be written is an error.
            if (file is "memory.memsw.limit_in_bytes" or "memory.swap.max" && !File.Exists(path)) continue;
            File.WriteAllText(path, value);
        }
    }

    /// <summary>How many processes the kernel's OOM killer has killed in this cgroup so far.</summary>
    public long OomKills()
    {
        var (file, key) = Version == CgroupVersion.V1 ? ("memory.oom_control", "oom_kill") : ("memory.events", "oom_kill");
        try
        {
            foreach (var line in File.ReadLines(Path.Combine(DirectoryOf("memory"), file)))
            {
                var parts = line.Split(' ');
                if (parts.Length == 2 && parts[0] == key && long.TryParse(parts[1], CultureInfo.InvariantCulture, out var count)) return count;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return 0;
    }

    /// <summary>The pids in the cgroup (empty when it does not exist).</summary>
    public IReadOnlyList<int> Processes()
    {
        try
        {
            return File.ReadAllLines(Path.Combine(Directories[0], "cgroup.procs"))
                .Select(l => int.TryParse(l, CultureInfo.InvariantCulture, out var pid) ? pid : 0).Where(p => p > 0).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>
    /// SIGKILL to every process in the cgroup, those forked meanwhile included, and waits (bounded) until it is empty.
    /// v2 has <c>cgroup.kill</c>; otherwise kill what is listed until nothing is: a process can only appear by forking
    /// from one that is listed, and the pids limit bounds how many there can be.
    /// </summary>
    public async Task KillAllAsync()
    {
        var killFile = Path.Combine(Directories[0], "cgroup.kill");
        var deadline = DateTime.UtcNow + EmptyWait;
        if (Version == CgroupVersion.V2 && File.Exists(killFile)) TryWrite(killFile, "1");
        while (DateTime.UtcNow < deadline)
        {
            var pids = Processes();
            if (pids.Count == 0) return;
            foreach (var pid in pids) _ = Kill(pid, SigKill);
            await Task.Delay(10);
        }
    }

    /// <summary>Removes the (empty) directories; false when one is still busy.</summary>
    public bool Remove()
    {
        var removed = true;
        foreach (var directory in Directories)
        {
            try
            {
                if (Directory.Exists(directory)) Directory.Delete(directory);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                removed = false;
            }
        }
        return removed;
    }

    private string DirectoryOf(string controller) =>
        Version == CgroupVersion.V1 ? Directories[Array.IndexOf(CgroupMounts.V1Controllers, controller)] : Directories[0];

    private static void TryWrite(string path, string value)
    {
        try
        {
            File.WriteAllText(path, value);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
