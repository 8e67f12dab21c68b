using System.Diagnostics;
using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using Slipway.Server.EnvVars;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.EnvVars;

/// <summary>An operator rotates the master key: restart with both keys, the new one active, then run the re-encrypt pass.</summary>
public sealed class RotatingSecretKeysTests : IAsyncLifetime
{
    private static readonly string KeyA = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
    private static readonly string KeyB = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
    private static readonly Dictionary<string, string?> OnlyA = new() { ["Slipway:Secrets:Keys:A"] = KeyA, ["Slipway:Secrets:ActiveKeyId"] = "A" };
    private static readonly Dictionary<string, string?> AThenB = new()
    {
        ["Slipway:Secrets:Keys:A"] = KeyA, ["Slipway:Secrets:Keys:B"] = KeyB, ["Slipway:Secrets:ActiveKeyId"] = "B",
    };
    private static readonly Dictionary<string, string?> OnlyB = new() { ["Slipway:Secrets:Keys:B"] = KeyB };

    private readonly string dataDirectory = Directory.CreateTempSubdirectory("slipway-rotation-").FullName;
    private readonly Dictionary<string, string?> database = [];
    private string? postgresDatabase;

    /// <summary>One data directory and one database that outlive each server, so "restart" means what it says.</summary>
    public async Task InitializeAsync()
    {
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

    private sealed record Seeded(string ProjectId, string ProductionId, string StagingId, TestUser User);

    private static async Task<Seeded> SeedAsync(SlipwayServer server)
    {
        var user = await server.RegisterUserAsync();
        var project = await server.CreateProjectAsync(user.Token);
        var projectId = project["id"]!.GetValue<string>();
        var staging = (await server.PostAsync($"/api/v1/projects/{projectId}/environments", new { name = "staging" }, user.Token)).AssertStatus(201).Json;
        foreach (var (key, value) in new[] { ("DATABASE_URL", "postgres://db/prod"), ("API_TOKEN", "tok-123"), ("EMPTY", "") })
        {
            (await server.PostAsync("/api/v1/env", new { project_id = projectId, key, value }, user.Token)).AssertStatus(201);
        }
        (await server.PostAsync("/api/v1/env", new { project_id = projectId, key = "DATABASE_URL", value = "postgres://db/staging", environment = "staging" },
            user.Token)).AssertStatus(201);
        return new Seeded(projectId, project["environments"]![0]!["id"]!.GetValue<string>(), staging["id"]!.GetValue<string>(), user);
    }

    private static async Task AssertValuesAsync(SlipwayServer server, Seeded seeded)
    {
        var secrets = server.Service<EnvVarSecrets>();
        var production = await secrets.DecryptAllAsync(seeded.ProjectId, seeded.ProductionId, CancellationToken.None);
        var staging = await secrets.DecryptAllAsync(seeded.ProjectId, seeded.StagingId, CancellationToken.None);
        Assert.Equal("postgres://db/prod", production["DATABASE_URL"]);
        Assert.Equal("tok-123", production["API_TOKEN"]);
        Assert.Equal("", production["EMPTY"]);
        Assert.Equal("postgres://db/staging", Assert.Single(staging).Value);
    }

    private static Task<List<string>> KeyIdsAsync(SlipwayServer server) =>
        server.WithDbAsync(db => db.EnvVars.OrderBy(v => v.Id).Select(v => v.KeyId).ToListAsync());

    [Fact]
    public async Task Rotation_OldValuesStillOpenThenReencryptMovesEveryValueToTheNewKey()
    {
        Seeded seeded;
        await using (var before = await StartAsync(OnlyA))
        {
            seeded = await SeedAsync(before);
            Assert.All(await KeyIdsAsync(before), id => Assert.Equal("A", id));
        }

        await using (var rotated = await StartAsync(AThenB))
        {
            await AssertValuesAsync(rotated, seeded);
            (await rotated.PostAsync("/api/v1/env", new { project_id = seeded.ProjectId, key = "ADDED_AFTER", value = "new" }, seeded.User.Token))
                .AssertStatus(201);
            Assert.Equal(["A", "A", "A", "A", "B"], await KeyIdsAsync(rotated));

            var pass = await rotated.Service<EnvVarSecrets>().ReencryptAllAsync(CancellationToken.None);

            Assert.Equal(new ReencryptResult(4, 0), pass);
            Assert.All(await KeyIdsAsync(rotated), id => Assert.Equal("B", id));
            await AssertValuesAsync(rotated, seeded);
            Assert.Equal(new ReencryptResult(0, 0), await rotated.Service<EnvVarSecrets>().ReencryptAllAsync(CancellationToken.None));
        }

        // Key A is gone from the configuration: everything must already be under B.
        await using var after = await StartAsync(OnlyB);
        await AssertValuesAsync(after, seeded);
    }

    [Fact]
    public async Task Rotation_ReencryptMovesRepositoryCredentialsToTheNewKey()
    {
        const string url = "https://deploy:tok-rotated@git.example.com/a/b.git";
        string projectId;
        await using (var before = await StartAsync(OnlyA))
        {
            var user = await before.RegisterUserAsync();
            projectId = (await before.CreateProjectAsync(user.Token, extra: new { repo_url = url }))["id"]!.GetValue<string>();
        }

        await using (var rotated = await StartAsync(AThenB))
        {
            var credentials = rotated.Service<Server.Projects.RepoCredentials>();
            Assert.Equal(new ReencryptResult(1, 0), await credentials.ReencryptAllAsync(CancellationToken.None));
            Assert.Equal(new ReencryptResult(0, 0), await credentials.ReencryptAllAsync(CancellationToken.None));
        }

        await using var after = await StartAsync(OnlyB);
        var project = await after.WithDbAsync(db => db.Projects.SingleAsync(p => p.Id == projectId));
        Assert.Equal("B", project.RepoCredentialKeyId);
        Assert.Equal(url, after.Service<Server.Projects.RepoCredentials>().CloneUrl(project));
    }

    [Fact]
    public async Task ReencryptPass_ValueThatDoesNotOpen_IsCountedAndLeftAsItIs()
    {
        Seeded seeded;
        await using (var before = await StartAsync(OnlyA)) seeded = await SeedAsync(before);

        await using var rotated = await StartAsync(AThenB);
        await MoveCiphertextAsync(rotated, seeded.ProductionId, "API_TOKEN", seeded.ProductionId, "DATABASE_URL");

        var pass = await rotated.Service<EnvVarSecrets>().ReencryptAllAsync(CancellationToken.None);

        Assert.Equal(new ReencryptResult(3, 1), pass);
        var tampered = await rotated.WithDbAsync(db => db.EnvVars.SingleAsync(v => v.EnvironmentId == seeded.ProductionId && v.Key == "DATABASE_URL"));
        Assert.Equal("A", tampered.KeyId);
        Assert.Contains(rotated.Logs.Lines, l => l.Contains("DATABASE_URL", StringComparison.Ordinal) && l.Contains("does not open", StringComparison.Ordinal));
        Assert.DoesNotContain(rotated.Logs.Lines, l => l.Contains("tok-123", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Tampering_CiphertextMovedToAnotherVariableEnvironmentOrProject_DoesNotOpen()
    {
        await using var server = await StartAsync(OnlyA);
        var seeded = await SeedAsync(server);
        var other = await SeedAsync(server);
        var secrets = server.Service<EnvVarSecrets>();

        // Another variable of the same environment.
        await MoveCiphertextAsync(server, seeded.ProductionId, "API_TOKEN", seeded.ProductionId, "DATABASE_URL");
        var wrongName = await Assert.ThrowsAsync<SecretUnavailableException>(() => secrets.DecryptAllAsync(seeded.ProjectId, seeded.ProductionId, default));
        Assert.Contains("DATABASE_URL", wrongName.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("tok-123", wrongName.Message, StringComparison.Ordinal);

        // The same variable name in another environment of the project.
        await MoveCiphertextAsync(server, seeded.ProductionId, "API_TOKEN", seeded.StagingId, "DATABASE_URL");
        await Assert.ThrowsAsync<SecretUnavailableException>(() => secrets.DecryptAllAsync(seeded.ProjectId, seeded.StagingId, default));

        // The same variable name in another project.
        await MoveCiphertextAsync(server, seeded.ProductionId, "API_TOKEN", other.ProductionId, "API_TOKEN");
        await Assert.ThrowsAsync<SecretUnavailableException>(() => secrets.DecryptAllAsync(other.ProjectId, other.ProductionId, default));
    }

    [Fact]
    public async Task ReencryptSecretsFlag_RunsThePassFromTheCommandLineAndExits()
    {
        Seeded seeded;
        await using (var before = await StartAsync(OnlyA)) seeded = await SeedAsync(before);

        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(typeof(SlipwayApp).Assembly.Location);
        start.ArgumentList.Add("--reencrypt-secrets");
        start.Environment["Slipway__DataDirectory"] = dataDirectory;
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (key, value) in AThenB.Concat(database)) start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        using var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        var stdout = await process.StandardOutput.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);

        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}: {stdout} {await stderr}");
        Assert.Contains("Re-encrypted 4 env var value(s); 0 could not be opened.", stdout, StringComparison.Ordinal);
        // Every kind of sealed secret goes through the same pass and reports itself.
        Assert.Contains("Re-encrypted 0 GitHub webhook secret(s); 0 could not be opened.", stdout, StringComparison.Ordinal);
        Assert.Contains("Re-encrypted 0 webhook endpoint secret(s); 0 could not be opened.", stdout, StringComparison.Ordinal);
        Assert.Contains("Re-encrypted 0 repository credential(s); 0 could not be opened.", stdout, StringComparison.Ordinal);
        await using var after = await StartAsync(OnlyB);
        await AssertValuesAsync(after, seeded);
        Assert.All(await KeyIdsAsync(after), id => Assert.Equal("B", id));
    }

    [Theory]
    [InlineData("Slipway:Secrets:ActiveKeyId", "missing")]
    [InlineData("Slipway:Secrets:Keys:A", "not base64!")]
    [InlineData("Slipway:Secrets:Keys:A", "AAAAAAAAAAAAAAAAAAAAAA==")]
    [InlineData("Slipway:Secrets:Keys:bad id", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")]
    public async Task Startup_InvalidKeyConfiguration_RefusesToStart(string setting, string value)
    {
        var settings = new Dictionary<string, string?>(AThenB) { [setting] = value };
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => SlipwayServer.StartAsync(settings, dataDirectory, postgres: false));
        Assert.DoesNotContain(KeyA, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Startup_SeveralKeysWithoutActiveKeyId_RefusesToStart()
    {
        var settings = new Dictionary<string, string?> { ["Slipway:Secrets:Keys:A"] = KeyA, ["Slipway:Secrets:Keys:B"] = KeyB };
        await Assert.ThrowsAsync<InvalidOperationException>(() => SlipwayServer.StartAsync(settings, dataDirectory, postgres: false));
    }

    [Fact]
    public async Task Migration_FromGeneratedLocalKeyToConfiguredKey_KeepsOldValuesOpenable()
    {
        Seeded seeded;
        await using (var local = await StartAsync([])) seeded = await SeedAsync(local);

        await using var configured = await StartAsync(OnlyB);
        await AssertValuesAsync(configured, seeded);
        Assert.Equal(new ReencryptResult(4, 0), await configured.Service<EnvVarSecrets>().ReencryptAllAsync(CancellationToken.None));
        Assert.All(await KeyIdsAsync(configured), id => Assert.Equal("B", id));
    }

    /// <summary>What an attacker with database access could do: copy one row's ciphertext and key id into another row.</summary>
    private static Task MoveCiphertextAsync(SlipwayServer server, string fromEnvironment, string fromKey, string toEnvironment, string toKey) =>
        server.WithDbAsync(async db =>
        {
            var source = await db.EnvVars.SingleAsync(v => v.EnvironmentId == fromEnvironment && v.Key == fromKey);
            return await db.EnvVars.Where(v => v.EnvironmentId == toEnvironment && v.Key == toKey)
                .ExecuteUpdateAsync(s => s.SetProperty(v => v.Sealed, source.Sealed).SetProperty(v => v.KeyId, source.KeyId));
        });
}
