using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Slipway.Server;
using Slipway.Server.Data;
using Slipway.Server.Events;
using Slipway.Server.Webhooks;

// bench/webhooks.sh: EVENTS events committed through the server's own DbContext (as state changes commit them), fanned
// out to RECEIVERS loopback receivers, one of which fails FAIL_RATE of its requests. Prints throughput, commit-to-first-
// attempt latency and whether every (event, receiver) pair was delivered; exits 1 when a bar is missed.
var events = int.Parse(Environment.GetEnvironmentVariable("EVENTS") ?? "10000", CultureInfo.InvariantCulture);
var receiverCount = int.Parse(Environment.GetEnvironmentVariable("RECEIVERS") ?? "4", CultureInfo.InvariantCulture);
var failRate = Environment.GetEnvironmentVariable("FAIL_RATE") ?? "0.5";
var batch = int.Parse(Environment.GetEnvironmentVariable("COMMIT_BATCH") ?? "10", CultureInfo.InvariantCulture);
// Events committed per second: the bar of 2,000 deliveries/s to 4 receivers is 500 events/s; more is
// offered so that the figure measures the worker, not the producer. 0 commits as fast as the database allows.
var rate = double.Parse(Environment.GetEnvironmentVariable("RATE") ?? "800", CultureInfo.InvariantCulture);
var receiverScript = Path.Combine(AppContext.BaseDirectory, "receiver.mjs");
var dataDirectory = Directory.CreateTempSubdirectory("slipway-bench-webhooks-").FullName;

