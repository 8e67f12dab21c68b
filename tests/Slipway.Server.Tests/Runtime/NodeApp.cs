using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Slipway.Server.Runtime;
using Slipway.Server.Runtime.Cgroups;

namespace Slipway.Server.Tests.Runtime;

/// <summary>
/// A tiny dependency-free Node app in its own temp directory, steered by environment variables, that records what
/// happened to it in files next to it (start times, SIGTERM, a child's pid).
/// </summary>
internal sealed class NodeApp
{
    // GET /crash answers, then exits with code 3. CRASH_PLAN: per start (1-based, comma separated) "x" to exit with
    // code 3 before listening, a number of ms to run before exiting, "-" (or starts beyond the plan) to stay up.
    private const string Script = """
        const http = require('http');
        const fs = require('fs');
        const env = process.env;
        fs.appendFileSync('starts.log', Date.now() + '\n');
        const starts = fs.readFileSync('starts.log', 'utf8').trim().split('\n').length;
        console.log(`app ${process.pid} start ${starts} on ${env.HOST}:${env.PORT}`);
        console.error('a line on stderr');
        process.on('SIGTERM', () => {
          fs.writeFileSync('sigterm', String(Date.now()));
          if (!env.IGNORE_SIGTERM) process.exit(0);
        });
        if (env.EXIT_AT_ONCE) process.exit(2);
        const crash = (env.CRASH_PLAN || '').split(',')[starts - 1] || '-';
        if (crash === 'x') process.exit(3);
        if (crash !== '-') setTimeout(() => { console.error('crashing'); process.exit(3); }, Number(crash));
        if (env.SPAWN_CHILD) {
          const child = require('child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
          fs.writeFileSync(`child-${starts}.pid`, String(child.pid));
        }
        if (env.NO_LISTEN) {
          setInterval(() => {}, 1000);
        } else {
          http.createServer((req, res) => {
            if (req.url === '/health') {
              res.writeHead(Number(env.HEALTH_STATUS || 200), { location: '/broken' });
              res.end('health');
            } else if (req.url === '/crash') {
              console.error('crashing');
              res.end('bye', () => process.exit(3));
            } else if (req.url === '/broken') {
              res.writeHead(500);
              res.end('broken');
            } else if (req.url === '/env') {
              res.writeHead(200, { 'content-type': 'application/json' });
              res.end(JSON.stringify({ port: env.PORT, host: env.HOST, custom: env.CUSTOM ?? null, leaked: env.SLIPWAY_TEST_SERVER_SECRET ?? null, pid: process.pid }));
            } else {
              res.writeHead(200);
              res.end(`hello from start ${starts}`);
            }
          }).listen(Number(env.PORT), env.HOST);
        }
        """;

    public NodeApp()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("slipway-runtime-").FullName;
        File.WriteAllText(Path.Combine(Directory, "server.js"), Script);
    }

    public string Directory { get; }

    public ConcurrentQueue<(string Stream, string Line)> Lines { get; } = new();

    public void OnLine(string stream, string line) => Lines.Enqueue((stream, line));

    public IEnumerable<string> LinesOf(string stream) => Lines.Where(l => l.Stream == stream).Select(l => l.Line);

    public ReleaseSpec Spec(string? deploymentId = null, string healthCheckPath = "/health", params (string Key, string Value)[] environment) =>
        new(deploymentId ?? "dep-" + Guid.NewGuid().ToString("N")[..12], "prj-test", "env-test", Directory, "node server.js",
            environment.ToDictionary(e => e.Key, e => e.Value), healthCheckPath);

    /// <summary>When each start of the app happened (its own clock reading), in order.</summary>
    public IReadOnlyList<DateTimeOffset> Starts()
    {
        var path = Path.Combine(Directory, "starts.log");
        return File.Exists(path)
            ? File.ReadAllLines(path).Where(l => l.Length > 0).Select(l => DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(l, System.Globalization.CultureInfo.InvariantCulture))).ToList()
            : [];
    }

    public bool ReceivedSigterm => File.Exists(Path.Combine(Directory, "sigterm"));

    public int ChildPid(int start) => int.Parse(File.ReadAllText(Path.Combine(Directory, $"child-{start}.pid")), System.Globalization.CultureInfo.InvariantCulture);

    public void Delete()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>
