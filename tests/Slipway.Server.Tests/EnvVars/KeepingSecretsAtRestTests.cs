using System.Text;
using Microsoft.EntityFrameworkCore;
using Slipway.Server.EnvVars;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.EnvVars;

/// <summary>A value goes in once and never comes back out: not in responses, not in logs (even at Trace), not in the database.</summary>
public sealed class KeepingSecretsAtRestTests : IAsyncLifetime
{
    private SlipwayServer server = null!;

    public async Task InitializeAsync() => server = await SlipwayServer.StartAsync(new Dictionary<string, string?>
    {
        ["Logging:LogLevel:Default"] = "Trace",
        ["Logging:LogLevel:Microsoft.AspNetCore"] = "Trace",
        ["Logging:LogLevel:Microsoft.EntityFrameworkCore"] = "Trace",
    });

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task Value_AppearsInNoResponseNoLogLineAndNoDatabaseFile()
    {
        var user = await server.RegisterUserAsync();
        var project = await server.CreateProjectAsync(user.Token);
        var projectId = project["id"]!.GetValue<string>();
        var first = $"sup3r-s3cret-{Guid.NewGuid()}";
        var second = $"sup3r-s3cret-{Guid.NewGuid()}";
        var third = $"sup3r-s3cret-{Guid.NewGuid()}";

        var responses = new List<ApiResponse>
        {
            (await server.PostAsync("/api/v1/env", new { project_id = projectId, key = "LEAK_CHECK", value = first }, user.Token)).AssertStatus(201),
            (await server.PostAsync("/api/v1/env", new { project_id = projectId, key = "LEAK_CHECK", value = second }, user.Token)).AssertStatus(200),
            (await server.SendAsync(HttpMethod.Post, "/api/v1/env", new { project_id = projectId, key = "REPLAYED", value = third }, user.Token,
                new Dictionary<string, string> { ["Idempotency-Key"] = "k1" })).AssertStatus(201),
            (await server.SendAsync(HttpMethod.Post, "/api/v1/env", new { project_id = projectId, key = "REPLAYED", value = third }, user.Token,
                new Dictionary<string, string> { ["Idempotency-Key"] = "k1" })).AssertStatus(201),
            (await server.GetAsync($"/api/v1/env?project_id={projectId}", user.Token)).AssertStatus(200),
            (await server.GetAsync($"/api/v1/projects/{projectId}", user.Token)).AssertStatus(200),
            (await server.GetAsync("/api/v1/projects", user.Token)).AssertStatus(200),
            // A failing write must not echo the value either.
            await server.PostAsync("/api/v1/env", new { project_id = projectId, key = "BAD-KEY", value = first }, user.Token),
        };

        string[] secrets = [first, second, third];
        foreach (var response in responses)
        {
            Assert.All(secrets, s => Assert.DoesNotContain(s, response.Body, StringComparison.Ordinal));
        }
        Assert.Contains(server.Logs.Lines, l => l.Contains("LEAK_CHECK", StringComparison.Ordinal));
        Assert.All(secrets, s => Assert.DoesNotContain(server.Logs.Lines, l => l.Contains(s, StringComparison.Ordinal)));

        var values = await server.Service<EnvVarSecrets>().DecryptAllAsync(projectId, project["environments"]![0]!["id"]!.GetValue<string>(),
            CancellationToken.None);
        Assert.Equal(second, values["LEAK_CHECK"]);
        Assert.Equal(third, values["REPLAYED"]);

        var stored = await StoredBytes.ReadAsync(server);
        Assert.True(Contains(stored, "LEAK_CHECK"), "the bytes searched do not even hold the variable name: wrong files?");
        foreach (var secret in secrets)
        {
            Assert.False(Contains(stored, secret), "a value is stored in plaintext");
            Assert.False(Contains(stored, Convert.ToHexStringLower(Encoding.UTF8.GetBytes(secret))), "a value is stored as plaintext hex");
        }
    }

    [Fact]
    public async Task Value_IsSealedWithTheGeneratedLocalKey()
    {
        var user = await server.RegisterUserAsync();
        var projectId = (await server.CreateProjectAsync(user.Token))["id"]!.GetValue<string>();
        (await server.PostAsync("/api/v1/env", new { project_id = projectId, key = "SEALED", value = "0123456789" }, user.Token)).AssertStatus(201);

        var row = await server.WithDbAsync(db => db.EnvVars.SingleAsync(v => v.ProjectId == projectId));

        Assert.Equal(SecretBox.LocalKeyId, row.KeyId);
        Assert.Equal(12 + 10 + 16, row.Sealed.Length);
        var keyFile = Path.Combine(server.DataDirectory, SecretBox.LocalKeyFile);
        Assert.Equal(32, Convert.FromBase64String(await File.ReadAllTextAsync(keyFile)).Length);
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
    }

    [Fact]
    public async Task SameValueTwice_GetsDifferentCiphertexts()
    {
        var user = await server.RegisterUserAsync();
        var projectId = (await server.CreateProjectAsync(user.Token))["id"]!.GetValue<string>();
        (await server.PostAsync("/api/v1/env", new { project_id = projectId, key = "ONE", value = "same" }, user.Token)).AssertStatus(201);
        (await server.PostAsync("/api/v1/env", new { project_id = projectId, key = "TWO", value = "same" }, user.Token)).AssertStatus(201);

        var rows = await server.WithDbAsync(db => db.EnvVars.Where(v => v.ProjectId == projectId).ToListAsync());

        Assert.NotEqual(rows[0].Sealed[..12], rows[1].Sealed[..12]);
        Assert.NotEqual(rows[0].Sealed, rows[1].Sealed);
    }

    private static bool Contains(byte[] haystack, string text) => StoredBytes.Contains(haystack, text);
}
