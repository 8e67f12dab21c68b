using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Slipway.Server.Deployments;
using Slipway.Server.Events;
using Slipway.Server.Logs;
using Slipway.Server.Tests.EnvVars;
using Slipway.Server.Tests.Support;
using Slipway.Server.Webhooks;

namespace Slipway.Server.Tests.Usage;

/// <summary>A scenario with known totals written as records, then read back through the usage API.</summary>
public sealed class ReportingUsageTests : IAsyncLifetime
{
    private static readonly DateTime Day1 = new(2026, 10, 1, 0, 0, 0, DateTimeKind.Utc);
    private SlipwayServer server = null!;
    private TestUser user = null!;
    private string web = null!;
    private string api = null!;

    public async Task InitializeAsync()
    {
        server = await SlipwayServer.StartAsync();
        user = await server.RegisterUserAsync();
        web = (await server.CreateProjectAsync(user.Token, "web"))["id"]!.GetValue<string>();
        api = (await server.CreateProjectAsync(user.Token, "api"))["id"]!.GetValue<string>();
        // web: day 1 two ready builds of 2 and 4 minutes (one archive shared by both) and a failed one; day 2 a canceled one.
        // api: day 2 one ready build of 3 minutes, at 10:xx; and one outside the period (day 5).
        var a = await SeedDeploymentAsync(web, Day1.AddHours(1), DeploymentStatus.Ready, TimeSpan.FromMinutes(2), ("sha-a", 1000));
        await SeedDeploymentAsync(web, Day1.AddHours(2), DeploymentStatus.Ready, TimeSpan.FromMinutes(4), ("sha-a", 1000));
        await SeedDeploymentAsync(web, Day1.AddHours(3), DeploymentStatus.Failed, TimeSpan.FromMinutes(1), null);
        await SeedDeploymentAsync(web, Day1.AddDays(1).AddHours(5), DeploymentStatus.Canceled, null, null);
        var b = await SeedDeploymentAsync(api, Day1.AddDays(1).AddHours(10), DeploymentStatus.Ready, TimeSpan.FromMinutes(3), ("sha-b", 500));
        await SeedDeploymentAsync(api, Day1.AddDays(4), DeploymentStatus.Ready, TimeSpan.FromMinutes(7), ("sha-c", 250));
        await SeedLogsAsync(a, Day1.AddHours(1), "hello", "world!");
        await SeedLogsAsync(b, Day1.AddDays(1).AddHours(10), "abc");
        await SeedDeliveriesAsync(Day1.AddDays(1).AddHours(11), DeliveryStatus.Succeeded, DeliveryStatus.Dead);
    }

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task WorkspaceUsage_ByDay_MatchesTheRecords()
    {
        var usage = (await server.GetAsync($"/api/v1/usage?workspace_id={user.WorkspaceId}&from=2026-10-01T00:00:00Z&to=2026-10-03T00:00:00Z", user.Token))
            .AssertStatus(200).Json;

        Assert.Equal("day", usage["granularity"]!.GetValue<string>());
        var totals = usage["totals"]!;
        Assert.Equal(5, totals["deployments"]!.GetValue<int>());
        Assert.Equal(3, totals["succeeded"]!.GetValue<int>());
        Assert.Equal(1, totals["failed"]!.GetValue<int>());
        Assert.Equal(1, totals["canceled"]!.GetValue<int>());
        Assert.Equal(10.0, totals["build_minutes"]!.GetValue<double>());
        Assert.Equal(2, totals["active_projects"]!.GetValue<int>());
        Assert.Equal(3, totals["log_lines"]!.GetValue<long>());
        Assert.Equal("helloworld!abc".Length, totals["log_characters"]!.GetValue<long>());
        Assert.Equal(2, totals["webhook_deliveries"]!.GetValue<int>());
        Assert.Equal(1, totals["webhook_deliveries_succeeded"]!.GetValue<int>());
        Assert.Equal(1, totals["webhook_deliveries_dead"]!.GetValue<int>());
        // Storage is "now": sha-a once (shared), sha-b, and sha-c although it is outside the period.
        Assert.Equal(1750, usage["artifact_storage_bytes"]!.GetValue<long>());

        var series = usage["series"]!.AsArray();
        Assert.Equal(2, series.Count);
        Assert.Equal(Day1, series[0]!["start"]!.GetValue<DateTime>().ToUniversalTime());
        Assert.Equal((3, 1, 7.0, 2L), Figures(series[0]!));
        Assert.Equal((2, 2, 3.0, 1L), Figures(series[1]!));

        var projects = usage["projects"]!.AsArray();
        var apiUsage = projects.Single(p => p!["project_id"]!.GetValue<string>() == api)!;
        Assert.Equal(750, apiUsage["artifact_storage_bytes"]!.GetValue<long>());
        Assert.Equal(1, apiUsage["figures"]!["deployments"]!.GetValue<int>());
        Assert.Equal(Day1.AddDays(4), apiUsage["last_deployed_at"]!.GetValue<DateTime>().ToUniversalTime());
        var webUsage = projects.Single(p => p!["project_id"]!.GetValue<string>() == web)!;
        Assert.Equal(1000, webUsage["artifact_storage_bytes"]!.GetValue<long>());
        Assert.Equal(4, webUsage["figures"]!["deployments"]!.GetValue<int>());
    }

