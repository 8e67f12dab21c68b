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
internal sealed record ResourcesResponse(int MemoryMb, double Cpus, int Pids);

internal static class ResourceRules
{
    /// <summary>Checks each given field against the minimum and the instance maximum; <c>details</c> name <c>resources.&lt;field&gt;</c>.</summary>
    public static Validator CheckResources(this Validator v, ResourcesRequest? request, ResourceOptions options)
    {
        if (request is null) return v;
        var max = options.Max;
        return v.Check(request.MemoryMb is null || (request.MemoryMb >= ResourceOptions.MinMemoryMb && request.MemoryMb <= max.MemoryMb),
                "resources.memory_mb", $"must be between {ResourceOptions.MinMemoryMb} and {max.MemoryMb}")
            .Check(request.Cpus is null || (request.Cpus >= ResourceOptions.MinCpus && request.Cpus <= max.Cpus && IsHundredths(request.Cpus.Value)),
                "resources.cpus", $"must be between {ResourceOptions.MinCpus.ToString(CultureInfo.InvariantCulture)} and " +
                                  $"{max.Cpus.ToString(CultureInfo.InvariantCulture)}, in steps of 0.01")
            .Check(request.Pids is null || (request.Pids >= ResourceOptions.MinPids && request.Pids <= max.Pids),
                "resources.pids", $"must be between {ResourceOptions.MinPids} and {max.Pids}");
    }

    /// <summary>The limits a project runs with: its own values where it set them, else the instance defaults.</summary>
    public static ResourceLimits Effective(int? memoryMb, int? milliCpus, int? pids, ResourceOptions options) =>
        new(memoryMb ?? options.Default.MemoryMb, milliCpus is { } m ? m / 1000.0 : options.Default.Cpus, pids ?? options.Default.Pids);

    public static int MilliCpus(double cpus) => (int)Math.Round(cpus * 1000);

    private static bool IsHundredths(double cpus) => Math.Abs(cpus * 100 - Math.Round(cpus * 100)) < 1e-6;
}
