using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace Slipway.Server.Runtime.Cgroups;

/// <summary>
/// Puts every release and build of this server into a cgroup of its own (limits, an exact kill, OOM detection) and keeps
/// a run record of each one's process group under <c>&lt;data&gt;/run</c>, so that after a crash of the server the next
/// start stops whatever the previous one left running (<see cref="ReapLeftoversAsync"/>). The cgroups of one server
/// live under <c>slipway-&lt;hash of its data directory&gt;</c> inside the server's own cgroup: several servers on one
/// machine never touch each other's. With <c>Slipway:Runtime:Sandbox=none</c> no cgroup is used (no limits); the run
/// records still are.
/// </summary>
internal sealed partial class Confinement
{
    private const int SigKill = 9;
    private readonly Lock gate = new();
    private readonly string runDirectory;
    private readonly ILogger logger;
    private bool rootReady;

    public Confinement(RuntimeOptions options, Sandbox.SandboxOptions sandbox, string dataDirectory, ILogger<Confinement> logger)
    {
        Options = options;
        Disabled = sandbox.Sandbox == Sandbox.SandboxMode.None;
        this.logger = logger;
        runDirectory = Path.Combine(dataDirectory, "run");
        InstanceName = "slipway-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Path.GetFullPath(dataDirectory))))[..12];
        if (Disabled)
        {
            Problem = "disabled by Slipway:Runtime:Sandbox=none";
            return;
        }
        var parents = CgroupMounts.Detect(options.CgroupParent, out var problem);
        Problem = problem;
        Roots = parents is null ? null : parents with { Directories = parents.Directories.Select(d => Path.Combine(d, InstanceName)).ToList() };
    }

    public RuntimeOptions Options { get; }

    /// <summary>The operator switched the sandbox off (<c>Slipway:Runtime:Sandbox=none</c>).</summary>
    public bool Disabled { get; }

    /// <summary>This server's cgroup directories (one per v1 controller, or one for v2); null when cgroups are not used.</summary>
    public CgroupParents? Roots { get; private set; }

    /// <summary>Why cgroups are not used (empty when they are).</summary>
    public string Problem { get; private set; }

    public string InstanceName { get; }

