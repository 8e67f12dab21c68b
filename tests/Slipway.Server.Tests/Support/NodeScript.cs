using System.Diagnostics;

namespace Slipway.Server.Tests.Support;

/// <summary>
/// Runs a Node script against the repository's node_modules (the npm clients we test against: socket.io-client,
/// standardwebhooks, @octokit/webhooks-methods …). The script is written to a temp file inside the repository so
/// that Node's module resolution finds node_modules; its stdout lines can be read as they arrive.
/// </summary>
public sealed class NodeScript : IAsyncDisposable
{
    private readonly Process process;
    private readonly string scriptPath;
    private readonly Task<string> stderr;

    private NodeScript(Process process, string scriptPath)
    {
        this.process = process;
        this.scriptPath = scriptPath;
        stderr = process.StandardError.ReadToEndAsync();
    }

    /// <summary>The repository root: the directory holding Slipway.slnx and package.json.</summary>
    public static string RepositoryRoot { get; } = FindRoot();

    /// <summary>Starts <c>node</c> on the given source (an ES module, extension .mjs) with the arguments and environment.</summary>
    public static NodeScript Start(string source, IEnumerable<string>? args = null, IReadOnlyDictionary<string, string>? env = null)
    {
        var directory = Path.Combine(RepositoryRoot, "tests", ".node-scripts");
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, $"script-{Guid.NewGuid():N}.mjs");
        File.WriteAllText(path, source);
        var info = new ProcessStartInfo("node")
        {
            WorkingDirectory = RepositoryRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        info.ArgumentList.Add(path);
        foreach (var arg in args ?? []) info.ArgumentList.Add(arg);
        foreach (var (key, value) in env ?? new Dictionary<string, string>()) info.Environment[key] = value;
        return new NodeScript(Process.Start(info)!, path);
    }

    /// <summary>Runs the script to completion (bounded by the timeout) and returns its stdout; throws with stderr on a non-zero exit.</summary>
    public static async Task<string> RunAsync(string source, IEnumerable<string>? args = null, IReadOnlyDictionary<string, string>? env = null, TimeSpan? timeout = null)
    {
        await using var script = Start(source, args, env);
        var output = script.process.StandardOutput.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await script.process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"node script did not finish in time; stderr: {await script.StopAndReadStderrAsync()}");
        }
        if (script.process.ExitCode != 0)
            throw new InvalidOperationException($"node exited with {script.process.ExitCode}: {await script.StderrAsync()}\nstdout: {await output}");
        return await output;
    }

    /// <summary>The next stdout line, or null at end of stream; throws TimeoutException when none arrives in time.</summary>
    public async Task<string?> ReadLineAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            return await process.StandardOutput.ReadLineAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no output from node within {timeout}; stderr: {await StopAndReadStderrAsync()}");
        }
    }

    /// <summary>Writes a line to the script's stdin.</summary>
    public async Task WriteLineAsync(string line)
    {
        await process.StandardInput.WriteLineAsync(line);
        await process.StandardInput.FlushAsync();
    }

    public async Task<string> StderrAsync()
    {
        if (!process.HasExited) return "(still running)";
        return await stderr;
    }

    /// <summary>
    /// Kills the script (it timed out) and returns what it wrote to stderr: the stream ends only once the process is
    /// gone, so a timeout's message can say what the script printed.
    /// </summary>
    private async Task<string> StopAndReadStderrAsync()
    {
        try
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }
        try
        {
            return await stderr.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (TimeoutException)
        {
            return "(stderr still open 10 s after the kill)";
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
        catch (InvalidOperationException)
        {
        }
        process.Dispose();
        File.Delete(scriptPath);
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Slipway.slnx")) && File.Exists(Path.Combine(dir.FullName, "package.json")))
                return dir.FullName;
        }
        throw new InvalidOperationException("repository root (Slipway.slnx + package.json) not found above the test binaries");
    }
}
