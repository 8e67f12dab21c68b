using System.Text;
using Microsoft.EntityFrameworkCore;
using Slipway.Server.Tests.EnvVars;
using Slipway.Server.Tests.Support;
using Slipway.Server.Workspaces;

namespace Slipway.Server.Tests.Webhooks;

public sealed class ManagingWebhooksTests : IAsyncLifetime
{
    private static readonly string[] All = ["*"];
    private static readonly string[] Exploded = ["deployment.exploded"];
    private static readonly string[] PingOnly = ["ping"];
    private SlipwayServer server = null!;
    private TestUser owner = null!;

    public async Task InitializeAsync()
    {
        server = await SlipwayServer.StartAsync(WebhookIntents.Settings());
        owner = await server.RegisterUserAsync();
    }

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task Create_ShowsTheSecretOnce_AndNeverAgain()
    {
        var created = await server.CreateWebhookAsync(owner.Token, "https://hooks.example.com/slipway", ["deployment.status_changed", "ping"],
            new { description = "status page" });
        var secret = created["secret"]!.GetValue<string>();
        Assert.StartsWith("whsec_", secret, StringComparison.Ordinal);
        Assert.Equal(32, Convert.FromBase64String(secret["whsec_".Length..]).Length);
        Assert.True(created["enabled"]!.GetValue<bool>());
        Assert.Equal(owner.WorkspaceId, created["workspace_id"]!.GetValue<string>());
        Assert.Equal(["deployment.status_changed", "ping"], created["events"]!.AsArray().Select(e => e!.GetValue<string>()));

        var id = created["id"]!.GetValue<string>();
        var fetched = await server.GetAsync($"/api/v1/webhooks/{id}", owner.Token);
        fetched.AssertStatus(200);
        Assert.Null(fetched.Json["secret"]);
        Assert.DoesNotContain(secret, fetched.Body, StringComparison.Ordinal);
        var listed = (await server.GetAsync("/api/v1/webhooks", owner.Token)).AssertStatus(200);
        Assert.Equal(id, listed.Json["data"]![0]!["id"]!.GetValue<string>());
        Assert.DoesNotContain(secret, listed.Body, StringComparison.Ordinal);

        string stored;
        if (server.IsPostgres)
        {
            stored = string.Join("\n", await server.WithDbAsync(db =>
                db.Database.SqlQueryRaw<string>("SELECT t::text AS \"Value\" FROM webhook_endpoints t").ToListAsync()));
            Assert.Contains(id, stored, StringComparison.Ordinal);
        }
        else
        {
            var wal = Path.Combine(server.DataDirectory, "slipway.db-wal");
            stored = Encoding.UTF8.GetString(await File.ReadAllBytesAsync(Path.Combine(server.DataDirectory, "slipway.db")))
                     + (File.Exists(wal) ? Encoding.UTF8.GetString(await File.ReadAllBytesAsync(wal)) : "");
        }
        Assert.DoesNotContain(secret["whsec_".Length..], stored, StringComparison.Ordinal);
        Assert.DoesNotContain(server.Logs.Lines, l => l.Contains(secret, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("http://127.0.0.1:9/hooks")]
    [InlineData("http://localhost/hooks")]
    [InlineData("http://169.254.169.254/latest/meta-data/")]
    [InlineData("http://10.1.2.3/hooks")]
    [InlineData("http://192.168.0.10/hooks")]
    [InlineData("http://172.20.0.1/hooks")]
    [InlineData("http://[::1]/hooks")]
    [InlineData("http://[fd00::1]/hooks")]
    [InlineData("http://0.0.0.0/hooks")]
    [InlineData("ftp://hooks.example.com/")]
    [InlineData("https://user:pass@hooks.example.com/")]
    [InlineData("not a url")]
    public async Task Create_RefusesTargetsSlipwayMustNotCall(string url)
    {
        await using var strict = await SlipwayServer.StartAsync(WebhookIntents.Settings(("AllowLoopback", "false")));
        var user = await strict.RegisterUserAsync();

        var response = await strict.PostAsync("/api/v1/webhooks", new { url, events = All }, user.Token);

        response.AssertStatus(400);
        Assert.Equal("validation_failed", response.Json["error"]!["code"]!.GetValue<string>());
        Assert.Equal("url", response.Json["error"]!["details"]![0]!["field"]!.GetValue<string>());
    }

    [Fact]
    public async Task Create_ValidatesEventTypes()
    {
        var unknown = await server.PostAsync("/api/v1/webhooks", new { url = "https://hooks.example.com/", events = Exploded }, owner.Token);
        unknown.AssertStatus(400);
        Assert.Contains("deployment.exploded", unknown.Body, StringComparison.Ordinal);
        (await server.PostAsync("/api/v1/webhooks", new { url = "https://hooks.example.com/", events = Array.Empty<string>() }, owner.Token)).AssertStatus(400);
        (await server.PostAsync("/api/v1/webhooks", new { url = "https://hooks.example.com/" }, owner.Token)).AssertStatus(400);
        var malformed = await server.PostAsync("/api/v1/webhooks", "{\"url\": 5}", owner.Token);
        Assert.True(malformed.Status == 400, string.Join("\n", server.Logs.Lines.TakeLast(20)));
        await server.CreateWebhookAsync(owner.Token, "https://hooks.example.com/", ["deployment.*", "*"]);
    }

    [Fact]
    public async Task Patch_ChangesUrlEventsAndState_AndDeleteRemovesIt()
    {
        var id = (await server.CreateWebhookAsync(owner.Token, "https://hooks.example.com/a"))["id"]!.GetValue<string>();

        var patched = (await server.PatchAsync($"/api/v1/webhooks/{id}", new { url = "https://hooks.example.com/b", events = PingOnly, enabled = false },
            owner.Token)).AssertStatus(200).Json;
        Assert.Equal("https://hooks.example.com/b", patched["url"]!.GetValue<string>());
        Assert.Equal(["ping"], patched["events"]!.AsArray().Select(e => e!.GetValue<string>()));
        Assert.False(patched["enabled"]!.GetValue<bool>());
        Assert.Equal("disabled by a user", patched["disabled_reason"]!.GetValue<string>());
        (await server.PostAsync($"/api/v1/webhooks/{id}/test", null, owner.Token)).AssertStatus(409);
        var enabled = (await server.PatchAsync($"/api/v1/webhooks/{id}", new { enabled = true }, owner.Token)).AssertStatus(200).Json;
        Assert.Null(enabled["disabled_reason"]);
        (await server.PatchAsync($"/api/v1/webhooks/{id}", new { url = "http://169.254.169.254/" }, owner.Token)).AssertStatus(400);

        (await server.DeleteAsync($"/api/v1/webhooks/{id}", owner.Token)).AssertStatus(204);
        (await server.GetAsync($"/api/v1/webhooks/{id}", owner.Token)).AssertStatus(404);
    }

    [Fact]
    public async Task OtherWorkspaces_SeeNothing_AndViewersCannotManage()
    {
        var id = (await server.CreateWebhookAsync(owner.Token, "https://hooks.example.com/a"))["id"]!.GetValue<string>();
        var stranger = await server.RegisterUserAsync();
        (await server.GetAsync($"/api/v1/webhooks/{id}", stranger.Token)).AssertStatus(404);
        (await server.PatchAsync($"/api/v1/webhooks/{id}", new { enabled = false }, stranger.Token)).AssertStatus(404);
        (await server.PostAsync($"/api/v1/webhooks/{id}/rotate-secret", null, stranger.Token)).AssertStatus(404);
        (await server.GetAsync($"/api/v1/webhooks/{id}/deliveries", stranger.Token)).AssertStatus(404);
        Assert.Empty((await server.GetAsync("/api/v1/webhooks", stranger.Token)).AssertStatus(200).Json["data"]!.AsArray());
        (await server.PostAsync("/api/v1/webhooks", new { url = "https://hooks.example.com/", events = All, workspace_id = owner.WorkspaceId },
            stranger.Token)).AssertStatus(404);

        var viewer = await server.RegisterUserAsync();
        await server.AddMemberAsync(owner.WorkspaceId, viewer.Id, WorkspaceRole.Viewer);
        (await server.GetAsync($"/api/v1/webhooks/{id}", viewer.Token)).AssertStatus(200);
        (await server.DeleteAsync($"/api/v1/webhooks/{id}", viewer.Token)).AssertStatus(403);
        var developer = await server.RegisterUserAsync();
        await server.AddMemberAsync(owner.WorkspaceId, developer.Id, WorkspaceRole.Developer);
        (await server.PostAsync("/api/v1/webhooks", new { url = "https://hooks.example.com/", events = All, workspace_id = owner.WorkspaceId },
            developer.Token)).AssertStatus(403);

        var readOnlyKey = await server.CreateApiKeyAsync(owner, "webhooks:read");
        (await server.GetAsync($"/api/v1/webhooks/{id}", readOnlyKey)).AssertStatus(200);
        (await server.PostAsync($"/api/v1/webhooks/{id}/test", null, readOnlyKey)).AssertStatus(403);
    }

    [Fact]
    public async Task ProjectWebhook_ReceivesOnlyThatProjectsEvents()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var project = await server.CreateProjectAsync(owner.Token);
        var other = await server.CreateProjectAsync(owner.Token);
        var projectId = project["id"]!.GetValue<string>();
        var hook = await server.CreateWebhookAsync(owner.Token, receiver.Url, ["deployment.created"], new { project_id = projectId });
        Assert.Equal(projectId, hook["project_id"]!.GetValue<string>());

        (await server.PostAsync("/api/v1/deployments", new { project_id = other["id"]!.GetValue<string>() }, owner.Token)).AssertStatus(201);
        var mine = (await server.PostAsync("/api/v1/deployments", new { project_id = projectId }, owner.Token)).AssertStatus(201).Json;

        var received = await receiver.WaitForAsync(r => r.Count >= 1);
        await Task.Delay(300);
        Assert.Single(receiver.Received);
        Assert.Equal(mine["id"]!.GetValue<string>(), received[0].Body!["data"]!["id"]!.GetValue<string>());
        Assert.Equal(projectId, received[0].Body!["project_id"]!.GetValue<string>());
    }
}
