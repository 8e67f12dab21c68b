using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Slipway.Server.Projects;
using Slipway.Server.Tests.EnvVars;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Projects;

/// <summary>
/// A token in <c>repo_url</c> is a credential: sealed at rest like env var values, masked by the API, put back only for
/// the clone. Nothing on disk (SQLite files, WAL, a <c>pg_dump</c>) holds it, and the SQLite files are the owner's only.
/// </summary>
public sealed class KeepingRepositoryCredentialsSealedTests : IAsyncLifetime
{
    private readonly string token = $"tok-{Guid.NewGuid():N}";
    private SlipwayServer server = null!;
    private TestUser user = null!;

    public async Task InitializeAsync()
    {
        server = await SlipwayServer.StartAsync(new Dictionary<string, string?> { ["Logging:LogLevel:Default"] = "Trace" });
        user = await server.RegisterUserAsync();
    }

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task DeployFromCredentialedUrl_ClonesWithTheToken_ThatIsStoredNowhereInPlaintext()
    {
        using var repo = GitRepo.Create();
        repo.Commit("site", SampleApps.Static("sealed"));
        using var git = new GitHttpServer(repo.BarePath, "deploy", token);
        var url = $"https://deploy:{token}@127.0.0.1:{git.Port}/r.git";

        var project = await server.CreateProjectAsync(user.Token, extra: new { repo_url = url, framework = "static" });
        var projectId = project["id"]!.GetValue<string>();
        // The API takes https only and this test serves plain http: the stored (masked) URL is switched, the sealed credential stays.
        await server.WithDbAsync(db => db.Projects.Where(p => p.Id == projectId)
            .ExecuteUpdateAsync(s => s.SetProperty(p => p.RepoUrl, $"http://****@127.0.0.1:{git.Port}/r.git")));
        var deployment = await server.DeployAsync(user.Token, projectId);
        await server.WaitForStatusAsync(user.Token, deployment["id"]!.GetValue<string>(), TimeSpan.FromSeconds(60), "ready");

        Assert.True(git.Authorized > 0, "the clone never sent the credential");
        Assert.Equal($"https://****@127.0.0.1:{git.Port}/r.git", project["repo_url"]!.GetValue<string>());
        var read = (await server.GetAsync($"/api/v1/projects/{projectId}", user.Token)).AssertStatus(200);
        Assert.DoesNotContain(token, read.Body, StringComparison.Ordinal);
        Assert.DoesNotContain(server.Logs.Lines, l => l.Contains(token, StringComparison.Ordinal));
        var stored = await StoredBytes.ReadAsync(server);
        Assert.True(StoredBytes.Contains(stored, $"127.0.0.1:{git.Port}/r.git"), "the bytes searched do not even hold the URL: wrong files?");
        Assert.False(StoredBytes.Contains(stored, token), "the repository token is stored in plaintext");
    }

    [Fact]
    public async Task PatchWithTheMaskedUrl_KeepsTheCredential_AndANewUrlReplacesIt()
    {
        var project = await server.CreateProjectAsync(user.Token, extra: new { repo_url = $"https://deploy:{token}@git.example.com/a/b.git" });
        var projectId = project["id"]!.GetValue<string>();
        var credentials = server.Service<RepoCredentials>();

        (await server.PatchAsync($"/api/v1/projects/{projectId}", new { repo_url = project["repo_url"]!.GetValue<string>() }, user.Token))
            .AssertStatus(200);
        Assert.Equal($"https://deploy:{token}@git.example.com/a/b.git", credentials.CloneUrl(await ProjectAsync(projectId)));

        (await server.PatchAsync($"/api/v1/projects/{projectId}", new { repo_url = "https://git.example.com/a/b.git" }, user.Token)).AssertStatus(200);
        var plain = await ProjectAsync(projectId);
        Assert.Null(plain.RepoCredentialSealed);
        Assert.Equal("https://git.example.com/a/b.git", credentials.CloneUrl(plain));
    }

