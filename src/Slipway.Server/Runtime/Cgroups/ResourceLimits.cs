using System.Globalization;
using Slipway.Server.Hosting;

namespace Slipway.Server.Runtime.Cgroups;

/// <summary>What one release or build may use: memory in MiB, CPUs (1 = one core's time), processes and threads.</summary>
internal sealed record ResourceLimits(int MemoryMb, double Cpus, int Pids)
{
    public string Describe() =>
        $"memory {MemoryMb} MB, {Cpus.ToString("0.##", CultureInfo.InvariantCulture)} CPU, {Pids} processes";
}

/// <summary>One set of values in configuration (<c>Slipway:Runtime:Resources:Default</c> or <c>:Max</c>).</summary>
internal sealed class ResourceSettings
{
    public int MemoryMb { get; set; }
    public double Cpus { get; set; }
    public int Pids { get; set; }
}

/// <summary>Instance defaults (what a project gets unless it says otherwise) and the maxima a project may ask for.</summary>
internal sealed class ResourceOptions
{
    public const int MinMemoryMb = 16;
    public const double MinCpus = 0.01;
    public const int MinPids = 8;

    public ResourceSettings Default { get; set; } = new() { MemoryMb = 1024, Cpus = 1, Pids = 512 };
    public ResourceSettings Max { get; set; } = new() { MemoryMb = 8192, Cpus = 4, Pids = 4096 };
}

/// <summary><c>resources</c> in a project request: each field optional (absent: unchanged, or the instance default on create).</summary>
internal sealed record ResourcesRequest(int? MemoryMb, double? Cpus, int? Pids);

/// <summary><c>resources</c> in a response: the limits the project's builds and releases run with.</summary>
internal sealed record ResourcesResponse(int MemoryMb, double Cpus, int Pids)
{
    public static ResourcesResponse From(ResourceLimits limits) => new(limits.MemoryMb, limits.Cpus, limits.Pids);
}

/// <summary>An environment's <c>resources</c>: its overrides of the project's limits, null where the project's apply.</summary>
internal sealed record ResourceOverridesResponse(int? MemoryMb, double? Cpus, int? Pids);

internal static class ResourceRules
{
    /// <summary>
    /// Checks each given field against the minimum and the instance maximum; <c>details</c> name <c>resources.&lt;field&gt;</c>.
    /// 0 is allowed too: it drops the value (<paramref name="zeroMeans"/> says what applies then).
    /// </summary>
    public static Validator CheckResources(this Validator v, ResourcesRequest? request, ResourceOptions options, string zeroMeans)
    {
        if (request is null) return v;
        var max = options.Max;
        var orZero = $", or 0 for {zeroMeans}";
        return v.Check(request.MemoryMb is null or 0 || (request.MemoryMb >= ResourceOptions.MinMemoryMb && request.MemoryMb <= max.MemoryMb),
                "resources.memory_mb", $"must be between {ResourceOptions.MinMemoryMb} and {max.MemoryMb}{orZero}")
            .Check(request.Cpus is null or 0 || (request.Cpus >= ResourceOptions.MinCpus && request.Cpus <= max.Cpus && IsHundredths(request.Cpus.Value)),
                "resources.cpus", $"must be between {ResourceOptions.MinCpus.ToString(CultureInfo.InvariantCulture)} and " +
                                  $"{max.Cpus.ToString(CultureInfo.InvariantCulture)} in steps of 0.01{orZero}")
            .Check(request.Pids is null or 0 || (request.Pids >= ResourceOptions.MinPids && request.Pids <= max.Pids),
                "resources.pids", $"must be between {ResourceOptions.MinPids} and {max.Pids}{orZero}");
    }

    /// <summary>
    /// The limits a build or release of this project in this environment runs with: the environment's override, else
    /// the project's value, else the instance default, field by field.
    /// </summary>
    public static ResourceLimits Effective(Projects.Project project, Projects.ProjectEnvironment? environment, ResourceOptions options) =>
        new(environment?.ResourceMemoryMb ?? project.ResourceMemoryMb ?? options.Default.MemoryMb,
            (environment?.ResourceMillicpus ?? project.ResourceMillicpus) is { } m ? m / 1000.0 : options.Default.Cpus,
            environment?.ResourcePids ?? project.ResourcePids ?? options.Default.Pids);

    public static int? MilliCpus(double cpus) => cpus == 0 ? null : (int)Math.Round(cpus * 1000);

    /// <summary>A request value for a stored one: absent keeps it, 0 drops it (null).</summary>
    public static int? Take(int? requested, int? stored) => requested is { } value ? (value == 0 ? null : value) : stored;

    private static bool IsHundredths(double cpus) => Math.Abs(cpus * 100 - Math.Round(cpus * 100)) < 1e-6;
}
