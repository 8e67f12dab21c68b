using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using Slipway.Server.EnvVars;
using Slipway.Server.GitHub;
using Slipway.Server.Tests.EnvVars;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.GitHub;

/// <summary>Webhook secrets follow a master key rotation like env var values: still verifiable, then re-sealed under the new key.</summary>
public sealed class RotatingMasterKeysTests : IAsyncLifetime
{
    private static readonly string KeyA = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
    private static readonly string KeyB = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
    private static readonly Dictionary<string, string?> OnlyA = new() { ["Slipway:Secrets:Keys:A"] = KeyA, ["Slipway:Secrets:ActiveKeyId"] = "A" };
    private static readonly Dictionary<string, string?> AThenB = new()
    {
        ["Slipway:Secrets:Keys:A"] = KeyA, ["Slipway:Secrets:Keys:B"] = KeyB, ["Slipway:Secrets:ActiveKeyId"] = "B",
    };
    private static readonly Dictionary<string, string?> OnlyB = new() { ["Slipway:Secrets:Keys:B"] = KeyB };

    private readonly string dataDirectory = Directory.CreateTempSubdirectory("slipway-github-rotation-").FullName;
    private readonly Dictionary<string, string?> database = [];
    private string? postgresDatabase;
    private OctokitWebhooks github = null!;

    public async Task InitializeAsync()
    {
        github = OctokitWebhooks.Start();
        if (!SlipwayServer.UsePostgres) return;
        postgresDatabase = "slipway_test_" + Guid.NewGuid().ToString("N")[..12];
        await using var admin = new NpgsqlConnection(SlipwayServer.PostgresAdminConnection);
        await admin.OpenAsync();
        await using var create = new NpgsqlCommand($"CREATE DATABASE {postgresDatabase}", admin);
        await create.ExecuteNonQueryAsync();
        database["Slipway:Database:Provider"] = "postgres";
        database["Slipway:Database:ConnectionString"] =
            new NpgsqlConnectionStringBuilder(SlipwayServer.PostgresAdminConnection) { Database = postgresDatabase }.ToString();
    }

    public async Task DisposeAsync()
    {
        await github.DisposeAsync();
        if (postgresDatabase is not null)
        {
            NpgsqlConnection.ClearAllPools();
            await using var admin = new NpgsqlConnection(SlipwayServer.PostgresAdminConnection);
            await admin.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {postgresDatabase} WITH (FORCE)", admin);
            await drop.ExecuteNonQueryAsync();
        }
        Directory.Delete(dataDirectory, recursive: true);
    }

    private Task<SlipwayServer> StartAsync(Dictionary<string, string?> keys) =>
        SlipwayServer.StartAsync(keys.Concat(database).ToDictionary(), dataDirectory, postgres: false);

    [Fact]
    public async Task Reencrypt_MovesWebhookSecretsToTheActiveKey_AndDeliveriesKeepVerifying()
    {
        string url, secret, token, hookId;
        await using (var before = await StartAsync(OnlyA))
        {
            var user = await before.RegisterUserAsync();
            token = user.Token;
            var projectId = (await before.CreateProjectAsync(token))["id"]!.GetValue<string>();
            var hook = (await before.PostAsync($"/api/v1/projects/{projectId}/integrations/github", null, token)).AssertStatus(201).Json;
            (url, secret, hookId) = (hook["url"]!.GetValue<string>(), hook["secret"]!.GetValue<string>(), hook["id"]!.GetValue<string>());
        }
        var ping = await github.ExampleAsync("ping");

        await using (var rotated = await StartAsync(AThenB))
        {
            // The URL names the hook; only the port of this new server differs.
            var here = new Uri(rotated.BaseAddress, new Uri(url).PathAndQuery).ToString();
            (await github.DeliverAsync(rotated, here, secret, "ping", ping)).AssertStatus(200);

            Assert.Equal(new ReencryptResult(1, 0), await rotated.Service<GitHubSecrets>().ReencryptAllAsync(CancellationToken.None));
            Assert.Equal("B", await rotated.WithDbAsync(db => db.GitHubIntegrations.Where(h => h.Id == hookId).Select(h => h.KeyId).SingleAsync()));
            Assert.Equal(new ReencryptResult(0, 0), await rotated.Service<GitHubSecrets>().ReencryptAllAsync(CancellationToken.None));
        }

        await using var after = await StartAsync(OnlyB);
        var now = new Uri(after.BaseAddress, new Uri(url).PathAndQuery).ToString();
        (await github.DeliverAsync(after, now, secret, "ping", ping)).AssertStatus(200);
        var projectOf = await after.WithDbAsync(db => db.GitHubIntegrations.Where(h => h.Id == hookId).Select(h => h.ProjectId).SingleAsync());
        var revealed = (await after.PostAsync($"/api/v1/projects/{projectOf}/integrations/github/reveal-secret", null, token)).AssertStatus(200);
        Assert.Equal(secret, revealed.Json["secret"]!.GetValue<string>());
    }

    [Fact]
    public async Task SecretUnderARemovedKey_Is503ForDeliveries_And409ForReveal()
    {
        string url, secret, token, projectId;
        await using (var before = await StartAsync(OnlyA))
        {
            var user = await before.RegisterUserAsync();
            token = user.Token;
            projectId = (await before.CreateProjectAsync(token))["id"]!.GetValue<string>();
            var hook = (await before.PostAsync($"/api/v1/projects/{projectId}/integrations/github", null, token)).AssertStatus(201).Json;
            (url, secret) = (hook["url"]!.GetValue<string>(), hook["secret"]!.GetValue<string>());
        }

        await using var after = await StartAsync(OnlyB);
        var here = new Uri(after.BaseAddress, new Uri(url).PathAndQuery).ToString();
        (await github.DeliverAsync(after, here, secret, "ping", await github.ExampleAsync("ping"))).AssertError(503, "unavailable");
        (await after.PostAsync($"/api/v1/projects/{projectId}/integrations/github/reveal-secret", null, token)).AssertError(409, "invalid_state");
        var rotated = (await after.PostAsync($"/api/v1/projects/{projectId}/integrations/github/rotate-secret", null, token)).AssertStatus(200);
        (await github.DeliverAsync(after, here, rotated.Json["secret"]!.GetValue<string>(), "ping", await github.ExampleAsync("ping"))).AssertStatus(200);
    }
}
