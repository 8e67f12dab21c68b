using System.Globalization;
using System.Runtime.InteropServices;
using Slipway.Server.Data;

namespace Slipway.Server.Runtime.Sandbox;

/// <summary>A project's own unprivileged identity in the sandbox: uid and gid of the same number.</summary>
internal sealed record SandboxIdentity(long Uid)
{
    public long Gid => Uid;
}

/// <summary>
/// How a build command or an app process is confined: the argv prefix that runs it under bubblewrap as its project's
/// uid, in its own mount, PID and IPC namespaces, where only its own directory (mounted at <see cref="AppDirectory"/>)
/// is writable, the host's system directories are read-only minus secrets, <c>/tmp</c> is private and the data
/// directory, other projects and the server's <c>/proc</c> do not exist. See docs/security.md.
/// </summary>
/// <remarks>
/// When the server runs as root, bwrap runs as root (so it can bind directories under the 0700 data directory) and
/// <c>setpriv</c> drops to the project's uid inside the sandbox, with no capabilities and no_new_privs. Otherwise bwrap
/// runs unprivileged in a user namespace that maps the server's uid to the project's: the mounts isolate just the
/// same, but on the host the process still has the server's uid. No <c>--new-session</c>, so the sandboxed processes
/// stay in the process group the server signals; no <c>--die-with-parent</c>, because Linux ties that signal to the
/// thread that forked, and .NET retires idle thread-pool threads: a release would be killed at random.
/// </remarks>
internal sealed partial class Sandbox : IDisposable
{
    public const string AppDirectory = "/app";
    public const string Home = "/tmp";

    private static readonly string[] SystemDirectories = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"];

    private static readonly string[] Secrets =
    [
        "/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/security/opasswd", "/etc/ssl/private",
        "/etc/sudoers", "/etc/sudoers.d", "/etc/ssh", "/etc/slipway",
    ];

    private readonly SandboxOptions options;
    private readonly SandboxAccounts accounts;
    private readonly string[] layout;

    public Sandbox(SandboxOptions options, string dataDirectory, bool asRoot, TimeProvider time)
    {
        this.options = options;
        accounts = new SandboxAccounts(options, time);
        AsRoot = asRoot;
        layout = Layout(options, dataDirectory);
    }

    public bool Enabled => options.Sandbox == SandboxMode.Bubblewrap;

    /// <summary>What <c>/health</c> reports.</summary>
    public string Mode => Enabled ? "bubblewrap" : "disabled";

    /// <summary>Whether bwrap runs as root and setpriv drops to the project's uid (else: a user namespace).</summary>
    public bool AsRoot { get; }

    public void Dispose() => accounts.Dispose();

    /// <summary>The project's identity, allocated on first use; null when the sandbox is off.</summary>
    public async Task<SandboxIdentity?> IdentityAsync(SlipwayDb db, string projectId, CancellationToken ct) =>
        Enabled ? await accounts.IdentityAsync(db, projectId, ct) : null;

    /// <summary>
    /// The argv to put in front of a program so it runs sandboxed with <paramref name="writableRoot"/> mounted at
    /// <see cref="AppDirectory"/> and <paramref name="workingDirectory"/> (inside it) as its working directory.
    /// Empty when <paramref name="identity"/> is null (the sandbox is off). <paramref name="readOnly"/>: more host
    /// directories to show read-only, each at a path inside the sandbox (a scan mounts the checkout under
    /// <see cref="AppDirectory"/> and the scanners' own install at its host path).
    /// </summary>
    public IReadOnlyList<string> Prefix(SandboxIdentity? identity, string writableRoot, string workingDirectory,
        IReadOnlyList<(string Host, string Inside)>? readOnly = null)
    {
        if (identity is null) return [];
        var relative = Path.GetRelativePath(writableRoot, workingDirectory);
        if (relative == ".." || relative.StartsWith("../", StringComparison.Ordinal) || Path.IsPathRooted(relative))
            throw new ArgumentException("The working directory must be inside the writable root.", nameof(workingDirectory));
        var inside = relative == "." ? AppDirectory : AppDirectory + "/" + relative;
        var uid = identity.Uid.ToString(CultureInfo.InvariantCulture);
        var gid = identity.Gid.ToString(CultureInfo.InvariantCulture);
        List<string> argv = [options.BubblewrapPath, .. layout, "--bind", writableRoot, AppDirectory];
        foreach (var (host, insidePath) in readOnly ?? [])
        {
            // bwrap makes missing parents of a mount point 0700 (root's): give one outside /app the usual 0755.
            if (Path.GetDirectoryName(insidePath) is { } parent && parent != "/" && !IsUnder(parent, AppDirectory))
                argv.AddRange(["--perms", "0755", "--dir", parent]);
            argv.AddRange(["--ro-bind", host, insidePath]);
        }
        argv.AddRange(["--chdir", inside]);
        if (!AsRoot) argv.AddRange(["--unshare-user", "--uid", uid, "--gid", gid]);
        argv.Add("--");
        if (AsRoot)
        {
            argv.AddRange([options.SetprivPath, $"--reuid={uid}", $"--regid={gid}", "--clear-groups", "--inh-caps=-all",
                "--bounding-set=-all", "--no-new-privs", "--"]);
        }
        return argv;
    }

