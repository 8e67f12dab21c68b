using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Slipway.Server.Tests.Support;

/// <summary>
/// A real Slipway host on 127.0.0.1 (random port) with its own data directory and database: SQLite by default,
/// a fresh PostgreSQL database when <c>SLIPWAY_TEST_PROVIDER=postgres</c> and <c>SLIPWAY_TEST_POSTGRES</c> are set.
/// Intent methods keep tests reading like user stories.
/// </summary>
public sealed class SlipwayServer : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly string? postgresDatabase;

    public string DataDirectory { get; }
    public Uri BaseAddress { get; }
    public HttpClient Http { get; }
    public CapturedLogs Logs { get; }
    public bool IsPostgres => postgresDatabase is not null;

    private SlipwayServer(WebApplication app, string dataDirectory, string? postgresDatabase, CapturedLogs logs)
    {
        this.app = app;
        this.postgresDatabase = postgresDatabase;
        DataDirectory = dataDirectory;
        Logs = logs;
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address);
        Http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    public static string? PostgresAdminConnection => Environment.GetEnvironmentVariable("SLIPWAY_TEST_POSTGRES") is { Length: > 0 } cs ? cs : null;

    public static bool UsePostgres =>
        string.Equals(Environment.GetEnvironmentVariable("SLIPWAY_TEST_PROVIDER"), "postgres", StringComparison.OrdinalIgnoreCase)
        && PostgresAdminConnection is not null;

    public static async Task<SlipwayServer> StartAsync(IDictionary<string, string?>? settings = null, string? dataDirectory = null,
        bool? postgres = null, Action<IServiceCollection>? services = null, Action<WebApplication>? map = null, SlipwayServer? restartOf = null)
    {
        dataDirectory ??= restartOf?.DataDirectory ?? Directory.CreateTempSubdirectory("slipway-test-").FullName;
        var config = new Dictionary<string, string?>
        {
            ["urls"] = "http://127.0.0.1:0",
            ["Slipway:Router:Urls"] = "http://127.0.0.1:0",
            ["Slipway:DataDirectory"] = dataDirectory,
            ["Slipway:Auth:PasswordIterations"] = "1000",
            // Most tests register several people; Auth/ tests that exercise the policy set it themselves.
            ["Slipway:Auth:Registration"] = "open",
            ["Slipway:Projects:AllowLocalRepositories"] = "true",
            // Tests fire requests far faster than a person: generous buckets keep the limiter (and its headers) on the
            // path of every test; RateLimiting/ tests set exact small ones.
            ["Slipway:RateLimits:Standard:RequestsPerMinute"] = "1000000",
            ["Slipway:RateLimits:Standard:Burst"] = "1000000",
            ["Slipway:RateLimits:Enterprise:RequestsPerMinute"] = "1000000",
            ["Slipway:RateLimits:Enterprise:Burst"] = "1000000",
            ["Slipway:RateLimits:Interactive:RequestsPerMinute"] = "1000000",
            ["Slipway:RateLimits:Interactive:Burst"] = "1000000",
            ["Logging:LogLevel:Default"] = "Information",
            ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
            ["Logging:LogLevel:Microsoft.EntityFrameworkCore"] = "Warning",
        };
        string? database = restartOf?.postgresDatabase;
        if (database is not null)
        {
            config["Slipway:Database:Provider"] = "postgres";
            config["Slipway:Database:ConnectionString"] = new NpgsqlConnectionStringBuilder(PostgresAdminConnection) { Database = database }.ToString();
        }
        else if (restartOf is null && (postgres ?? UsePostgres))
        {
            database = "slipway_test_" + Guid.NewGuid().ToString("N")[..12];
            await using (var admin = new NpgsqlConnection(PostgresAdminConnection))
            {
                await admin.OpenAsync();
                await using var create = new NpgsqlCommand($"CREATE DATABASE {database}", admin);
                await create.ExecuteNonQueryAsync();
            }
            config["Slipway:Database:Provider"] = "postgres";
            config["Slipway:Database:ConnectionString"] = new NpgsqlConnectionStringBuilder(PostgresAdminConnection) { Database = database }.ToString();
        }
        // A null setting removes a harness default, so a test can run with the server's own default.
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            if (value is null) config.Remove(key);
            else config[key] = value;
        }

        var logs = new CapturedLogs();
        var app = SlipwayApp.Create([], builder =>
        {
            builder.Configuration.AddInMemoryCollection(config);
            builder.Logging.ClearProviders();
            builder.Logging.AddProvider(logs);
            services?.Invoke(builder.Services);
        });
        map?.Invoke(app);
        await app.StartAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return new SlipwayServer(app, dataDirectory, database, logs);
    }

    public T Service<T>() where T : notnull => app.Services.GetRequiredService<T>();

    /// <summary>
    /// Stops the host but keeps its data directory and database, for a restart with <c>StartAsync(restartOf: this)</c>.
    /// Work in flight is cut off as a crash would cut it (nothing gets to finish after the stop).
    /// </summary>
    public async Task StopKeepingDataAsync()
    {
        keepData = true;
        await DisposeAsync();
    }

    private bool keepData;
    private bool disposed;

    public async ValueTask DisposeAsync()
    {
        if (disposed) return;
        disposed = true;
        Http.Dispose();
        using (var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(10))) await app.StopAsync(stopping.Token);
        await app.DisposeAsync();
        if (postgresDatabase is not null && !keepData)
        {
            NpgsqlConnection.ClearAllPools();
            await using var admin = new NpgsqlConnection(PostgresAdminConnection);
            await admin.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {postgresDatabase} WITH (FORCE)", admin);
            await drop.ExecuteNonQueryAsync();
        }
    }

    // ---- HTTP helpers -------------------------------------------------------------------------------------------

    public async Task<ApiResponse> SendAsync(HttpMethod method, string path, object? body = null, string? token = null,
        IDictionary<string, string>? headers = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is string raw) request.Content = new StringContent(raw, Encoding.UTF8, "application/json");
        else if (body is HttpContent content) request.Content = content;
        else if (body is not null) request.Content = JsonContent.Create(body);
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        foreach (var (name, value) in headers ?? new Dictionary<string, string>()) request.Headers.TryAddWithoutValidation(name, value);
        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return new ApiResponse(response.StatusCode, text, response.Headers.Concat(response.Content.Headers)
            .ToDictionary(h => h.Key, h => string.Join(",", h.Value), StringComparer.OrdinalIgnoreCase));
    }

    public Task<ApiResponse> GetAsync(string path, string? token = null) => SendAsync(HttpMethod.Get, path, null, token);
    public Task<ApiResponse> PostAsync(string path, object? body, string? token = null) => SendAsync(HttpMethod.Post, path, body, token);
    public Task<ApiResponse> PatchAsync(string path, object? body, string? token = null) => SendAsync(HttpMethod.Patch, path, body, token);
    public Task<ApiResponse> DeleteAsync(string path, string? token = null, object? body = null) => SendAsync(HttpMethod.Delete, path, body, token);

    // ---- intent methods -----------------------------------------------------------------------------------------

    public async Task<TestUser> RegisterUserAsync(string? email = null, string password = "correct horse battery", string name = "Test User")
    {
        email ??= $"user-{Guid.NewGuid():N}@example.test";
        var response = await PostAsync("/api/v1/auth/register", new { email, name, password });
        response.AssertStatus(201);
        var token = response.Json["token"]!.GetValue<string>();
        var me = (await GetAsync("/api/v1/auth/me", token)).AssertStatus(200).Json;
        return new TestUser(response.Json["user"]!["id"]!.GetValue<string>(), email, password, token,
            me["workspaces"]!.AsArray().First(w => w!["is_personal"]!.GetValue<bool>())!["id"]!.GetValue<string>());
    }

    public async Task<JsonNode> CreateProjectAsync(string token, string? name = null, object? extra = null)
    {
        var body = new Dictionary<string, object?> { ["name"] = name ?? "app-" + Guid.NewGuid().ToString("N")[..10], ["repo_url"] = "https://example.com/acme/app.git" };
        if (extra is not null)
        {
            foreach (var (key, value) in JsonSerializer.SerializeToNode(extra)!.AsObject()) body[key] = value?.DeepClone();
        }
        return (await PostAsync("/api/v1/projects", body, token)).AssertStatus(201).Json;
    }
}

