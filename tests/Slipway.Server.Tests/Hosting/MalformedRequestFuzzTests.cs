using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Hosting;

/// <summary>
/// Hundreds of generated malformed requests against every mapped endpoint: wrong types, missing fields, huge strings,
/// odd unicode, nulls, broken JSON, bad ids and queries. Nothing may answer 5xx, and every error is in the one shape.
/// </summary>
public sealed class MalformedRequestFuzzTests : IAsyncLifetime
{
    private const int MinimumRequests = 600;
    private static readonly string[] Fields =
    [
        "name", "email", "password", "repo_url", "branch", "build_command", "start_command", "port", "framework", "root_directory",
        "output_directory", "health_check_path", "auto_deploy", "workspace_id", "project_id", "environment", "key", "value", "domain",
        "scopes", "expires_at", "role", "tier", "current_password", "new_password", "user_id", "description", "url", "events",
    ];

    private SlipwayServer server = null!;

    public async Task InitializeAsync() => server = await SlipwayServer.StartAsync();

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task GeneratedMalformedRequests_NeverAnswer5xx_AndAlwaysUseErrorShape()
    {
        var random = new Random(20261122);
        var user = await server.RegisterUserAsync();
        var project = await server.CreateProjectAsync(user.Token, "fuzz-target");
        var realIds = new[] { project["id"]!.GetValue<string>(), user.Id, user.WorkspaceId, project["environments"]![0]!["id"]!.GetValue<string>() };

        var endpoints = server.Service<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.Metadata.GetMetadata<HttpMethodMetadata>() is not null)
            // Socket.IO speaks its own protocol, errors included (the reference server's {"code","message"}).
            .Where(e => !(e.RoutePattern.RawText ?? "").StartsWith("/socket.io", StringComparison.Ordinal))
            .SelectMany(e => e.Metadata.GetMetadata<HttpMethodMetadata>()!.HttpMethods.Select(m => (Method: m, Route: e.RoutePattern)))
            .Where(e => e.Route.RawText != "/openapi.json")
            .ToList();
        Assert.True(endpoints.Count >= 10, $"only {endpoints.Count} endpoints found");

        var failures = new List<string>();
        var sent = 0;
        while (sent < MinimumRequests)
        {
            foreach (var (method, route) in endpoints)
            {
                var path = "/" + string.Join('/', route.PathSegments.Select(segment => string.Concat(segment.Parts.Select(part => part switch
                {
                    RoutePatternLiteralPart literal => literal.Content,
                    RoutePatternParameterPart => Uri.EscapeDataString(PathValue(random, realIds)),
                    _ => "x",
                }))));
                path += Query(random);
                var token = random.Next(10) switch
                {
                    0 => null,
                    1 => "not-a-token",
                    2 => "slp_" + new string('A', 43),
                    _ => user.Token,
                };
                var body = method is "GET" or "HEAD" ? null : Body(random);
                var headers = new Dictionary<string, string>();
                if (random.Next(6) == 0) headers["Idempotency-Key"] = Garbage(random, 40);
                ApiResponse response;
                try
                {
                    response = await server.SendAsync(new HttpMethod(method), path, body, token, headers);
                }
                catch (Exception ex)
                {
                    failures.Add($"{method} {path}: transport error {ex.GetType().Name}");
                    sent++;
                    continue;
                }
                sent++;
                if (response.Status >= 500) failures.Add($"{method} {path} -> {response.Status}: {Truncate(response.Body)} body={Truncate(body as string ?? "")}");
                else if (response.Status >= 400 && !IsErrorShape(response.Body)) failures.Add($"{method} {path} -> {response.Status} not in error shape: {Truncate(response.Body)}");
            }
        }

        Assert.True(sent >= MinimumRequests);
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));
        Assert.DoesNotContain(server.Logs.Lines, l => l.StartsWith("Error Slipway.Errors", StringComparison.Ordinal));
    }

    private static string PathValue(Random random, string[] realIds) => random.Next(8) switch
    {
        0 or 1 or 2 => realIds[random.Next(realIds.Length)],
        3 => Guid.NewGuid().ToString(),
        4 => Guid.CreateVersion7().ToString().ToUpperInvariant(),
        5 => new string('9', random.Next(1, 300)),
        6 => "..%2f..%2fetc",
        _ => Garbage(random, 30),
    };

    private static string Query(Random random) => random.Next(5) switch
    {
        0 => "",
        1 => $"?limit={Garbage(random, 5)}",
        2 => $"?cursor={Uri.EscapeDataString(Garbage(random, 20))}&limit={random.Next(-5, 200)}",
        3 => $"?project_id={Uri.EscapeDataString(Garbage(random, 10))}&workspace_id={Guid.NewGuid()}",
        _ => $"?limit={random.Next(1, 100)}",
    };

    private static object Body(Random random)
    {
        switch (random.Next(13))
        {
            case 0: return "{\"name\": ";
            case 1: return "[1,2,3]";
            case 2: return "null";
            case 3: return "\"just a string\"";
            case 4: return new string('[', 200) + new string(']', 200);
            case 5: return "{\"port\": 1e400, \"name\": \"\\ud800\"}";
            case 6: return "{\"name\": \"a\"} trailing";
            case 7: return "";
            case 8: // invalid UTF-8 inside a string: a reader that decodes it lazily must still answer 400
                var invalidUtf8 = new ByteArrayContent([.. "{\"name\":\""u8, 0xff, 0xfe, .. "\"}"u8]);
                invalidUtf8.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
                return invalidUtf8;
        }
        var obj = new JsonObject();
        foreach (var field in Fields.OrderBy(_ => random.Next()).Take(random.Next(0, 8))) obj[field] = Value(random);
        return obj.ToJsonString();
    }

    private static JsonNode? Value(Random random) => random.Next(12) switch
    {
        0 => null,
        1 => JsonValue.Create(random.Next(int.MinValue, int.MaxValue)),
        2 => JsonValue.Create(random.NextDouble() * 1e20),
        3 => JsonValue.Create(random.Next(2) == 0),
        4 => new JsonArray(JsonValue.Create(1), JsonValue.Create("x"), null),
        5 => new JsonObject { ["nested"] = "object" },
        6 => JsonValue.Create(new string('x', random.Next(1000, 70_000))),
        7 => JsonValue.Create("\u202e\u200b\ufeff😀\u0000\u0007 漢字 Ω"),
        8 => JsonValue.Create(""),
        9 => JsonValue.Create("-rf /"),
        10 => new JsonArray(JsonValue.Create("projects:read"), JsonValue.Create("nope:nope")),
        _ => JsonValue.Create(Garbage(random, 64)),
    };

    private static string Garbage(Random random, int max)
    {
        var length = random.Next(1, max);
        var chars = new StringBuilder(length);
        for (var i = 0; i < length; i++) chars.Append((char)random.Next(0x21, 0x7e));
        return chars.ToString();
    }

    private static bool IsErrorShape(string body)
    {
        try
        {
            var error = JsonNode.Parse(body)?["error"];
            return error?["code"]?.GetValue<string>() is { Length: > 0 } && error["message"]?.GetValue<string>() is { Length: > 0 }
                   && error["request_id"]?.GetValue<string>() is { Length: > 0 };
        }
        catch (System.Text.Json.JsonException)
        {
            return false;
        }
    }

    private static string Truncate(string s) => s.Length > 200 ? s[..200] + "…" : s;
}
