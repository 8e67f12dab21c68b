using System.Net.Http.Headers;
using System.Security.Cryptography;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Uploads;

/// <summary>
/// The request-level rules on a streamed upload: a retry with the same <c>Idempotency-Key</c> is replayed and never makes a
/// second upload (the body is not buffered, so a body over the JSON limit is no 413), and the compatibility route counts a
/// request against the key in its form wherever the key comes, before the file when it comes first.
/// </summary>
public sealed class RetryingAndLimitingUploadsTests : IAsyncLifetime
{
    private static readonly string[] AllScopes = ["*"];
    private SlipwayServer server = null!;
    private TestUser user = null!;

    public async Task InitializeAsync()
    {
        server = await SlipwayServer.StartAsync(new Dictionary<string, string?>(EngineSettings.Fast)
        {
            // API keys get one request a minute; users (JWT) keep the test server's unlimited bucket.
            ["Slipway:RateLimits:Standard:RequestsPerMinute"] = "1",
            ["Slipway:RateLimits:Standard:Burst"] = "1",
            ["Slipway:Uploads:MaxUploadBytes"] = "1048576",
            // The limit a buffered body is held to (JSON requests), well below the uploads here.
            ["Slipway:Api:MaxBodyBytes"] = "262144",
        });
        user = await server.RegisterUserAsync();
    }

    public async Task DisposeAsync() => await server.DisposeAsync();

    /// <summary>A zip of about <paramref name="kib"/> KiB that does not compress (base64 of random bytes deflates to ~75 %).</summary>
    private static byte[] Archive(int kib) =>
        UploadIntents.Zip(new Dictionary<string, string> { ["index.html"] = "<h1>big</h1>", ["blob.txt"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(kib * 1024)) });

    private Task<ApiResponse> UploadWithKeyAsync(string project, byte[] archive, string idempotencyKey) =>
        server.SendAsync(HttpMethod.Post, $"/api/v1/projects/{project}/uploads", UploadIntents.Form(archive, "big.zip"), user.Token,
            new Dictionary<string, string> { ["Idempotency-Key"] = idempotencyKey });

    [Fact]
    public async Task SameIdempotencyKey_ReplaysTheFirstUpload_AndNeverCreatesASecond()
    {
        var project = await server.UploadProjectAsync(user.Token, "retried", new { framework = "static", upload_approval = "manual" });
        // Larger than the JSON body limit that a buffered body would have been held to (413 before).
        var archive = Archive(600);
        Assert.True(archive.Length > 262144 * 2);

        var first = (await UploadWithKeyAsync(project, archive, "build-42")).AssertStatus(201);
        var retry = (await UploadWithKeyAsync(project, archive, "build-42")).AssertStatus(201);
        Assert.Equal("true", retry.Header("Idempotent-Replayed"));
        Assert.Equal(first.Json["id"]!.GetValue<string>(), retry.Json["id"]!.GetValue<string>());
        Assert.Single((await server.GetAsync($"/api/v1/projects/{project}/uploads", user.Token)).Json["data"]!.AsArray());

        (await UploadWithKeyAsync(project, Archive(100), "build-42")).AssertError(409, "idempotency_conflict");
        var other = (await UploadWithKeyAsync(project, archive, "build-43")).AssertStatus(201);
        Assert.NotEqual(first.Json["id"]!.GetValue<string>(), other.Json["id"]!.GetValue<string>());
        Assert.Equal(2, (await server.GetAsync($"/api/v1/projects/{project}/uploads", user.Token)).Json["data"]!.AsArray().Count);
        await server.WaitForUploadAsync(user.Token, first.Json["id"]!.GetValue<string>(), "pending_approval");
    }

    [Fact]
    public async Task IdempotencyKey_WithTheApiKeyInTheForm_IsRefusedBeforeAnythingIsStored()
    {
        var project = await server.UploadProjectAsync(user.Token, "compat-retried", new { framework = "static" });
        var key = await KeyAsync("form-key");
        var form = UploadIntents.Form(Archive(10), "b.zip", new Dictionary<string, string> { ["projectId"] = project, ["apiKey"] = key });
        (await server.SendAsync(HttpMethod.Post, "/api/v1/projects/upload-file", form, null, new Dictionary<string, string> { ["Idempotency-Key"] = "k1" }))
            .AssertError(400, "validation_failed");
        Assert.Empty((await server.GetAsync($"/api/v1/projects/{project}/uploads", user.Token)).Json["data"]!.AsArray());
    }

    [Fact]
    public async Task CompatibilityUpload_IsCountedAgainstTheKeyInItsForm_WhereverTheKeyComes()
    {
        var project = await server.UploadProjectAsync(user.Token, "compat-limited", new { framework = "static", upload_approval = "manual" });
        var keyAfter = await KeyAsync("key-after-file");
        var keyBefore = await KeyAsync("key-before-file");

        // The key after the file part: the file is on disk by then, so the refusal removes it.
        (await server.SendAsync(HttpMethod.Post, "/api/v1/projects/upload-file", KeyAfterFile(project, Archive(10), keyAfter))).AssertStatus(201);
        var limited = await server.SendAsync(HttpMethod.Post, "/api/v1/projects/upload-file", KeyAfterFile(project, Archive(10), keyAfter));
        limited.AssertError(429, "rate_limited");
        Assert.True(int.Parse(limited.Header("Retry-After")!, System.Globalization.CultureInfo.InvariantCulture) >= 1);
        Assert.Equal("1", limited.Header("X-RateLimit-Limit"));

        // The key first: refused before the file is streamed, so a file over the upload limit is a 429, not a 413.
        var fields = new Dictionary<string, string> { ["projectId"] = project, ["apiKey"] = keyBefore };
        (await server.SendAsync(HttpMethod.Post, "/api/v1/projects/upload-file", UploadIntents.Form(Archive(10), "a.zip", fields))).AssertStatus(201);
        (await server.SendAsync(HttpMethod.Post, "/api/v1/projects/upload-file", UploadIntents.Form(Archive(1400), "b.zip", fields)))
            .AssertError(429, "rate_limited");

        Assert.Equal(2, (await server.GetAsync($"/api/v1/projects/{project}/uploads", user.Token)).Json["data"]!.AsArray().Count);
        Assert.Empty(Directory.GetFiles(Path.Combine(server.DataDirectory, "uploads"), "*.archive"));
    }

    private async Task<string> KeyAsync(string name) =>
        (await server.PostAsync("/api/v1/api-keys", new { name, scopes = AllScopes, workspace_id = user.WorkspaceId }, user.Token))
        .AssertStatus(201).Json["key"]!.GetValue<string>();

    private static MultipartFormDataContent KeyAfterFile(string project, byte[] archive, string key)
    {
        var file = new ByteArrayContent(archive);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return new MultipartFormDataContent { { new StringContent(project), "projectId" }, { file, "file", "build.zip" }, { new StringContent(key), "apiKey" } };
    }
}