/// One supervisor per test (options may be changed until it is first used) and the apps it ran. Not IAsyncDisposable:
/// xunit v2 does not dispose test classes asynchronously, so test classes call <see cref="CleanUpAsync"/> from
/// <see cref="IAsyncLifetime.DisposeAsync"/>.
/// </summary>
internal sealed class RuntimeHarness
{
    private readonly List<NodeApp> apps = [];
    private readonly string dataDirectory = System.IO.Directory.CreateTempSubdirectory("slipway-runtime-data-").FullName;
    private Supervisor? supervisor;
    private Confinement? confinement;

    public RuntimeOptions Options { get; } = RuntimeTesting.FastOptions();

    public TimeProvider Time { get; set; } = TimeProvider.System;

    /// <summary>Real cgroups (as the server uses them), in a data directory of this test's own.</summary>
    public Confinement Confinement => confinement ??= new Confinement(Options, new Slipway.Server.Runtime.Sandbox.SandboxOptions(), dataDirectory, NullLogger<Confinement>.Instance);

    public Supervisor Supervisor => supervisor ??= new Supervisor(Options, new PortAllocator(), Confinement, Time, NullLogger<Supervisor>.Instance);

    public NodeApp NewApp()
    {
        var app = new NodeApp();
        apps.Add(app);
        return app;
    }

    public async Task CleanUpAsync()
    {
        if (supervisor is not null)
        {
            await supervisor.StopAllAsync().WaitAsync(RuntimeTesting.Patience);
            await supervisor.DisposeAsync();
        }
        if (confinement is not null)
        {
            await confinement.ReapLeftoversAsync();
            confinement.RemoveRoot();
        }
        foreach (var app in apps) app.Delete();
        System.IO.Directory.Delete(dataDirectory, recursive: true);
    }
}

internal static class RuntimeTesting
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    /// <summary>Options scaled down so supervision plays out in seconds.</summary>
    public static RuntimeOptions FastOptions() => new()
    {
        HealthCheckTimeout = TimeSpan.FromSeconds(15),
        HealthCheckInterval = TimeSpan.FromMilliseconds(50),
        DrainGrace = TimeSpan.Zero,
        StopTimeout = TimeSpan.FromSeconds(3),
        RestartBackoffInitial = TimeSpan.FromMilliseconds(200),
        RestartBackoffMax = TimeSpan.FromSeconds(5),
    };

    public static async Task<bool> HealthyWithinAsync(this Supervisor supervisor, RunningRelease release) =>
        await supervisor.WaitHealthyAsync(release, CancellationToken.None).WaitAsync(Patience);

    public static async Task StopWithinAsync(this Supervisor supervisor, string deploymentId, TimeSpan? drainGrace = null) =>
        await supervisor.StopAsync(deploymentId, drainGrace).WaitAsync(Patience);

    /// <summary>Alive means present in /proc and not a zombie (nobody may reap orphans in a container).</summary>
    public static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var state = stat[(stat.LastIndexOf(')') + 2)..][0];
            return state is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }

    public static async Task UntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.Elapsed > (timeout ?? Patience)) throw new Xunit.Sdk.XunitException($"Timed out waiting until {what}");
            await Task.Delay(25);
        }
    }

    public static async Task<string> GetTextAsync(Uri upstream, string path = "/")
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        return await http.GetStringAsync(new Uri(upstream, path));
    }

    public static async Task<bool> RefusesConnectionsAsync(int port)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(System.Net.IPAddress.Loopback, port).WaitAsync(TimeSpan.FromSeconds(5));
            return false;
        }
        catch (SocketException)
        {
            return true;
        }
    }

    /// <summary>Records every status change of a release with the moment it happened.</summary>
    public static ConcurrentQueue<LiveStatusChange> Record(this RunningRelease release)
    {
        var changes = new ConcurrentQueue<LiveStatusChange>();
        release.StatusChanged += (_, change) => changes.Enqueue(change);
        return changes;
    }
}
