using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Slipway.Server.Tests.Support;

/// <summary>
/// The built <c>slipway</c> binary run as a child process, as a person runs it: its own config directory (the token file),
/// a working directory (for <c>link</c>), optional stdin, stdout and stderr captured, and a timeout on every run.
/// </summary>
public sealed class CliRunner : IDisposable
{
    public static string Binary { get; } = Path.Combine(AppContext.BaseDirectory, "slipway.dll");

    private CliRunner()
    {
    }

    public static CliRunner Create() => new();

    public string ConfigDirectory { get; } = Path.Combine(Directory.CreateTempSubdirectory("slipway-cli-").FullName, "config");
    public string WorkingDirectory { get; } = Directory.CreateTempSubdirectory("slipway-cli-cwd-").FullName;

    public async Task<CliResult> RunAsync(string[] args, string? stdin = null, TimeSpan? timeout = null)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = WorkingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Binary);
        foreach (var arg in args) info.ArgumentList.Add(arg);
        info.Environment["SLIPWAY_CONFIG_DIR"] = ConfigDirectory;
        info.Environment.Remove("SLIPWAY_URL");
        info.Environment.Remove("SLIPWAY_TOKEN");
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null) await process.StandardInput.WriteAsync(stdin);
        process.StandardInput.Close();
        try
        {
            await process.WaitForExitAsync().WaitAsync(timeout ?? TimeSpan.FromSeconds(120));
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"slipway {string.Join(' ', args)} did not finish: {await stdout}\n{await stderr}");
        }
        return new CliResult(process.ExitCode, await stdout, await stderr);
    }

    public Task<CliResult> RunAsync(params string[] args) => RunAsync(args, null);

    public void Dispose()
    {
        foreach (var directory in new[] { Path.GetDirectoryName(ConfigDirectory)!, WorkingDirectory })
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}

public sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public CliResult AssertSuccess()
    {
        Assert.True(ExitCode == 0, $"exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}");
        return this;
    }

    public JsonNode Json => JsonNode.Parse(Stdout) ?? throw new InvalidOperationException("empty output");
}