public static class EngineIntents
{
    private static readonly HttpClient RouterClient = new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false })
    {
        Timeout = TimeSpan.FromSeconds(30),
    };

    public static async Task<JsonNode> DeployAsync(this SlipwayServer server, string token, string projectId, string? environment = null)
    {
        var body = new Dictionary<string, object?> { ["project_id"] = projectId };
        if (environment is not null) body["environment"] = environment;
        return (await server.PostAsync("/api/v1/deployments", body, token)).AssertStatus(201).Json;
    }

    /// <summary>Polls the deployment until it reaches one of the statuses; fails fast on another terminal status.</summary>
    public static async Task<JsonNode> WaitForStatusAsync(this SlipwayServer server, string token, string deploymentId, TimeSpan timeout,
        params string[] statuses)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        JsonNode deployment;
        while (true)
        {
            deployment = (await server.GetAsync($"/api/v1/deployments/{deploymentId}", token)).AssertStatus(200).Json;
            var status = deployment["status"]!.GetValue<string>();
            if (statuses.Contains(status)) return deployment;
            if (status is "ready" or "failed" or "canceled" || watch.Elapsed > timeout) break;
            await Task.Delay(100);
        }
        var logs = (await server.GetAsync($"/api/v1/logs/{deploymentId}?limit=1000", token)).Body;
        if (logs.Length > 4000) logs = "…" + logs[^4000..];
        throw new Xunit.Sdk.XunitException($"Deployment {deploymentId} is {deployment["status"]} (wanted {string.Join("/", statuses)}): {deployment["error"]}\nLogs: {logs}");
    }

    public static Uri RouterAddress(this SlipwayServer server) => server.Service<Slipway.Server.Routing.RouterHost>().Addresses[0];

    public static async Task<HttpResponseMessage> RouterGetAsync(this SlipwayServer server, string host, string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(server.RouterAddress(), path));
        request.Headers.Host = host;
        return await RouterClient.SendAsync(request);
    }

    public static async Task<string> RouterGetStringAsync(this SlipwayServer server, string host, string path)
    {
        using var response = await server.RouterGetAsync(host, path);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"router answered {(int)response.StatusCode} for {host}{path}: {body}");
        return body;
    }
}