    [Fact]
    public async Task PatchWithTheMaskedCredentialAndAnotherPath_KeepsTheCredential_AnotherHostIsRefused()
    {
        var project = await server.CreateProjectAsync(user.Token, extra: new { repo_url = $"https://deploy:{token}@git.example.com/a/b.git" });
        var projectId = project["id"]!.GetValue<string>();
        var credentials = server.Service<RepoCredentials>();

        var moved = (await server.PatchAsync($"/api/v1/projects/{projectId}", new { repo_url = "https://****@git.example.com/a/other.git" }, user.Token))
            .AssertStatus(200).Json;
        Assert.Equal("https://****@git.example.com/a/other.git", moved["repo_url"]!.GetValue<string>());
        Assert.Equal($"https://deploy:{token}@git.example.com/a/other.git", credentials.CloneUrl(await ProjectAsync(projectId)));

        var refused = await server.PatchAsync($"/api/v1/projects/{projectId}", new { repo_url = "https://****@evil.example.net/a/other.git" }, user.Token);
        refused.AssertError(400, "validation_failed");
        Assert.Equal("repo_url", refused.Json["error"]!["details"]![0]!["field"]!.GetValue<string>());
        Assert.Contains("****", refused.Json["error"]!["details"]![0]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal($"https://deploy:{token}@git.example.com/a/other.git", credentials.CloneUrl(await ProjectAsync(projectId)));

        (await server.PostAsync("/api/v1/projects", new { name = "masked-new", repo_url = "https://****@git.example.com/a/b.git" }, user.Token))
            .AssertError(400, "validation_failed");
        var plainId = (await server.CreateProjectAsync(user.Token))["id"]!.GetValue<string>();
        (await server.PatchAsync($"/api/v1/projects/{plainId}", new { repo_url = "https://****@example.com/acme/app.git" }, user.Token))
            .AssertError(400, "validation_failed");
        Assert.Null((await ProjectAsync(plainId)).RepoCredentialSealed);
    }

    [Fact]
    public async Task PatchAfterAnotherProcessResealedTheCredential_WritesOnlyTheNamedColumns()
    {
        var url = $"https://deploy:{token}@git.example.com/a/b.git";
        var projectId = (await server.CreateProjectAsync(user.Token, extra: new { repo_url = url }))["id"]!.GetValue<string>();
        (await server.GetAsync($"/api/v1/projects/{projectId}", user.Token)).AssertStatus(200);
        // What --reencrypt-secrets (another process) does: a new seal written straight to the row, which this server's
        // read cache does not hear about; and another column changed the same way.
        var resealed = await ProjectAsync(projectId);
        server.Service<RepoCredentials>().Store(resealed, url);
        await server.WithDbAsync(db => db.Projects.Where(p => p.Id == projectId).ExecuteUpdateAsync(s => s
            .SetProperty(p => p.RepoCredentialSealed, resealed.RepoCredentialSealed)
            .SetProperty(p => p.RepoCredentialKeyId, resealed.RepoCredentialKeyId)
            .SetProperty(p => p.BuildCommand, "npm run elsewhere")));

        var patched = (await server.PatchAsync($"/api/v1/projects/{projectId}", new { branch = "release" }, user.Token)).AssertStatus(200).Json;
        Assert.Equal("npm run elsewhere", patched["build_command"]!.GetValue<string>());

        var stored = await ProjectAsync(projectId);
        Assert.Equal("release", stored.Branch);
        Assert.Equal(resealed.RepoCredentialSealed, stored.RepoCredentialSealed);
        Assert.Equal("npm run elsewhere", stored.BuildCommand);
        Assert.Equal(url, server.Service<RepoCredentials>().CloneUrl(stored));
    }

    [Fact]
    public async Task PlaintextRowFromAnEarlierVersion_IsSealedAtStart()
    {
        var projectId = (await server.CreateProjectAsync(user.Token))["id"]!.GetValue<string>();
        var old = $"https://deploy:{token}@git.example.com/a/b.git";
        await server.WithDbAsync(db => db.Projects.Where(p => p.Id == projectId).ExecuteUpdateAsync(s => s.SetProperty(p => p.RepoUrl, old)));

        Assert.Equal(1, await server.Service<RepoCredentials>().SealPlaintextAsync(CancellationToken.None));

        var project = await ProjectAsync(projectId);
        Assert.Equal("https://****@git.example.com/a/b.git", project.RepoUrl);
        Assert.Equal(old, server.Service<RepoCredentials>().CloneUrl(project));
        Assert.False(StoredBytes.Contains(await StoredBytes.ReadAsync(server), token), "the old plaintext survived on disk");
        Assert.Equal(0, await server.Service<RepoCredentials>().SealPlaintextAsync(CancellationToken.None));
    }

    [Fact]
    public async Task SqliteFiles_AreReadableByTheOwnerOnly()
    {
        if (server.IsPostgres || OperatingSystem.IsWindows()) return;
        await server.CreateProjectAsync(user.Token);
        const UnixFileMode ownerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        foreach (var file in new[] { "slipway.db", "slipway.db-wal", "slipway.db-shm" })
        {
            Assert.Equal(ownerOnly, File.GetUnixFileMode(Path.Combine(server.DataDirectory, file)));
        }
        Assert.Equal(ownerOnly | UnixFileMode.UserExecute, File.GetUnixFileMode(server.DataDirectory));
    }

    [Fact]
    public async Task ExistingDataDirectory_WiderThanTheOwner_IsNarrowedAtStart()
    {
        if (OperatingSystem.IsWindows()) return;
        var directory = Directory.CreateTempSubdirectory("slipway-wide-").FullName;
        const UnixFileMode ownerAll = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        File.SetUnixFileMode(directory, ownerAll | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);

        await using var wide = await SlipwayServer.StartAsync(dataDirectory: directory);

        Assert.Equal(ownerAll, File.GetUnixFileMode(directory));
    }

    private Task<Project> ProjectAsync(string id) => server.WithDbAsync(db => db.Projects.SingleAsync(p => p.Id == id));

    /// <summary>Git's smart HTTP protocol (<c>git http-backend</c> as CGI) over a bare repository, behind Basic authentication.</summary>
    private sealed class GitHttpServer : IDisposable
    {
        private readonly HttpListener listener = new();
        private readonly string expected;
        private readonly string barePath;
        private int authorized;

        public GitHttpServer(string barePath, string user, string password)
        {
            this.barePath = barePath;
            expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}"));
            using var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            Port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            listener.Prefixes.Add($"http://127.0.0.1:{Port}/r.git/");
            listener.Start();
            _ = Task.Run(ServeAsync);
        }

        public int Port { get; }

        public int Authorized => Volatile.Read(ref authorized);

        private async Task ServeAsync()
        {
            while (listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await listener.GetContextAsync();
                }
                catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException)
                {
                    return;
                }
                using var response = context.Response;
                if (context.Request.Headers["Authorization"] != expected)
                {
                    response.StatusCode = 401;
                    response.AddHeader("WWW-Authenticate", "Basic realm=\"git\"");
                    continue;
                }
                Interlocked.Increment(ref authorized);
                await BackendAsync(context.Request, response);
            }
        }

        private async Task BackendAsync(HttpListenerRequest request, HttpListenerResponse response)
        {
            var start = new ProcessStartInfo("git", ["http-backend"]) { RedirectStandardInput = true, RedirectStandardOutput = true };
            start.Environment["GIT_PROJECT_ROOT"] = Path.GetDirectoryName(barePath)!;
            start.Environment["GIT_HTTP_EXPORT_ALL"] = "1";
            start.Environment["PATH_INFO"] = "/" + Path.GetFileName(barePath) + request.Url!.AbsolutePath["/r.git".Length..];
            start.Environment["REQUEST_METHOD"] = request.HttpMethod;
            start.Environment["QUERY_STRING"] = request.Url.Query.TrimStart('?');
            start.Environment["CONTENT_TYPE"] = request.ContentType ?? "";
            start.Environment["HTTP_CONTENT_ENCODING"] = request.Headers["Content-Encoding"] ?? "";
            start.Environment["GIT_PROTOCOL"] = request.Headers["Git-Protocol"] ?? "";
            using var process = Process.Start(start)!;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await request.InputStream.CopyToAsync(process.StandardInput.BaseStream, timeout.Token);
            process.StandardInput.Close();
            var output = new MemoryStream();
            await process.StandardOutput.BaseStream.CopyToAsync(output, timeout.Token);
            await process.WaitForExitAsync(timeout.Token);
            var bytes = output.ToArray();
            var split = bytes.AsSpan().IndexOf("\r\n\r\n"u8);
            foreach (var header in Encoding.ASCII.GetString(bytes, 0, split).Split("\r\n"))
            {
                var (name, value) = (header[..header.IndexOf(':')], header[(header.IndexOf(':') + 1)..].Trim());
                if (name.Equals("Status", StringComparison.OrdinalIgnoreCase)) response.StatusCode = int.Parse(value[..3], System.Globalization.CultureInfo.InvariantCulture);
                else if (name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase)) response.ContentType = value;
                else response.AddHeader(name, value);
            }
            await response.OutputStream.WriteAsync(bytes.AsMemory(split + 4), timeout.Token);
        }

        public void Dispose() => listener.Close();
    }
}
