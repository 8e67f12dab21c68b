using Slipway.Server.Builds;
using Slipway.Server.Runtime;
using Slipway.Server.Runtime.Cgroups;
using Slipway.Server.Runtime.Sandbox;

namespace Slipway.Server.Security;

/// <summary>A scan that could not run to the end: the scan is stored <c>failed</c> with this message.</summary>
internal sealed class ScanFailedException(string message) : Exception(message);

/// <summary>
/// Runs a repository's scanners over a checkout, one after the other, and ingests all of their output as one scan. Any
/// scanner that writes no SARIF fails the whole scan, and then nothing of it is stored. Scanners read untrusted code, so
/// they run in the project's sandbox: the output directory is its writable <c>/app</c>, the checkout is mounted
/// read-only at <c>/app/src</c> (their working directory) and the scanners' own install read-only at <c>/opt/slipway-scanners</c>.
/// </summary>
internal sealed class ScanRunner(ShellRunner shell, ScannerCatalog catalog, Sandbox sandbox, Confinement confinement, SecurityOptions options,
    RuntimeOptions runtime, TimeProvider time)
{
    private const string SourceInside = Sandbox.AppDirectory + "/src";

    /// <summary>Where the scanners' install is mounted: a bind mount needs no access to the host's parent directories.</summary>
    private const string ToolsInside = "/opt/slipway-scanners";

    private const int TailLines = 8;

    /// <summary>
    /// Scans <paramref name="checkout"/> with <paramref name="scanners"/> and stores the result as <paramref name="scan"/>
    /// (through <paramref name="ingestion"/>, in the caller's scope). <paramref name="output"/> is an empty directory of
    /// the caller's for the SARIF files and the presets' config files.
    /// </summary>
    public async Task<Scan> ScanAsync(Scan scan, Projects.Project project, string checkout, string output, IReadOnlyList<Scanner> scanners,
        SarifIngestion ingestion, SandboxIdentity? identity, LineSink log, CancellationToken ct)
    {
        // A scanner reads the project's code like its build does, within the same limits.
        var limits = ResourceRules.Effective(project, null, runtime.Resources);
        if (ScannerCatalog.Problem(scanners) is { } problem) throw new ScanFailedException(problem);
        Directory.CreateDirectory(Path.Combine(output, "src"));
        sandbox.HandOver(output, identity);
        var documents = new List<SpooledSarif>();
        try
        {
            foreach (var scanner in scanners) documents.Add(await RunAsync(scan.Id, scanner, checkout, output, identity, limits, log, ct));
            return await ingestion.IngestAsync(scan, documents, new SourceTree(checkout, identity is null ? null : SourceInside), ct);
        }
        catch (Sarif.SarifRejectedException e)
        {
            throw new ScanFailedException($"A scanner wrote SARIF that was rejected: {e.Message}.");
        }
        catch (Sarif.SarifTooLargeException e)
        {
            throw new ScanFailedException($"A scanner wrote SARIF over the limits: {e.Message}.");
        }
        finally
        {
            foreach (var document in documents) document.Dispose();
        }
    }

    private async Task<SpooledSarif> RunAsync(string scanId, Scanner scanner, string checkout, string output, SandboxIdentity? identity,
        ResourceLimits limits, LineSink log, CancellationToken ct)
    {
        // The paths as the scanner sees them: inside the sandbox the output directory is /app.
        var seen = identity is null ? output : Sandbox.AppDirectory;
        var paths = new ScanPaths($"{seen}/{scanner.Name}.sarif", seen, identity is null ? catalog.ToolsDirectory : ToolsInside);
        var sarif = Path.Combine(output, $"{scanner.Name}.sarif");
        foreach (var (name, content) in scanner.ConfigFiles(paths)) await File.WriteAllTextAsync(Path.Combine(output, name), content, ct);
        var tail = new Queue<string>();
        log("system", $"Running scanner {scanner.Name}");
        var started = time.GetTimestamp();
        var environment = new Dictionary<string, string>(StringComparer.Ordinal) { ["SARIF_OUTPUT"] = paths.Output, ["CI"] = "true" };
        Sandbox.AddDefaults(environment, identity);
        var prefix = sandbox.Prefix(identity, output, Path.Combine(output, "src"), [(checkout, SourceInside), (catalog.ToolsDirectory, ToolsInside)]);
        // Its own cgroup: bounded like a build, and reaped after a crash.
        var unit = confinement.Open($"scan-{scanId}-{scanner.Name}", limits);
        var oomKills = unit.OomKills();
        ProcessResult result;
        string? killed;
        try
        {
            result = await shell.RunAsync(scanner.Command(paths), identity is null ? checkout : output, environment, options.ScannerTimeout, (stream, line) =>
            {
                lock (tail)
                {
                    tail.Enqueue(line);
                    if (tail.Count > TailLines) tail.Dequeue();
                }
                log("scan", line);
            }, ct, unit, prefix);
            killed = unit.OutOfMemorySince(oomKills);
        }
        finally
        {
            await unit.CloseAsync();
        }
        if (result.Canceled) throw new OperationCanceledException(ct);
        if (result.TimedOut) throw new ScanFailedException($"The scanner '{scanner.Name}' timed out after {options.ScannerTimeout}.");
        if (killed is not null) throw new ScanFailedException($"The scanner '{scanner.Name}' was stopped. {killed}.");
        var file = new FileInfo(sarif);
        if (!file.Exists || file.Length == 0)
        {
            string last;
            lock (tail) last = string.Join(" | ", tail);
            throw new ScanFailedException($"The scanner '{scanner.Name}' exited with code {result.ExitCode} and wrote no SARIF{(last.Length > 0 ? $": {last}" : "")}");
        }
        log("system", $"Scanner {scanner.Name} finished in {time.GetElapsedTime(started).TotalSeconds:0.0} s (exit code {result.ExitCode})");
        return new SpooledSarif(sarif);
    }
}