public sealed record TestUser(string Id, string Email, string Password, string Token, string WorkspaceId);

public sealed record ApiResponse(System.Net.HttpStatusCode StatusCode, string Body, IReadOnlyDictionary<string, string> Headers)
{
    public int Status => (int)StatusCode;

    public JsonNode Json => JsonNode.Parse(Body) ?? throw new InvalidOperationException("Empty body");

    public string? Header(string name) => Headers.TryGetValue(name, out var v) ? v : null;

    public ApiResponse AssertStatus(int expected)
    {
        Assert.True(Status == expected, $"Expected {expected} but got {Status}: {Body}");
        return this;
    }

    /// <summary>Asserts the api-conventions error shape and returns the error code.</summary>
    public string AssertError(int expected, string? code = null)
    {
        AssertStatus(expected);
        var error = Json["error"] ?? throw new Xunit.Sdk.XunitException($"No error object in: {Body}");
        var actual = error["code"]!.GetValue<string>();
        Assert.False(string.IsNullOrWhiteSpace(error["message"]!.GetValue<string>()));
        Assert.False(string.IsNullOrWhiteSpace(error["request_id"]!.GetValue<string>()));
        if (code is not null) Assert.Equal(code, actual);
        return actual;
    }
}

/// <summary>Collects every log line (message and structured values) so tests can assert what never gets logged.</summary>
public sealed class CapturedLogs : ILoggerProvider
{
    private readonly List<string> lines = [];

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (lines) return lines.ToList();
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturedLogs owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var values = state is IEnumerable<KeyValuePair<string, object?>> pairs ? string.Join(" ", pairs.Select(p => $"{p.Key}={p.Value}")) : "";
            lock (owner.lines) owner.lines.Add($"{logLevel} {category}: {formatter(state, exception)} {values} {exception}");
        }
    }
}
