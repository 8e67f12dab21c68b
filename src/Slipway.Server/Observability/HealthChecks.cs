using System.Data.Common;
using System.Diagnostics;
using System.Text.Json.Serialization;
using Slipway.Server.Data;
using Slipway.Server.Hosting;
using Slipway.Server.Runtime.Sandbox;

namespace Slipway.Server.Observability;

internal sealed record CheckResult(
    string Status,
    double LatencyMs,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Error);

internal sealed record DataDirectoryCheckResult(
    string Status,
    double LatencyMs,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? FreeBytes,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Error);

internal sealed record HealthChecksResponse(CheckResult Database, DataDirectoryCheckResult DataDirectory);

// Sandbox: "bubblewrap" when builds and apps run sandboxed, "disabled" when the operator turned it off.
internal sealed record HealthResponse(string Status, string Version, string Sandbox, HealthChecksResponse Checks);

/// <summary>
/// The checks behind <c>/health</c>: a real database round trip and a real write in the data directory.
/// Errors returned to callers are fixed phrases; the exception (with paths) goes to the log only.
/// </summary>
internal sealed class HealthChecks(IConfiguration configuration, ObservabilityOptions options, Sandbox sandbox, ILogger<HealthChecks> logger)
{
    public const string Healthy = "healthy";
    public const string Unhealthy = "unhealthy";

    private TimeSpan Timeout => TimeSpan.FromSeconds(options.HealthCheckTimeoutSeconds);

    public async Task<HealthResponse> CheckAsync(SlipwayDb db, CancellationToken ct)
    {
        var database = DatabaseAsync(db, ct);
        var dataDirectory = Task.Run(() => DataDirectoryAsync(ct), ct);
        var checks = new HealthChecksResponse(await database, await dataDirectory);
        var healthy = checks.Database.Status == Healthy && checks.DataDirectory.Status == Healthy;
        return new HealthResponse(healthy ? Healthy : Unhealthy, RuntimeMetrics.Version, sandbox.Mode, checks);
    }

    private async Task<CheckResult> DatabaseAsync(SlipwayDb db, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        string? error = null;
        Exception? failure = null;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(Timeout);
            var answer = await SelectOneAsync(db, timeout.Token).WaitAsync(Timeout, ct);
            if (answer != 1) error = "the database answered SELECT 1 with something else";
        }
        catch (Exception ex) when (!ct.IsCancellationRequested)
        {
            failure = ex;
            error = ex switch
            {
                TimeoutException or OperationCanceledException => $"no answer within {options.HealthCheckTimeoutSeconds:0.###} s",
                DbException db2 => $"the database round trip failed ({db2.GetType().Name}{(db2.SqlState is { } state ? " " + state : "")})",
                _ => $"the database round trip failed ({ex.GetType().Name})",
            };
        }
        var latency = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        if (error is not null) logger.HealthCheckFailed(failure, "database", error);
        return new CheckResult(error is null ? Healthy : Unhealthy, Math.Round(latency, 3), error);
    }

    private static async Task<long> SelectOneAsync(SlipwayDb db, CancellationToken ct)
    {
        var connection = db.Database.GetDbConnection();
        await db.Database.OpenConnectionAsync(ct);
        try
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT 1";
            return Convert.ToInt64(await command.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture);
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    private async Task<DataDirectoryCheckResult> DataDirectoryAsync(CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        var directory = configuration.DataDirectory();
        string? error = null;
        Exception? failure = null;
        long? free = null;
        try
        {
            if (!Directory.Exists(directory))
            {
                error = "the data directory does not exist or is not a directory";
            }
            else
            {
                await ProbeWriteAsync(directory, ct).WaitAsync(Timeout, ct);
                free = new DriveInfo(directory).AvailableFreeSpace;
            }
        }
        catch (Exception ex) when (!ct.IsCancellationRequested)
        {
            failure = ex;
            error = ex switch
            {
                TimeoutException => $"a test write took longer than {options.HealthCheckTimeoutSeconds:0.###} s",
                UnauthorizedAccessException => "the data directory is not writable (permission denied)",
                IOException => "the data directory is not writable (I/O error)",
                _ => $"the data directory check failed ({ex.GetType().Name})",
            };
        }
        var latency = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        if (error is not null) logger.HealthCheckFailed(failure, "data_directory", error);
        return new DataDirectoryCheckResult(error is null ? Healthy : Unhealthy, Math.Round(latency, 3), free, error);
    }

    /// <summary>Creates, writes, flushes and deletes a uniquely named file: what Slipway will do for artifacts and secrets.</summary>
    private static async Task ProbeWriteAsync(string directory, CancellationToken ct)
    {
        var probe = Path.Combine(directory, $".health-{Guid.NewGuid():N}.tmp");
        try
        {
            await using var stream = new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, useAsync: true);
            await stream.WriteAsync("ok"u8.ToArray(), ct);
            await stream.FlushAsync(ct);
        }
        finally
        {
            File.Delete(probe);
        }
    }
}