    [Fact]
    public async Task ProjectUsage_ByHour_CoversOnlyThatProject()
    {
        var usage = (await server.GetAsync($"/api/v1/projects/{api}/usage?from=2026-10-02T09:30:00Z&to=2026-10-02T12:00:00Z&granularity=hour", user.Token))
            .AssertStatus(200).Json;

        Assert.Equal(api, usage["project_id"]!.GetValue<string>());
        Assert.Null(usage["projects"]);
        Assert.Equal(new DateTime(2026, 10, 2, 9, 0, 0, DateTimeKind.Utc), usage["from"]!.GetValue<DateTime>().ToUniversalTime());
        var series = usage["series"]!.AsArray();
        Assert.Equal(3, series.Count);
        Assert.Equal([0, 1, 0], series.Select(b => b!["figures"]!["deployments"]!.GetValue<int>()));
        Assert.Equal([0L, 1L, 0L], series.Select(b => b!["figures"]!["log_lines"]!.GetValue<long>()));
        Assert.Equal([0, 0, 2], series.Select(b => b!["figures"]!["webhook_deliveries"]!.GetValue<int>()));
        Assert.Equal(750, usage["artifact_storage_bytes"]!.GetValue<long>());
    }

    [Fact]
    public async Task BadPeriods_AndOtherWorkspaces_AreRefused()
    {
        (await server.GetAsync("/api/v1/usage?from=yesterday", user.Token)).AssertStatus(400);
        (await server.GetAsync("/api/v1/usage?granularity=week", user.Token)).AssertStatus(400);
        (await server.GetAsync("/api/v1/usage?from=2026-10-05T00:00:00Z&to=2026-10-01T00:00:00Z", user.Token)).AssertStatus(400);
        (await server.GetAsync("/api/v1/usage?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z&granularity=hour", user.Token)).AssertStatus(400);
        var stranger = await server.RegisterUserAsync();
        (await server.GetAsync($"/api/v1/usage?workspace_id={user.WorkspaceId}", stranger.Token)).AssertStatus(404);
        (await server.GetAsync($"/api/v1/projects/{web}/usage", stranger.Token)).AssertStatus(404);
        var noScope = await server.CreateApiKeyAsync(user, "projects:read");
        (await server.GetAsync("/api/v1/usage", noScope)).AssertStatus(403);
        var key = await server.CreateApiKeyAsync(user, "usage:read");
        var own = (await server.GetAsync("/api/v1/usage", key)).AssertStatus(200).Json;
        Assert.Equal(user.WorkspaceId, own["workspace_id"]!.GetValue<string>());
        Assert.InRange(own["series"]!.AsArray().Count, 30, 31);
    }

    private static (int Deployments, int ActiveProjects, double BuildMinutes, long LogLines) Figures(JsonNode bucket)
    {
        var f = bucket["figures"]!;
        return (f["deployments"]!.GetValue<int>(), f["active_projects"]!.GetValue<int>(), f["build_minutes"]!.GetValue<double>(), f["log_lines"]!.GetValue<long>());
    }

    private async Task<string> SeedDeploymentAsync(string projectId, DateTime createdAt, DeploymentStatus status, TimeSpan? build, (string Sha, long Size)? artifact)
    {
        var id = Guid.CreateVersion7().ToString();
        await server.WithDbAsync(async db =>
        {
            var environment = await db.Environments.FirstAsync(e => e.ProjectId == projectId);
            db.Deployments.Add(new Deployment
            {
                Id = id, BuildId = Guid.CreateVersion7().ToString(), WorkspaceId = user.WorkspaceId, ProjectId = projectId, EnvironmentId = environment.Id,
                Status = status, BuildStatus = BuildStatus.Succeeded, Trigger = DeploymentTrigger.Api, Branch = "main", CreatedAt = createdAt, UpdatedAt = createdAt,
                BuildStartedAt = build is null ? null : createdAt.AddSeconds(10), BuildFinishedAt = build is null ? null : createdAt.AddSeconds(10) + build.Value,
                ArtifactSha256 = artifact?.Sha, ArtifactSize = artifact?.Size,
            });
            return await db.SaveChangesAsync();
        });
        return id;
    }

    private Task SeedLogsAsync(string deploymentId, DateTime at, params string[] messages) => server.WithDbAsync(db =>
    {
        var seq = 0;
        db.LogLines.AddRange(messages.Select(m => new LogLine
        {
            DeploymentId = deploymentId, Seq = ++seq, Timestamp = at.AddSeconds(seq), Level = "info", Stream = "build", Message = m,
        }));
        return db.SaveChangesAsync();
    });

    private async Task SeedDeliveriesAsync(DateTime at, params DeliveryStatus[] statuses)
    {
        var hook = await server.WithDbAsync(async db =>
        {
            var endpoint = new WebhookEndpoint
            {
                Id = Guid.CreateVersion7().ToString(), WorkspaceId = user.WorkspaceId, Url = "https://hooks.example.com/", Events = "[\"*\"]", Enabled = true,
                SecretSealed = [1, 2, 3], SecretKeyId = "local", CreatedAt = at, UpdatedAt = at,
            };
            db.WebhookEndpoints.Add(endpoint);
            await db.SaveChangesAsync();
            return endpoint.Id;
        });
        await server.WithDbAsync(async db =>
        {
            foreach (var status in statuses)
            {
                var evt = new Event
                {
                    Id = Guid.CreateVersion7().ToString(), WorkspaceId = user.WorkspaceId, ProjectId = api, Type = "deployment.status_changed", Data = "{}",
                    CreatedAt = at, DispatchedAt = at,
                };
                db.Events.Add(evt);
                db.WebhookDeliveries.Add(new WebhookDelivery
                {
                    Id = Guid.CreateVersion7().ToString(), EndpointId = hook, EventId = evt.Id, WorkspaceId = user.WorkspaceId, ProjectId = api,
                    EventType = evt.Type, Status = status, AttemptCount = 1, CreatedAt = at, CompletedAt = at,
                });
            }
            return await db.SaveChangesAsync();
        });
    }
}
