using System.Diagnostics;
using System.Text.Json.Nodes;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.OpenApi;

/// <summary>
/// <c>scripts/postman.mjs</c> over the live document: one request per operation, the two collection variables,
/// bearer auth at the collection level, and the same bytes on every run. Needs <c>node</c> (the repository's tooling).
/// </summary>
public sealed class ExportingThePostmanCollectionTests : IAsyncLifetime
{
    private static readonly string[] Methods = ["get", "put", "post", "patch", "delete", "head", "options", "trace"];

    private SlipwayServer server = null!;
    private string documentFile = null!;
    private JsonObject document = null!;

    public async Task InitializeAsync()
    {
        server = await SlipwayServer.StartAsync();
        var response = (await server.GetAsync("/openapi.json")).AssertStatus(200);
        document = response.Json.AsObject();
        documentFile = Path.Combine(server.DataDirectory, "openapi.json");
        await File.WriteAllTextAsync(documentFile, response.Body);
    }

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task Convert_LiveDocument_HasOneRequestPerOperationAndTheVariables()
    {
        var node = FindNode();

        var output = await RunAsync(node, RepositoryFile("scripts/postman.mjs"), documentFile);
        var collection = JsonNode.Parse(output)!.AsObject();

        Assert.Equal("https://schema.getpostman.com/json/collection/v2.1.0/collection.json", collection["info"]!["schema"]!.GetValue<string>());
        var variables = collection["variable"]!.AsArray().ToDictionary(v => v!["key"]!.GetValue<string>(), v => v!["value"]!.GetValue<string>());
        Assert.Equal("http://127.0.0.1:8080", variables["base_url"]);
        Assert.True(variables.ContainsKey("bearer_token"));
        Assert.Equal("bearer", collection["auth"]!["type"]!.GetValue<string>());
        Assert.Equal("{{bearer_token}}", collection["auth"]!["bearer"]![0]!["value"]!.GetValue<string>());

        var operations = (from path in document["paths"]!.AsObject()
                          from method in Methods
                          let operation = path.Value![method]
                          where operation is not null
                          select (Path: path.Key, Method: method.ToUpperInvariant(), Operation: operation)).ToList();
        var requests = collection["item"]!.AsArray().SelectMany(folder => folder!["item"]!.AsArray()).Select(i => i!["request"]!).ToList();
        Assert.Equal(operations.Count, requests.Count);
        foreach (var (path, method, operation) in operations)
        {
            var raw = "{{base_url}}" + string.Join('/', path.Split('/').Select(s => s.StartsWith('{') ? ":" + s[1..^1] : s));
            var request = requests.SingleOrDefault(r => r["method"]!.GetValue<string>() == method && r["url"]!["raw"]!.GetValue<string>().Split('?')[0] == raw);
            Assert.True(request is not null, $"no Postman request for {method} {path} ({raw})");
            if (operation["requestBody"]?["content"]?["multipart/form-data"] is not null)
            {
                Assert.Equal("formdata", request["body"]!["mode"]!.GetValue<string>());
                Assert.Contains(request["body"]!["formdata"]!.AsArray(), f => f!["type"]!.GetValue<string>() == "file");
            }
            else if (operation["requestBody"] is not null)
            {
                Assert.Equal("raw", request["body"]!["mode"]!.GetValue<string>());
                Assert.IsType<JsonObject>(JsonNode.Parse(request["body"]!["raw"]!.GetValue<string>()));
            }
            var anonymous = operation["security"]!.AsArray().Any(r => r!.AsObject().Count == 0);
            Assert.Equal(anonymous, request["auth"]?["type"]?.GetValue<string>() == "noauth");
        }

        var register = requests.Single(r => r["url"]!["raw"]!.GetValue<string>() == "{{base_url}}/api/v1/auth/register");
        var body = JsonNode.Parse(register["body"]!["raw"]!.GetValue<string>())!.AsObject();
        Assert.Equal(["email", "invitation", "name", "password"], body.Select(p => p.Key).Order());
    }

    [Fact]
    public async Task Convert_Twice_IsByteForByteTheSame()
    {
        var node = FindNode();

        var first = await RunAsync(node, RepositoryFile("scripts/postman.mjs"), documentFile);
        var second = await RunAsync(node, RepositoryFile("scripts/postman.mjs"), documentFile);

        Assert.Equal(first, second);
        Assert.DoesNotContain("_postman_id", first, StringComparison.Ordinal);
    }

    /// <summary>Node is required by the test suite (README): a missing one fails the test, it does not skip it silently.</summary>
    private static string FindNode() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
        .Select(dir => Path.Combine(dir, OperatingSystem.IsWindows() ? "node.exe" : "node"))
        .FirstOrDefault(File.Exists) ?? throw new InvalidOperationException("node is not on PATH; the test suite needs Node 20 (see README)");

    private static string RepositoryFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"{relative} not found above {AppContext.BaseDirectory}");
    }

    private static async Task<string> RunAsync(string fileName, params string[] arguments)
    {
        var start = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        Assert.True(process.ExitCode == 0, $"{fileName} {string.Join(' ', arguments)} exited {process.ExitCode}: {await stderr}");
        return await stdout;
    }
}