var receivers = new List<(Process Process, string Url, ConcurrentQueue<(string Id, double At, int Status)> Lines)>();
try
{
    for (var i = 0; i < receiverCount; i++)
    {
        var info = new ProcessStartInfo("node", receiverScript) { RedirectStandardOutput = true, UseShellExecute = false };
        info.Environment["FAIL_RATE"] = i == 0 ? failRate : "0";
        var process = Process.Start(info)!;
        var port = (await process.StandardOutput.ReadLineAsync())!.Split(' ')[1];
        var lines = new ConcurrentQueue<(string, double, int)>();
        _ = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                var parts = line.Split(' ');
                lines.Enqueue((parts[0], double.Parse(parts[1], CultureInfo.InvariantCulture), int.Parse(parts[2], CultureInfo.InvariantCulture)));
            }
        });
        receivers.Add((process, $"http://127.0.0.1:{port}/hook", lines));
    }

    var settings = new Dictionary<string, string?>
    {
        ["urls"] = "http://127.0.0.1:0",
        ["Slipway:Router:Urls"] = "http://127.0.0.1:0",
        ["Slipway:DataDirectory"] = dataDirectory,
        ["Slipway:Webhooks:AllowLoopback"] = "true",
        // Twenty attempts a short step apart, so a receiver failing half the time at random still gets every event
        // (the chance that all twenty fail is one in a million) within the run.
        ["Slipway:Webhooks:RetrySchedule"] = "00:00:00," + string.Join(',', Enumerable.Repeat("00:00:00.200", 19)),
        ["Logging:LogLevel:Default"] = "Warning",
    };
    if (Environment.GetEnvironmentVariable("SLIPWAY_BENCH_POSTGRES") is { Length: > 0 } postgres)
    {
        settings["Slipway:Database:Provider"] = "postgres";
        settings["Slipway:Database:ConnectionString"] = postgres;
    }
    var warnings = new WarningCounter();
    var app = SlipwayApp.Create([], builder =>
    {
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.AddProvider(warnings);
    });
    await app.StartAsync();
    var api = new HttpClient { BaseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()) };
    var registered = await (await api.PostAsJsonAsync("/api/v1/auth/register",
        new { email = "bench@example.test", name = "Bench", password = "correct horse battery" })).Content.ReadFromJsonAsync<JsonNode>();
    api.DefaultRequestHeaders.Authorization = new("Bearer", registered!["token"]!.GetValue<string>());
    var workspaceId = (await api.GetFromJsonAsync<JsonNode>("/api/v1/auth/me"))!["workspaces"]![0]!["id"]!.GetValue<string>();
    foreach (var receiver in receivers)
    {
        (await api.PostAsJsonAsync("/api/v1/webhooks", new { url = receiver.Url, events = (string[])["*"] })).EnsureSuccessStatusCode();
    }

    Console.WriteLine($"committing {events} events in transactions of {batch} at {(rate > 0 ? $"{rate} events/s" : "full speed")} to {receiverCount} receivers (receiver 1 fails {failRate} of requests)");
    var committedAt = new Dictionary<string, double>(events);
    var scopes = app.Services.GetRequiredService<IServiceScopeFactory>();
    var time = TimeProvider.System;
    var clock = Stopwatch.StartNew();
    for (var done = 0; done < events; done += batch)
    {
        if (rate > 0 && clock.Elapsed.TotalSeconds < done / rate) await Task.Delay(TimeSpan.FromSeconds(done / rate) - clock.Elapsed);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
        var ids = new List<string>(batch);
        for (var i = done; i < Math.Min(events, done + batch); i++)
        {
            var id = Guid.CreateVersion7().ToString();
            ids.Add(id);
            db.Events.Add(new Event
            {
                Id = id, WorkspaceId = workspaceId, Type = "deployment.status_changed", CreatedAt = DateTime.UtcNow,
                Data = $$"""{"id":"{{id}}","status":"ready","n":{{i}}}""",
            });
        }
        await db.SaveChangesAsync();
        foreach (var id in ids) committedAt[id] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
    }
    var commitSeconds = clock.Elapsed.TotalSeconds;
    var firstCommit = committedAt.Values.Min();

    var deadline = Stopwatch.StartNew();
    while (deadline.Elapsed < TimeSpan.FromMinutes(3))
    {
        if (receivers.All(r => r.Lines.Where(l => l.Status == 200).Select(l => l.Id).Distinct().Count() >= events)) break;
        await Task.Delay(200);
    }
    await Task.Delay(300);

    var all = receivers.SelectMany((r, i) => r.Lines.Select(l => (Receiver: i, l.Id, l.At, l.Status))).ToList();
    var successes = all.Where(l => l.Status == 200).ToList();
    var lastSuccess = successes.Max(l => l.At);
    var firstAttempts = all.GroupBy(l => (l.Receiver, l.Id)).Select(g => g.Min(l => l.At) - committedAt[g.Key.Id]).Order().ToList();
    double Percentile(double p) => firstAttempts[(int)Math.Min(firstAttempts.Count - 1, Math.Ceiling(p * firstAttempts.Count) - 1)];
    var delivered = receivers.Select(r => r.Lines.Where(l => l.Status == 200).Select(l => l.Id).Where(committedAt.ContainsKey).Distinct().Count()).ToList();
    int succeededRows, deadRows;
    await using (var scope = scopes.CreateAsyncScope())
    {
        var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
        succeededRows = await db.WebhookDeliveries.CountAsync(d => d.Status == DeliveryStatus.Succeeded);
        deadRows = await db.WebhookDeliveries.CountAsync(d => d.Status == DeliveryStatus.Dead);
    }
    var throughput = successes.Count / ((lastSuccess - firstCommit) / 1000.0);
    var offered = events * receiverCount / commitSeconds;
    var lost = events * receiverCount - delivered.Sum();
    var duplicates = successes.Count - successes.Select(l => (l.Receiver, l.Id)).Distinct().Count();

    Console.WriteLine($"commit phase: {commitSeconds:0.00} s ({events / commitSeconds:0} events/s, {offered:0} deliveries/s offered)");
    Console.WriteLine($"attempts: {all.Count} ({all.Count - successes.Count} answered 503); successful deliveries: {successes.Count}");
    Console.WriteLine($"successful deliveries/s (first commit to last success, retries included): {throughput:0}");
    Console.WriteLine($"commit to first attempt: p50 {Percentile(0.50):0.0} ms, p99 {Percentile(0.99):0.0} ms, max {firstAttempts[^1]:0.0} ms");
    Console.WriteLine($"delivered per receiver: {string.Join(", ", delivered)} of {events}; database: {succeededRows} succeeded, {deadRows} dead; lost: {lost}");
    Console.WriteLine($"successful deliveries sent twice: {duplicates}");
    var stop = Stopwatch.StartNew();
    await app.StopAsync();
    Console.WriteLine($"server stopped in {stop.ElapsedMilliseconds} ms; warnings or worse in its log: {warnings.Count}");
    var pass = throughput >= 2000 && Percentile(0.50) <= 50 && lost == 0 && deadRows == 0 && duplicates == 0 && warnings.Count == 0;
    Console.WriteLine($"bars: >= 2000 deliveries/s, p50 <= 50 ms, 0 lost, 0 duplicates, no warning, clean stop -> {(pass ? "PASS" : "FAIL")}");
    return pass ? 0 : 1;
}
finally
{
    foreach (var receiver in receivers)
    {
        try
        {
            receiver.Process.Kill();
        }
        catch (InvalidOperationException)
        {
        }
    }
    try
    {
        Directory.Delete(dataDirectory, recursive: true);
    }
    catch (IOException)
    {
    }
}

/// <summary>Counts the server's log entries at Warning or above (they are also printed by the console logger).</summary>
internal sealed class WarningCounter : ILoggerProvider, ILogger
{
    private int count;

    public int Count => Volatile.Read(ref count);

    public ILogger CreateLogger(string categoryName) => this;

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel)) Interlocked.Increment(ref count);
    }

    public void Dispose()
    {
    }
}
