using System.Diagnostics;

namespace Slipway.Server.Tests.Builds;

/// <summary>A temp directory removed at the end of the test.</summary>
public sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("slipway-builds-").FullName;

    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    public string Write(string relative, string content)
    {
        var file = Combine(relative);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(file)!);
        File.WriteAllText(file, content);
        return file;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>A bare repository made with the git CLI, with a working clone to commit from.</summary>
public sealed class TestRepository : IDisposable
{
    private readonly TempDirectory root = new();

    public TestRepository()
    {
        Directory.CreateDirectory(WorkTree);
        Git(root.Path, "init", "--quiet", "--bare", "--initial-branch=main", BarePath);
        Git(root.Path, "init", "--quiet", "--initial-branch=main", WorkTree);
        Git(WorkTree, "config", "user.email", "test@slipway.local");
        Git(WorkTree, "config", "user.name", "Slipway Test");
        Git(WorkTree, "remote", "add", "origin", BarePath);
    }

    public string BarePath => root.Combine("origin.git");

    public string WorkTree => root.Combine("work");

    public string FileUrl => "file://" + BarePath;

    public string Scratch(string name) => root.Combine(name);

    /// <summary>Writes the files, commits them on the branch and pushes; returns the full SHA.</summary>
    public string Commit(string message, string branch = "main", params (string Path, string Content)[] files)
    {
        var current = Git(WorkTree, "symbolic-ref", "--short", "HEAD").Trim();
        if (current != branch)
        {
            var exists = Run(WorkTree, "rev-parse", "--verify", "--quiet", "refs/heads/" + branch).ExitCode == 0;
            if (exists) Git(WorkTree, "checkout", "--quiet", branch);
            else Git(WorkTree, "checkout", "--quiet", "-b", branch);
        }
        foreach (var (path, content) in files)
        {
            var file = Path.Combine(WorkTree, path);
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            File.WriteAllText(file, content);
        }
        Git(WorkTree, "add", "-A");
        Git(WorkTree, "commit", "--quiet", "--allow-empty", "-m", message);
        Git(WorkTree, "push", "--quiet", "origin", branch);
        return Git(WorkTree, "rev-parse", "HEAD").Trim();
    }

    public static string Git(string directory, params string[] arguments)
    {
        var (code, output) = Run(directory, arguments);
        Assert.True(code == 0, $"git {string.Join(' ', arguments)} failed: {output}");
        return output;
    }

    public static (int ExitCode, string Output) Run(string directory, params string[] arguments)
    {
        var info = new ProcessStartInfo("git") { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        info.Environment["GIT_TERMINAL_PROMPT"] = "0";
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"git {string.Join(' ', arguments)} did not finish in 30 s");
        }
        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    public void Dispose() => root.Dispose();
}

/// <summary>Collects what a <see cref="Slipway.Server.Builds.LineSink"/> receives, safe across threads.</summary>
public sealed class CapturedLines
{
    private readonly List<(string Stream, string Line)> lines = [];

    internal void Add(string stream, string line)
    {
        lock (lines) lines.Add((stream, line));
    }

    public IReadOnlyList<(string Stream, string Line)> All
    {
        get
        {
            lock (lines) return [.. lines];
        }
    }

    public IReadOnlyList<string> Of(string stream) => All.Where(l => l.Stream == stream).Select(l => l.Line).ToList();

    public string Text => string.Join('\n', All.Select(l => $"[{l.Stream}] {l.Line}"));
}
