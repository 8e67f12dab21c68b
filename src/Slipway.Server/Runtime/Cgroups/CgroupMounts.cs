namespace Slipway.Server.Runtime.Cgroups;

internal enum CgroupVersion
{
    V1,
    V2,
}

/// <summary>
/// Where this server's cgroups live: for v1 one directory per controller (memory, pids, cpu), for v2 one directory.
/// Each is the server's own cgroup in that hierarchy (from <c>/proc/self/cgroup</c>), or the configured parent, so a
/// server inherits the limits its operator (systemd, a container) put on it and never places anything outside them.
/// </summary>
internal sealed record CgroupParents(CgroupVersion Version, IReadOnlyList<string> Directories);

internal static class CgroupMounts
{
    public static readonly string[] V1Controllers = ["memory", "pids", "cpu"];
    public static readonly string[] V2Controllers = ["memory", "pids", "cpu"];

    /// <summary>
    /// The hierarchies to use, v1 when memory, pids and cpu are all mounted as v1 (hybrid machines), else v2 when its
    /// root offers those controllers; otherwise null and <paramref name="problem"/> says what is missing.
    /// <paramref name="parent"/>: a cgroup path (e.g. <c>/slipway</c>) to use instead of the server's own cgroup.
    /// </summary>
    public static CgroupParents? Detect(string? parent, out string problem) =>
        Detect(SafeRead("/proc/self/mountinfo"), SafeRead("/proc/self/cgroup"), parent, out problem);

    internal static CgroupParents? Detect(string mountinfo, string selfCgroup, string? parent, out string problem)
    {
        var v1 = new Dictionary<string, (string Root, string MountPoint)>(StringComparer.Ordinal);
        (string Root, string MountPoint)? v2 = null;
        foreach (var line in mountinfo.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var halves = line.Split(" - ", 2);
            if (halves.Length != 2) continue;
            var fields = halves[0].Split(' ');
            var tail = halves[1].Split(' ');
            if (fields.Length < 5 || tail.Length < 3) continue;
            var (root, mountPoint) = (Unescape(fields[3]), Unescape(fields[4]));
            if (tail[0] == "cgroup2") v2 ??= (root, mountPoint);
            else if (tail[0] == "cgroup")
            {
                foreach (var option in tail[2].Split(',')) if (V1Controllers.Contains(option)) v1.TryAdd(option, (root, mountPoint));
            }
        }
        var own = OwnPaths(selfCgroup);
        if (V1Controllers.All(v1.ContainsKey))
        {
            problem = "";
            return new CgroupParents(CgroupVersion.V1, V1Controllers.Select(c =>
                OnDisk(v1[c].Root, v1[c].MountPoint, parent ?? own.GetValueOrDefault(c, "/"))).ToList());
        }
        if (v2 is { } unified)
        {
            var directory = OnDisk(unified.Root, unified.MountPoint, parent ?? own.GetValueOrDefault("", "/"));
            var offered = SafeRead(Path.Combine(unified.MountPoint, "cgroup.controllers")).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var missing = V2Controllers.Except(offered).ToList();
            if (missing.Count == 0)
            {
                problem = "";
                return new CgroupParents(CgroupVersion.V2, [directory]);
            }
            problem = $"cgroup v2 at {unified.MountPoint} does not offer the {string.Join(", ", missing)} controller(s), " +
                      $"and cgroup v1 has no hierarchy for {string.Join(", ", V1Controllers.Where(c => !v1.ContainsKey(c)))}";
            return null;
        }
        problem = "no cgroup file system is mounted (cgroup v2 at /sys/fs/cgroup, or cgroup v1 memory, pids and cpu hierarchies)";
        return null;
    }

    /// <summary>Controller (v1) or "" (v2) → the server's cgroup path in that hierarchy.</summary>
    private static Dictionary<string, string> OwnPaths(string selfCgroup)
    {
        var paths = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in selfCgroup.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split(':', 3);
            if (parts.Length != 3) continue;
            if (parts[1].Length == 0) paths.TryAdd("", parts[2]);
            foreach (var controller in parts[1].Split(',')) if (controller.Length > 0) paths.TryAdd(controller, parts[2]);
        }
        return paths;
    }

    /// <summary>A cgroup path as a directory: the mount shows the hierarchy from <paramref name="root"/> down.</summary>
    private static string OnDisk(string root, string mountPoint, string cgroupPath)
    {
        var relative = root != "/" && cgroupPath.StartsWith(root, StringComparison.Ordinal) ? cgroupPath[root.Length..] : cgroupPath;
        return Path.Combine(mountPoint, relative.TrimStart('/'));
    }

    /// <summary>mountinfo escapes space, tab, newline and backslash as octal.</summary>
    private static string Unescape(string field) =>
        field.Replace("\\040", " ", StringComparison.Ordinal).Replace("\\011", "\t", StringComparison.Ordinal)
            .Replace("\\012", "\n", StringComparison.Ordinal).Replace("\\134", "\\", StringComparison.Ordinal);

    private static string SafeRead(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }
}
