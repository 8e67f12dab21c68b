using System.Diagnostics;
using System.Globalization;
using System.Reflection;

namespace Slipway.Server.Observability;

/// <summary>Process and .NET runtime figures, read at scrape time (nothing is sampled in the background).</summary>
internal static class RuntimeMetrics
{
    private static readonly double StartTimeSeconds = ReadStartTime();

    public static string Version { get; } =
        typeof(RuntimeMetrics).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(RuntimeMetrics).Assembly.GetName().Version?.ToString() ?? "unknown";

    public static void WriteTo(PrometheusWriter writer)
    {
        writer.Family("slipway_build_info", "gauge", "Always 1; the version label says which Slipway build is running.");
        writer.Sample("slipway_build_info", 1L, ("version", Version));

        writer.Family("process_cpu_seconds_total", "counter", "Total user and system CPU time spent, in seconds.");
        writer.Sample("process_cpu_seconds_total", Environment.CpuUsage.TotalTime.TotalSeconds);
        writer.Family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
        writer.Sample("process_resident_memory_bytes", Environment.WorkingSet);
        writer.Family("process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch, in seconds.");
        writer.Sample("process_start_time_seconds", StartTimeSeconds);
        if (OperatingSystem.IsLinux())
        {
            writer.Family("process_open_fds", "gauge", "Open file descriptors.");
            writer.Sample("process_open_fds", OpenFileDescriptors());
            if (MaxFileDescriptors() is { } max)
            {
                writer.Family("process_max_fds", "gauge", "Limit on open file descriptors.");
                writer.Sample("process_max_fds", max);
            }
        }

        writer.Family("dotnet_gc_collections_total", "counter", "Garbage collections by generation (a collection of a generation also collects the younger ones).");
        for (var generation = 0; generation <= GC.MaxGeneration; generation++)
        {
            writer.Sample("dotnet_gc_collections_total", (long)GC.CollectionCount(generation),
                ("generation", generation.ToString(CultureInfo.InvariantCulture)));
        }
        writer.Family("dotnet_gc_pause_seconds_total", "counter", "Time the runtime has been paused for garbage collections.");
        writer.Sample("dotnet_gc_pause_seconds_total", GC.GetTotalPauseDuration().TotalSeconds);
        writer.Family("dotnet_gc_heap_size_bytes", "gauge", "Bytes currently thought to be allocated on the managed heap.");
        writer.Sample("dotnet_gc_heap_size_bytes", GC.GetTotalMemory(false));
        writer.Family("dotnet_gc_allocated_bytes_total", "counter", "Bytes allocated on the managed heap since the process started.");
        writer.Sample("dotnet_gc_allocated_bytes_total", GC.GetTotalAllocatedBytes(false));

        writer.Family("dotnet_threadpool_threads", "gauge", "Thread pool threads that currently exist.");
        writer.Sample("dotnet_threadpool_threads", (long)ThreadPool.ThreadCount);
        writer.Family("dotnet_threadpool_queue_length", "gauge", "Work items queued to the thread pool and not yet started.");
        writer.Sample("dotnet_threadpool_queue_length", ThreadPool.PendingWorkItemCount);
        writer.Family("dotnet_threadpool_completed_items_total", "counter", "Work items the thread pool has completed.");
        writer.Sample("dotnet_threadpool_completed_items_total", ThreadPool.CompletedWorkItemCount);
    }

    private static double ReadStartTime()
    {
        using var process = Process.GetCurrentProcess();
        return (process.StartTime.ToUniversalTime() - DateTime.UnixEpoch).TotalSeconds;
    }

    private static long OpenFileDescriptors()
    {
        try
        {
            return Directory.EnumerateFileSystemEntries("/proc/self/fd").LongCount();
        }
        catch (IOException)
        {
            return 0;
        }
        catch (UnauthorizedAccessException)
        {
            return 0;
        }
    }

    private static long? MaxFileDescriptors()
    {
        try
        {
            // "Max open files            1048576              1048576              files"
            var line = File.ReadLines("/proc/self/limits").FirstOrDefault(l => l.StartsWith("Max open files", StringComparison.Ordinal));
            var soft = line?["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
            return long.TryParse(soft, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : null;
        }
        catch (IOException)
        {
            return null;
        }
    }
}
