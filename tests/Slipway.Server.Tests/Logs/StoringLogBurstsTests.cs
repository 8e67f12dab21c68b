using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Slipway.Server.Data;
using Slipway.Server.Logs;
using Slipway.Server.Tests.Support;
using Xunit.Abstractions;

namespace Slipway.Server.Tests.Logs;

/// <summary>The writer's bulk insert (SQLite prepared INSERT in one transaction, PostgreSQL binary COPY) on both providers.</summary>
public sealed class StoringLogBurstsTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);
    private SlipwayServer server = null!;
    private TestUser user = null!;
    private readonly List<GitRepo> repos = [];

    public async Task InitializeAsync()
    {
        server = await SlipwayServer.StartAsync(EngineSettings.Fast);
        user = await server.RegisterUserAsync();
    }

    public async Task DisposeAsync()
    {
        await server.DisposeAsync();
        foreach (var repo in repos) repo.Dispose();
    }

    private async Task<string> ReadyDeploymentAsync(string name)
    {
        var repo = GitRepo.Create();
        repos.Add(repo);
        repo.Commit(name, SampleApps.Static(name));
        var projectId = (await server.CreateProjectAsync(user.Token, name, new { repo_url = repo.BarePath, framework = "static" }))["id"]!.GetValue<string>();
        var id = (await server.DeployAsync(user.Token, projectId))["id"]!.GetValue<string>();
        await server.WaitForStatusAsync(user.Token, id, Timeout, "ready");
        return id;
    }

    private async Task<List<LogLine>> StoredAsync(string deploymentId)
    {
        await using var scope = server.Service<IServiceScopeFactory>().CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
        return await db.LogLines.Where(l => l.DeploymentId == deploymentId).OrderBy(l => l.Seq).ToListAsync();
    }

    [Fact]
    public async Task BurstOf50000Lines_AppendedAtOnce_IsStoredCompletely_WithGapFreeSeqs()
    {
        const int lines = 50_000;
        var id = await ReadyDeploymentAsync("burst-site");
        var writer = server.Service<LogWriter>();
        await writer.OpenAsync(id, CancellationToken.None);
        var before = (await StoredAsync(id)).Count;

        var watch = Stopwatch.StartNew();
        for (var i = 1; i <= lines; i++) writer.Append(id, "build", i % 7 == 0 ? "warn" : "info", $"burst line {i} \"quoted\" ünïcödé ✓");
        var appended = watch.ElapsedMilliseconds;
        await writer.FlushAsync(CancellationToken.None).WaitAsync(Timeout);
        output.WriteLine($"{lines} lines appended in {appended} ms, stored in {watch.ElapsedMilliseconds} ms ({(server.IsPostgres ? "postgres" : "sqlite")})");

        var stored = await StoredAsync(id);
        Assert.Equal(before + lines, stored.Count);
        Assert.Equal(Enumerable.Range(1, stored.Count).Select(i => (long)i), stored.Select(l => l.Seq));
        var burst = stored.Skip(before).ToList();
        Assert.Equal(Enumerable.Range(1, lines).Select(i => $"burst line {i} \"quoted\" ünïcödé ✓"), burst.Select(l => l.Message));
        Assert.All(burst, l => Assert.Equal("build", l.Stream));
        Assert.Equal(lines / 7, burst.Count(l => l.Level == "warn"));

        // Timestamps are stored the way EF stores them: they read back as UTC, to the millisecond, and the API's
        // "after" and ordering work on the rows the bulk path wrote.
        Assert.All(burst, l => Assert.Equal(0, l.Timestamp.Ticks % TimeSpan.TicksPerMillisecond));
        Assert.InRange(burst[^1].Timestamp, DateTime.UtcNow.AddMinutes(-5), DateTime.UtcNow.AddMinutes(1));
        var page = (await server.GetAsync($"/api/v1/logs/{id}?after={before + lines - 1}&limit=5", user.Token)).AssertStatus(200).Json["data"]!.AsArray();
        Assert.Equal($"burst line {lines} \"quoted\" ünïcödé ✓", Assert.Single(page)!["message"]!.GetValue<string>());
        Assert.EndsWith("Z", page[0]!["timestamp"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task LinesOfADeletedDeployment_InTheSameBatch_AreDropped_AndTheOthersAreStored()
    {
        var id = await ReadyDeploymentAsync("kept-site");
        var writer = server.Service<LogWriter>();
        await writer.OpenAsync(id, CancellationToken.None);
        var before = (await StoredAsync(id)).Count;

        // Interleaved, so both deployments' lines share batches: a COPY with one bad row fails whole.
        for (var i = 1; i <= 3000; i++)
        {
            writer.Append(id, "build", "info", $"kept {i}");
            writer.Append("dep_does_not_exist", "build", "info", $"orphan {i}");
        }
        await writer.FlushAsync(CancellationToken.None).WaitAsync(Timeout);

        var stored = await StoredAsync(id);
        Assert.Equal(Enumerable.Range(1, 3000).Select(i => $"kept {i}"), stored.Skip(before).Select(l => l.Message));
        Assert.Empty(await StoredAsync("dep_does_not_exist"));
        var dropped = server.Logs.Lines.Select(l => System.Text.RegularExpressions.Regex.Match(l, @"Dropped (\d+) log lines: their deployment was deleted"))
            .Where(m => m.Success).Sum(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(3000, dropped);

        // And the writer goes on.
        writer.Append(id, "build", "info", "after the orphans");
        await writer.FlushAsync(CancellationToken.None).WaitAsync(Timeout);
        Assert.Equal("after the orphans", (await StoredAsync(id))[^1].Message);
    }
}
