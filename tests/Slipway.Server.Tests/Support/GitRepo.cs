using System.Diagnostics;

namespace Slipway.Server.Tests.Support;

/// <summary>A real bare repository in a temp directory, fed through a working clone with the git CLI.</summary>
public sealed class GitRepo : IDisposable
{
    private readonly string root;
    private readonly string work;

    public string BarePath { get; }

    private GitRepo(string root)
    {
        this.root = root;
        BarePath = Path.Combine(root, "origin.git");
        work = Path.Combine(root, "work");
    }

    public static GitRepo Create(string branch = "main")
    {
        var repo = new GitRepo(Directory.CreateTempSubdirectory("slipway-repo-").FullName);
        Run(repo.root, "init", "--bare", "--initial-branch", branch, repo.BarePath);
        Run(repo.root, "init", "--initial-branch", branch, repo.work);
        Run(repo.work, "remote", "add", "origin", repo.BarePath);
        return repo;
    }

    /// <summary>Writes the files, commits them with the message, pushes the branch; returns the commit SHA.</summary>
    public string Commit(string message, IReadOnlyDictionary<string, string> files, string branch = "main")
    {
        var current = Run(work, "symbolic-ref", "--short", "HEAD").Trim();
        if (current != branch && current != "HEAD")
        {
            var exists = Run(work, "branch", "--list", branch).Trim().Length > 0;
            Run(work, exists ? ["checkout", branch] : ["checkout", "-b", branch]);
        }
        foreach (var (path, content) in files)
        {
            var full = Path.Combine(work, path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllText(full, content);
        }
        Run(work, "add", "-A");
        Run(work, "-c", "user.email=test@example.test", "-c", "user.name=Test", "commit", "-q", "--allow-empty", "-m", message);
        Run(work, "push", "-q", "origin", branch);
        return Run(work, "rev-parse", "HEAD").Trim();
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static string Run(string directory, params string[] args)
    {
        var info = new ProcessStartInfo("git") { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(30_000)) throw new TimeoutException($"git {string.Join(' ', args)} hung");
        if (process.ExitCode != 0) throw new InvalidOperationException($"git {string.Join(' ', args)} failed: {error.Result}");
        return output.Result;
    }
}

/// <summary>Tiny dependency-free apps to deploy.</summary>
public static class SampleApps
{
    /// <summary>A Node HTTP server answering its version and env, with an optional build step that writes build.txt.</summary>
    public static Dictionary<string, string> Node(string version, string? buildScript = "echo built > build.txt") => new()
    {
        ["package.json"] = $$"""
            { "name": "sample", "version": "1.0.0", "scripts": { {{(buildScript is null ? "" : $"\"build\": \"{buildScript}\", ")}}"start": "node server.js" } }
            """,
        ["server.js"] = $$"""
            const http = require('http');
            const fs = require('fs');
            const server = http.createServer((req, res) => {
              if (req.url === '/crash') { res.end('bye'); setTimeout(() => process.exit(3), 10); return; }
              if (req.url === '/env') { res.setHeader('content-type', 'application/json'); res.end(JSON.stringify({ greeting: process.env.GREETING || null, port: process.env.PORT })); return; }
              if (req.url === '/build') { res.end(fs.existsSync('build.txt') ? fs.readFileSync('build.txt', 'utf8') : 'no build'); return; }
              res.setHeader('content-type', 'text/plain');
              res.end('{{version}}');
            });
            server.listen(process.env.PORT, process.env.HOST);
            process.on('SIGTERM', () => server.close(() => process.exit(0)));
            """,
    };

    public static Dictionary<string, string> Static(string title) => new()
    {
        ["index.html"] = $"<!doctype html><title>{title}</title><h1>{title}</h1>",
        ["404.html"] = "<h1>custom not found</h1>",
        ["style.css"] = "body { color: #333; }",
    };
}
