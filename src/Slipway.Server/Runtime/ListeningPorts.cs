using System.Globalization;

namespace Slipway.Server.Runtime;

/// <summary>
/// The TCP ports a process group listens on, read from /proc: the socket inodes among its members' open files, matched
/// against the listening sockets of their network namespace (<c>/proc/{pid}/net/tcp</c> and <c>tcp6</c>, which show the
/// namespace of that process, so an app in a namespace of its own is read right). Empty where /proc does not tell (not
/// Linux, a process gone meanwhile, or one the server may not inspect).
/// </summary>
internal static class ListeningPorts
{
    private const string Listen = "0A";

    public static IReadOnlyList<int> OfGroup(int groupId)
    {
        if (!OperatingSystem.IsLinux()) return [];
        var members = Members(groupId);
        var inodes = new HashSet<string>(StringComparer.Ordinal);
        var namespaces = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var pid in members)
        {
            if (Link($"/proc/{pid}/ns/net") is { } ns) namespaces.TryAdd(ns, pid);
            try
            {
                foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
                {
                    if (Link(fd) is { } target && target.StartsWith("socket:[", StringComparison.Ordinal)) inodes.Add(target[8..^1]);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Gone meanwhile, or not ours to look into.
            }
        }
        var ports = new SortedSet<int>();
        if (inodes.Count == 0) return [];
        foreach (var pid in namespaces.Values)
        {
            foreach (var table in (string[])["tcp", "tcp6"]) Collect($"/proc/{pid}/net/{table}", inodes, ports);
        }
        return [.. ports];
    }

    /// <summary>The live (not zombie) processes whose process group is <paramref name="groupId"/>.</summary>
    private static List<int> Members(int groupId)
    {
        var members = new List<int>();
        var group = groupId.ToString(CultureInfo.InvariantCulture);
        foreach (var entry in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), out var pid)) continue;
            try
            {
                var stat = File.ReadAllText(Path.Combine(entry, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (fields.Length > 2 && fields[2] == group && fields[0] is not ("Z" or "X")) members.Add(pid);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
        return members;
    }

    /// <summary>Lines like <c>0: 00000000:0BB9 00000000:0000 0A … inode …</c>: the local port is hex, the state 0A is LISTEN.</summary>
    private static void Collect(string path, HashSet<string> inodes, SortedSet<int> ports)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return;
        }
        foreach (var line in lines.Skip(1))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length < 10 || parts[3] != Listen || !inodes.Contains(parts[9])) continue;
            var local = parts[1];
            if (int.TryParse(local.AsSpan(local.LastIndexOf(':') + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var port)) ports.Add(port);
        }
    }

    private static string? Link(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