    /// <summary>
    /// The server's HOME is not in the sandbox: HOME is the private <c>/tmp</c> (npm and friends keep their caches
    /// there, not in the release) unless the project sets its own.
    /// </summary>
    public static void AddDefaults(Dictionary<string, string> environment, SandboxIdentity? identity)
    {
        if (identity is not null) environment.TryAdd("HOME", Home);
    }

    /// <summary>
    /// Gives a directory tree to the project's uid, so its sandboxed processes can write there. Links are changed
    /// themselves (lchown), never followed. Nothing to do when the sandbox is off or runs in a user namespace.
    /// </summary>
    public void HandOver(string directory, SandboxIdentity? identity)
    {
        if (identity is null || !AsRoot) return;
        Own(directory, identity);
        foreach (var entry in new DirectoryInfo(directory).EnumerateFileSystemInfos("*", new EnumerationOptions
                 {
                     RecurseSubdirectories = false, AttributesToSkip = 0, IgnoreInaccessible = false,
                 }))
        {
            if (entry is DirectoryInfo && entry.LinkTarget is null) HandOver(entry.FullName, identity);
            else Own(entry.FullName, identity);
        }
    }

    private static void Own(string path, SandboxIdentity identity)
    {
        if (LChown(path, (uint)identity.Uid, (uint)identity.Gid) != 0)
            throw new IOException($"Could not give {path} to uid {identity.Uid} (errno {Marshal.GetLastPInvokeError()}).");
    }

    /// <summary>The mounts every sandbox shares, worked out once from what this host has.</summary>
    private static string[] Layout(SandboxOptions options, string dataDirectory)
    {
        var argv = new List<string>();
        var shown = new List<string>();
        foreach (var path in SystemDirectories)
        {
            var info = new DirectoryInfo(path);
            if (!info.Exists && info.LinkTarget is null) continue;
            // Merged-/usr systems: /bin -> usr/bin stays a link, so the sandbox looks like the host.
            if (info.LinkTarget is { } target) argv.AddRange(["--symlink", target, path]);
            else argv.AddRange(["--ro-bind", path, path]);
            shown.Add(path);
        }
        foreach (var path in options.SandboxReadOnlyPaths.Select(Path.GetFullPath))
        {
            argv.AddRange(["--ro-bind-try", path, path]);
            shown.Add(path);
        }
        // A resolv.conf that links out of /etc (systemd-resolved) needs its target, or names do not resolve.
        if (new FileInfo("/etc/resolv.conf").ResolveLinkTarget(returnFinalTarget: true) is { } resolv && !IsUnder(resolv.FullName, "/etc"))
        {
            argv.AddRange(["--ro-bind-try", resolv.FullName, resolv.FullName]);
        }
        foreach (var path in Secrets.Concat(options.SandboxHiddenPaths.Select(Path.GetFullPath)))
        {
            if (Directory.Exists(path)) argv.AddRange(["--tmpfs", path]);
            else if (File.Exists(path)) argv.AddRange(["--ro-bind", "/dev/null", path]);
        }
        // The data directory is never visible, even where an operator put it under a directory the sandbox shows.
        if (shown.Any(s => IsUnder(dataDirectory, s))) argv.AddRange(["--tmpfs", dataDirectory]);
        argv.AddRange(["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp", "--unshare-pid", "--unshare-ipc"]);
        return [.. argv];
    }

    private static bool IsUnder(string path, string directory) =>
        path == directory || path.StartsWith(directory.TrimEnd('/') + "/", StringComparison.Ordinal);

    [LibraryImport("libc", EntryPoint = "lchown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LChown(string path, uint owner, uint group);
}
