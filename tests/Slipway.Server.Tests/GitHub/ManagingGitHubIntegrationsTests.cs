using System.Text;
using Microsoft.EntityFrameworkCore;
using Slipway.Server.Tests.EnvVars;
using Slipway.Server.Tests.Support;
using Slipway.Server.Workspaces;

namespace Slipway.Server.Tests.GitHub;

/// <summary>The per-project webhook: a receiving URL and a secret shown once, revealed again only to owners and admins.</summary>
public sealed class ManagingGitHubIntegrationsTests : IAsyncLifetime
{
    private SlipwayServer server = null!;
    private OctokitWebhooks github = null!;
    private TestUser owner = null!;

    public async Task InitializeAsync()
    {
        server = await SlipwayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Logging:LogLevel:Default"] = "Trace",
            ["Logging:LogLevel:Microsoft.AspNetCore"] = "Trace",
            ["Logging:LogLevel:Microsoft.EntityFrameworkCore"] = "Trace",
        });
        github = OctokitWebhooks.Start();
        owner = await server.RegisterUserAsync();
    }

    public async Task DisposeAsync()
    {
        await github.DisposeAsync();
        await server.DisposeAsync();
    }

    private static string Path(string projectId, string action = "") => $"/api/v1/projects/{projectId}/integrations/github{action}";

    private async Task<string> ProjectAsync(TestUser user) => (await server.CreateProjectAsync(user.Token))["id"]!.GetValue<string>();

    [Fact]
    public async Task Create_ShowsTheUrlAndSecretOnce_ThenGetShowsNoSecret()
    {
        var projectId = await ProjectAsync(owner);

        var created = (await server.PostAsync(Path(projectId), null, owner.Token)).AssertStatus(201);

        var hook = created.Json;
        var id = hook["id"]!.GetValue<string>();
        var secret = hook["secret"]!.GetValue<string>();
        Assert.Matches("^[0-9a-f]{64}$", secret);
        Assert.Equal(new Uri(server.BaseAddress, $"/api/v1/integrations/github/{id}").ToString(), hook["url"]!.GetValue<string>());
        Assert.Equal("application/json", hook["content_type"]!.GetValue<string>());
        Assert.Equal(["push", "pull_request"], hook["events"]!.AsArray().Select(e => e!.GetValue<string>()));
        Assert.Equal(projectId, hook["project_id"]!.GetValue<string>());
        Assert.Equal(owner.Id, hook["created_by"]!.GetValue<string>());
        Assert.Null(hook["last_delivery"]);
        Assert.Equal("no-store", created.Header("Cache-Control"));
        Assert.EndsWith(Path(projectId), created.Header("Location"), StringComparison.Ordinal);

        var read = (await server.GetAsync(Path(projectId), owner.Token)).AssertStatus(200);
        Assert.Null(read.Json["secret"]);
        Assert.DoesNotContain(secret, read.Body, StringComparison.Ordinal);
        Assert.Equal(hook["url"]!.GetValue<string>(), read.Json["url"]!.GetValue<string>());
        (await server.PostAsync(Path(projectId), null, owner.Token)).AssertError(409, "conflict");

        // The secret GitHub was given verifies a real ping (GitHub sends one as soon as the webhook is added).
        var ping = await github.DeliverAsync(server, hook["url"]!.GetValue<string>(), secret, "ping", await github.ExampleAsync("ping"));
        Assert.Equal("pong", ping.AssertStatus(200).Json["status"]!.GetValue<string>());
        Assert.Equal("pong", (await server.GetAsync(Path(projectId), owner.Token)).Json["last_delivery"]!["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Reveal_IsForOwnersAndAdmins_AndRotateReplacesTheSecretAtOnce()
    {
        var projectId = await ProjectAsync(owner);
        var hook = (await server.PostAsync(Path(projectId), null, owner.Token)).AssertStatus(201).Json;
        var url = hook["url"]!.GetValue<string>();
        var secret = hook["secret"]!.GetValue<string>();
        var admin = await server.RegisterUserAsync();
        var developer = await server.RegisterUserAsync();
        var viewer = await server.RegisterUserAsync();
        await server.AddMemberAsync(owner.WorkspaceId, admin.Id, WorkspaceRole.Admin);
        await server.AddMemberAsync(owner.WorkspaceId, developer.Id, WorkspaceRole.Developer);
        await server.AddMemberAsync(owner.WorkspaceId, viewer.Id, WorkspaceRole.Viewer);

        var revealed = (await server.PostAsync(Path(projectId, "/reveal-secret"), null, owner.Token)).AssertStatus(200);
        Assert.Equal(secret, revealed.Json["secret"]!.GetValue<string>());
        Assert.Equal("no-store", revealed.Header("Cache-Control"));
        Assert.Equal(secret, (await server.PostAsync(Path(projectId, "/reveal-secret"), null, admin.Token)).AssertStatus(200).Json["secret"]!.GetValue<string>());
        (await server.PostAsync(Path(projectId, "/reveal-secret"), null, developer.Token)).AssertError(403, "forbidden");
        (await server.PostAsync(Path(projectId, "/reveal-secret"), null, viewer.Token)).AssertError(403, "forbidden");
        (await server.GetAsync(Path(projectId), viewer.Token)).AssertStatus(200);
        (await server.PostAsync(Path(projectId, "/rotate-secret"), null, viewer.Token)).AssertError(403, "forbidden");
        (await server.DeleteAsync(Path(projectId), viewer.Token)).AssertError(403, "forbidden");
        var readOnlyKey = await server.CreateApiKeyAsync(owner, "projects:read");
        (await server.GetAsync(Path(projectId), readOnlyKey)).AssertStatus(200);
        (await server.PostAsync(Path(projectId, "/reveal-secret"), null, readOnlyKey)).AssertError(403, "insufficient_scope");

        var rotated = (await server.PostAsync(Path(projectId, "/rotate-secret"), null, developer.Token)).AssertStatus(200);
        var newSecret = rotated.Json["secret"]!.GetValue<string>();
        Assert.Matches("^[0-9a-f]{64}$", newSecret);
        Assert.NotEqual(secret, newSecret);
        Assert.Equal(url, rotated.Json["url"]!.GetValue<string>());
        var ping = await github.ExampleAsync("ping");
        (await github.DeliverAsync(server, url, secret, "ping", ping)).AssertError(401, "unauthenticated");
        (await github.DeliverAsync(server, url, newSecret, "ping", ping)).AssertStatus(200);
        var key = await server.CreateApiKeyAsync(owner, "projects:write");
        Assert.Equal(newSecret, (await server.PostAsync(Path(projectId, "/reveal-secret"), null, key)).AssertStatus(200).Json["secret"]!.GetValue<string>());

        Assert.Contains(server.Logs.Lines, l => l.Contains("secret revealed", StringComparison.Ordinal));
        Assert.DoesNotContain(server.Logs.Lines, l => l.Contains(secret, StringComparison.Ordinal) || l.Contains(newSecret, StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnotherWorkspacesIntegration_IsNotFound()
    {
        var projectId = await ProjectAsync(owner);
        (await server.PostAsync(Path(projectId), null, owner.Token)).AssertStatus(201);
        var stranger = await server.RegisterUserAsync();
        var strangerKey = await server.CreateApiKeyAsync(stranger, "*");

        foreach (var token in new[] { stranger.Token, strangerKey })
        {
            (await server.GetAsync(Path(projectId), token)).AssertError(404, "not_found");
            (await server.PostAsync(Path(projectId), null, token)).AssertError(404, "not_found");
            (await server.PostAsync(Path(projectId, "/reveal-secret"), null, token)).AssertError(404, "not_found");
            (await server.PostAsync(Path(projectId, "/rotate-secret"), null, token)).AssertError(404, "not_found");
            (await server.DeleteAsync(Path(projectId), token)).AssertError(404, "not_found");
        }
        (await server.GetAsync(Path(projectId))).AssertError(401, "unauthenticated");
        (await server.GetAsync(Path(Guid.CreateVersion7().ToString()), owner.Token)).AssertError(404, "not_found");
        var bare = await ProjectAsync(owner);
        (await server.GetAsync(Path(bare), owner.Token)).AssertError(404, "not_found");
        (await server.PostAsync(Path(bare, "/reveal-secret"), null, owner.Token)).AssertError(404, "not_found");
    }

    [Fact]
    public async Task DeletingTheIntegrationOrTheProject_MakesTheUrlNotFound()
    {
        var ping = await github.ExampleAsync("ping");
        var projectId = await ProjectAsync(owner);
        var hook = (await server.PostAsync(Path(projectId), null, owner.Token)).AssertStatus(201).Json;
        var secret = hook["secret"]!.GetValue<string>();
        (await github.DeliverAsync(server, hook["url"]!.GetValue<string>(), secret, "ping", ping)).AssertStatus(200);

        (await server.DeleteAsync(Path(projectId), owner.Token)).AssertStatus(204);
        (await server.GetAsync(Path(projectId), owner.Token)).AssertError(404, "not_found");
        (await github.DeliverAsync(server, hook["url"]!.GetValue<string>(), secret, "ping", ping)).AssertError(404, "not_found");
        Assert.Equal(0, await server.WithDbAsync(db => db.GitHubDeliveries.CountAsync(d => d.HookId == hook["id"]!.GetValue<string>())));

        var again = (await server.PostAsync(Path(projectId), null, owner.Token)).AssertStatus(201).Json;
        Assert.NotEqual(hook["id"]!.GetValue<string>(), again["id"]!.GetValue<string>());
        (await server.DeleteAsync($"/api/v1/projects/{projectId}", owner.Token)).AssertStatus(204);
        (await github.DeliverAsync(server, again["url"]!.GetValue<string>(), again["secret"]!.GetValue<string>(), "ping", ping))
            .AssertError(404, "not_found");
        Assert.Equal(0, await server.WithDbAsync(db => db.GitHubIntegrations.CountAsync(h => h.ProjectId == projectId)));
    }

    [Fact]
    public async Task Secret_IsStoredSealed_NeverInPlaintext()
    {
        var projectId = await ProjectAsync(owner);
        var first = (await server.PostAsync(Path(projectId), null, owner.Token)).AssertStatus(201).Json["secret"]!.GetValue<string>();
        var second = (await server.PostAsync(Path(projectId, "/rotate-secret"), null, owner.Token)).AssertStatus(200).Json["secret"]!.GetValue<string>();
        // Idempotent replays store their answer too, secret included: it must be sealed there as well.
        var replayed = await server.SendAsync(HttpMethod.Post, Path(projectId, "/reveal-secret"), null, owner.Token,
            new Dictionary<string, string> { ["Idempotency-Key"] = "reveal-1" });
        Assert.Equal(second, replayed.AssertStatus(200).Json["secret"]!.GetValue<string>());

        var row = await server.WithDbAsync(db => db.GitHubIntegrations.SingleAsync(h => h.ProjectId == projectId));
        Assert.Equal(12 + 64 + 16, row.SecretSealed.Length);
        var stored = await StoredBytes.ReadAsync(server);
        Assert.True(StoredBytes.Contains(stored, row.Id), "the bytes searched do not even hold the hook id: wrong files?");
        foreach (var secret in new[] { first, second })
        {
            Assert.False(StoredBytes.Contains(stored, secret), "a webhook secret is stored in plaintext");
            Assert.False(StoredBytes.Contains(stored, secret.ToUpperInvariant()), "a webhook secret is stored in plaintext");
            Assert.False(StoredBytes.Contains(stored, Convert.ToBase64String(Encoding.UTF8.GetBytes(secret))), "a webhook secret is stored as base64");
            Assert.DoesNotContain(server.Logs.Lines, l => l.Contains(secret, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task ReceivingUrl_UsesTheConfiguredPublicUrl()
    {
        await using var proxied = await SlipwayServer.StartAsync(new Dictionary<string, string?> { ["Slipway:Api:PublicUrl"] = "https://deploy.example.test/" });
        var user = await proxied.RegisterUserAsync();
        var projectId = (await proxied.CreateProjectAsync(user.Token))["id"]!.GetValue<string>();

        var hook = (await proxied.PostAsync(Path(projectId), null, user.Token)).AssertStatus(201).Json;

        Assert.Equal($"https://deploy.example.test/api/v1/integrations/github/{hook["id"]}", hook["url"]!.GetValue<string>());
    }
}
