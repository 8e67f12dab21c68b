namespace Slipway.Server.Runtime.Sandbox;

internal enum SandboxMode
{
    /// <summary>Every build command and app process runs in a bubblewrap sandbox as its project's own uid (the default).</summary>
    Bubblewrap,

    /// <summary>No sandbox: builds and apps run as the server's user and see what it sees. Only when set explicitly.</summary>
    None,
}

/// <summary>The sandbox settings, in the <c>Slipway:Runtime</c> section next to the other runtime options.</summary>
internal sealed class SandboxOptions
{
    public const string SectionName = RuntimeOptions.SectionName;

    public SandboxMode Sandbox { get; set; } = SandboxMode.Bubblewrap;

    public string BubblewrapPath { get; set; } = "/usr/bin/bwrap";

    /// <summary>Drops root inside the sandbox (util-linux); only used when the server runs as root.</summary>
    public string SetprivPath { get; set; } = "/usr/bin/setpriv";

    /// <summary>First uid (and gid) handed to a project; each project gets the lowest free one of the range, once.</summary>
    public long SandboxUidBase { get; set; } = 600_000;

    public long SandboxUidCount { get; set; } = 65_536;

    /// <summary>More host paths to show read-only (a toolchain under /opt, say). Missing ones are skipped.</summary>
    public List<string> SandboxReadOnlyPaths { get; set; } = [];

    /// <summary>More host paths to hide (files become empty, directories empty) on top of the built-in list.</summary>
    public List<string> SandboxHiddenPaths { get; set; } = [];
}