    /// <summary>
    /// At start-up: refuses to run without usable cgroups unless the sandbox is off, checks the configured limits, and
    /// stops what a previous run of this server left behind. Throws <see cref="InvalidOperationException"/> with what
    /// is missing.
    /// </summary>
    public async Task StartAsync()
    {
        CheckSettings(Options.Resources);
        if (Disabled)
        {
            CgroupLog.SandboxDisabled(logger);
        }
        else
        {
            try
            {
                EnsureRoot();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
            {
                Problem = e.Message;
                Roots = null;
            }
            if (Roots is null)
            {
                throw new InvalidOperationException(
                    $"Slipway needs cgroups to limit and contain builds and apps, and cannot use them: {Problem}. Run the server as root " +
                    "on a machine with cgroup v2 (memory, pids and cpu controllers) or cgroup v1 memory, pids and cpu hierarchies, or set " +
                    "Slipway:Runtime:CgroupParent to a cgroup delegated to it; or set Slipway:Runtime:Sandbox=none to run without any " +
                    "sandbox (no limits).");
            }
            CgroupLog.Using(logger, Roots.Version, Roots.Directories);
        }
        var reaped = await ReapLeftoversAsync();
        if (reaped > 0) CgroupLog.Reaped(logger, reaped);
    }

    /// <summary>A release's or build's confinement: its cgroup (created now, with the limits) and its run record.</summary>
    public ConfinedUnit Open(string name, ResourceLimits? limits)
    {
        limits ??= Defaults;
        Cgroup? cgroup = null;
        if (Roots is { } roots)
        {
            EnsureRoot();
            cgroup = new Cgroup(roots.Version, roots.Directories.Select(d => Path.Combine(d, name)).ToList());
            cgroup.Create(limits);
        }
        return new ConfinedUnit(name, limits, cgroup, Path.Combine(runDirectory, name + ".pgid"));
    }

    public ResourceLimits Defaults => new(Options.Resources.Default.MemoryMb, Options.Resources.Default.Cpus, Options.Resources.Default.Pids);

    /// <summary>
    /// Stops every process a previous run of this server left: the process groups of the run records (if the recorded
    /// start time still matches, so a reused pid is never hit) and everything in this server's cgroups, which are then
    /// removed. Returns how many releases or builds were found.
    /// </summary>
    public async Task<int> ReapLeftoversAsync()
    {
        var found = 0;
        if (Directory.Exists(runDirectory))
        {
            foreach (var record in Directory.EnumerateFiles(runDirectory, "*.pgid"))
            {
                found++;
                if (RunRecord.Read(record) is { } leftover && leftover.IsRunning()) await KillGroupAsync(leftover.Pgid);
                File.Delete(record);
            }
        }
        if (Roots is { } roots)
        {
            var names = roots.Directories.Where(Directory.Exists).SelectMany(Directory.EnumerateDirectories).Select(Path.GetFileName).Distinct().ToList();
            foreach (var name in names)
            {
                var cgroup = new Cgroup(roots.Version, roots.Directories.Select(d => Path.Combine(d, name!)).ToList());
                if (cgroup.Processes().Count > 0) found++;
                await cgroup.KillAllAsync();
                cgroup.Remove();
            }
        }
        return found;
    }

    /// <summary>Removes this server's (empty) cgroup directories at shutdown.</summary>
    public void RemoveRoot()
    {
        if (Roots is not { } roots) return;
        new Cgroup(roots.Version, roots.Directories).Remove();
        lock (gate) rootReady = false;
    }

    /// <summary>Creates the instance directories; on v2, enables the controllers for the cgroups below them.</summary>
    private void EnsureRoot()
    {
        lock (gate)
        {
            if (rootReady || Roots is not { } roots) return;
            foreach (var directory in roots.Directories) Directory.CreateDirectory(directory);
            if (roots.Version == CgroupVersion.V2)
            {
                var controllers = string.Join(' ', CgroupMounts.V2Controllers.Select(c => "+" + c));
                foreach (var directory in new[] { Path.GetDirectoryName(roots.Directories[0])!, roots.Directories[0] })
                {
                    try
                    {
                        File.WriteAllText(Path.Combine(directory, "cgroup.subtree_control"), controllers);
                    }
                    catch (IOException e)
                    {
                        throw new InvalidOperationException($"cannot enable the memory, pids and cpu controllers in {directory} ({e.Message}); " +
                                                            "a cgroup v2 parent must hold no processes itself", e);
                    }
                }
            }
            rootReady = true;
        }
    }

    private static void CheckSettings(ResourceOptions resources)
    {
        var (d, max) = (resources.Default, resources.Max);
        if (d.MemoryMb < ResourceOptions.MinMemoryMb || d.MemoryMb > max.MemoryMb || d.Cpus < ResourceOptions.MinCpus || d.Cpus > max.Cpus
            || d.Pids < ResourceOptions.MinPids || d.Pids > max.Pids)
        {
            throw new InvalidOperationException(
                $"Slipway:Runtime:Resources:Default ({d.MemoryMb} MB, {d.Cpus} CPU, {d.Pids} pids) must lie between the minimum " +
                $"({ResourceOptions.MinMemoryMb} MB, {ResourceOptions.MinCpus} CPU, {ResourceOptions.MinPids} pids) and " +
                $"Slipway:Runtime:Resources:Max ({max.MemoryMb} MB, {max.Cpus} CPU, {max.Pids} pids).");
        }
    }

    private static async Task KillGroupAsync(int pgid)
    {
        _ = Kill(-pgid, SigKill);
        _ = Kill(pgid, SigKill);
        for (var i = 0; i < 100 && Kill(-pgid, 0) == 0; i++) await Task.Delay(20);
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    internal static partial int Kill(int pid, int signal);
}

/// <summary>"pgid start-time" of a release's or build's process group; the start time (clock ticks after boot) tells a reused pid apart.</summary>
internal sealed record RunRecord(int Pgid, long StartTime)
{
    public static RunRecord? Read(string path)
    {
        try
        {
            var parts = File.ReadAllText(path).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            return parts.Length == 2 && int.TryParse(parts[0], CultureInfo.InvariantCulture, out var pgid) && pgid > 1
                                     && long.TryParse(parts[1], CultureInfo.InvariantCulture, out var start)
                ? new RunRecord(pgid, start)
                : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public void Write(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, $"{Pgid.ToString(CultureInfo.InvariantCulture)} {StartTime.ToString(CultureInfo.InvariantCulture)}\n");
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>The recorded process is still the one that runs under that pid.</summary>
    public bool IsRunning() => StartTimeOf(Pgid) == StartTime;

    /// <summary>Field 22 of <c>/proc/&lt;pid&gt;/stat</c>; null when the process is gone.</summary>
    public static long? StartTimeOf(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return fields.Length > 19 && long.TryParse(fields[19], CultureInfo.InvariantCulture, out var start) ? start : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}

/// <summary>
/// The confinement of one release or build: <see cref="LaunchPrefix"/> for <see cref="ProcessGroup"/>, its limits, OOM
/// detection, an exact kill and <see cref="CloseAsync"/> when it ends. Without cgroups only the run record is kept.
/// </summary>
internal sealed class ConfinedUnit(string name, ResourceLimits limits, Cgroup? cgroup, string recordPath)
{
    public string Name { get; } = name;

    public ResourceLimits Limits { get; } = limits;

    public Cgroup? Cgroup { get; } = cgroup;

    /// <summary>The cgroup-entry argv prefix (empty without cgroups).</summary>
    public IReadOnlyList<string> LaunchPrefix => Cgroup?.EntryPrefix ?? [];

    /// <summary>Records the group's leader (pid = pgid) and its start time; called right after each start.</summary>
    public void Started(int pgid)
    {
        if (RunRecord.StartTimeOf(pgid) is { } start) new RunRecord(pgid, start).Write(recordPath);
    }

    /// <summary>The OOM-kill count now, to compare with after the process exits.</summary>
    public long OomKills() => Cgroup?.OomKills() ?? 0;

    /// <summary>"Killed: out of memory (limit N MB)" if the kernel OOM-killed something here since <paramref name="before"/>, else null.</summary>
    public string? OutOfMemorySince(long before) =>
        Cgroup is not null && Cgroup.OomKills() > before ? $"Killed: out of memory (limit {Limits.MemoryMb} MB)" : null;

    /// <summary>Kills every process in the cgroup (those that left the process group included).</summary>
    public Task KillAllAsync() => Cgroup?.KillAllAsync() ?? Task.CompletedTask;

    /// <summary>The release or build ended: nothing of it may keep running; its cgroup and run record go.</summary>
    public async Task CloseAsync()
    {
        await KillAllAsync();
        Cgroup?.Remove();
        try
        {
            File.Delete(recordPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Recreates the cgroup after something removed it (a restart of the release reuses it).</summary>
    public void EnsureCreated() => Cgroup?.Create(Limits);
}

internal static partial class CgroupLog
{
    [LoggerMessage(EventId = 6201, Level = LogLevel.Warning,
        Message = "Sandbox disabled (Slipway:Runtime:Sandbox=none): builds and apps run without cgroups, so without resource limits")]
    public static partial void SandboxDisabled(ILogger logger);

    [LoggerMessage(EventId = 6202, Level = LogLevel.Information, Message = "Builds and releases run in cgroup {Version} under {Directories}")]
    public static partial void Using(ILogger logger, CgroupVersion version, IReadOnlyList<string> directories);

    [LoggerMessage(EventId = 6203, Level = LogLevel.Warning, Message = "Stopped {Count} release(s) or build(s) left running by a previous run of this server")]
    public static partial void Reaped(ILogger logger, int count);
}
