using Slipway.Server.Runtime.Cgroups;

namespace Slipway.Server.Runtime;

internal sealed class RuntimeOptions
{
    public const string SectionName = "Slipway:Runtime";

    public TimeSpan HealthCheckTimeout { get; set; } = TimeSpan.FromSeconds(60);
    public TimeSpan HealthCheckInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>How long an old release keeps serving in-flight requests after the switch before SIGTERM.</summary>
    public TimeSpan DrainGrace { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long after SIGTERM before SIGKILL.</summary>
    public TimeSpan StopTimeout { get; set; } = TimeSpan.FromSeconds(5);

    public TimeSpan RestartBackoffInitial { get; set; } = TimeSpan.FromSeconds(1);
    public TimeSpan RestartBackoffMax { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>A cgroup path (e.g. <c>/slipway</c>) to create this server's cgroups under instead of its own cgroup.</summary>
    public string? CgroupParent { get; set; }

    /// <summary>Instance defaults and maxima of the limits of each release and build.</summary>
    public ResourceOptions Resources { get; set; } = new();
}

internal enum LiveStatus
{
    Starting,
    Running,
    Restarting,
    Crashed,
    Stopped,
}

/// <summary>
/// Everything needed to start one release's process. <see cref="AlreadyLive"/>: a live release brought back after a
/// restart: if it exits before its first healthy check it is restarted with backoff like any live process, not given up.
/// <see cref="LaunchPrefix"/>: the sandbox wrapper the start command runs in (none when the sandbox is off); it follows the
/// cgroup entry. <see cref="Limits"/>: null for the instance defaults.
/// </summary>
internal sealed record ReleaseSpec(
    string DeploymentId,
    string ProjectId,
    string EnvironmentId,
    string Directory,
    string StartCommand,
    IReadOnlyDictionary<string, string> Environment,
    string HealthCheckPath,
    bool AlreadyLive = false,
    IReadOnlyList<string>? LaunchPrefix = null,
    ResourceLimits? Limits = null);
