using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Slipway.Server.Auth;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.OpenApi;

/// <summary>
/// The OpenAPI document is built from endpoint metadata: these checks run over whatever endpoints the app maps,
/// so a new endpoint is covered without touching this file.
/// </summary>
public sealed partial class DescribingTheApiTests : IAsyncLifetime
{
    private static readonly string[] Methods = ["get", "put", "post", "patch", "delete", "head", "options", "trace"];

    private SlipwayServer server = null!;
    private JsonObject document = null!;

    public async Task InitializeAsync()
    {
        server = await SlipwayServer.StartAsync();
        document = (await server.GetAsync("/openapi.json")).AssertStatus(200).Json.AsObject();
    }

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task GetOpenApiJson_Anonymously_ReturnsOpenApi31WithInfoAndLocalServer()
    {
        var response = (await server.GetAsync("/openapi.json")).AssertStatus(200);

        Assert.StartsWith("application/json", response.Header("Content-Type"), StringComparison.Ordinal);
        Assert.StartsWith("3.1", document["openapi"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("Slipway API", document["info"]!["title"]!.GetValue<string>());
        Assert.Matches(@"^\d+\.\d+\.\d+$", document["info"]!["version"]!.GetValue<string>());
        Assert.False(string.IsNullOrWhiteSpace(document["info"]!["description"]?.GetValue<string>()));
        Assert.NotNull(document["info"]!["license"]!["name"]);
        Assert.Equal("http://127.0.0.1:8080", Assert.Single(document["servers"]!.AsArray())!["url"]!.GetValue<string>());
    }

    [Fact]
    public void EveryMappedEndpoint_AppearsAsPathAndMethod()
    {
        var endpoints = MappedEndpoints();
        Assert.NotEmpty(endpoints);
        var paths = document["paths"]!.AsObject();
        foreach (var (path, methods, _) in endpoints)
        {
            var item = paths[path]?.AsObject();
            Assert.True(item is not null, $"{path} is mapped but missing from /openapi.json");
            foreach (var method in methods)
            {
                Assert.True(item.ContainsKey(method.ToLowerInvariant()), $"{method} {path} is mapped but missing from /openapi.json");
            }
        }
    }

    [Fact]
    public void EveryScopedOperation_HasBearerSecurityAndItsScope()
    {
        var scheme = document["components"]!["securitySchemes"]!["bearerAuth"]!;
        Assert.Equal("http", scheme["type"]!.GetValue<string>());
        Assert.Equal("bearer", scheme["scheme"]!.GetValue<string>());
        Assert.Contains("slp_", scheme["description"]!.GetValue<string>(), StringComparison.Ordinal);

        var scoped = 0;
        foreach (var (path, methods, endpoint) in MappedEndpoints())
        {
            var scope = endpoint.Metadata.GetMetadata<RequiredScope>();
            var anonymous = endpoint.Metadata.GetMetadata<Anonymous>() is not null;
            foreach (var method in methods)
            {
                var operation = Operation(path, method);
                var security = operation["security"]!.AsArray();
                if (scope is null || anonymous)
                {
                    Assert.True(security.All(r => r!.AsObject().Count == 0), $"{method} {path} is anonymous but declares credentials");
                    continue;
                }
                scoped++;
                Assert.True(security.Any(r => r!.AsObject().ContainsKey("bearerAuth")), $"{method} {path} lacks the bearerAuth requirement");
                Assert.Equal(scope.Scope, operation["x-required-scope"]?.GetValue<string>());
                var description = operation["description"]!.GetValue<string>();
                Assert.Contains(scope.Scope == Scopes.UserSession ? "user session (JWT) only" : $"`{scope.Scope}`", description, StringComparison.Ordinal);
            }
        }
        Assert.True(scoped > 0);
    }

    [Fact]
    public void EveryOperation_HasA4xxResponseWithTheErrorSchema()
    {
        var error = document["components"]!["schemas"]!["Error"]!;
        Assert.Equal(["error"], error["required"]!.AsArray().Select(r => r!.GetValue<string>()));
        var body = error["properties"]!["error"]!;
        Assert.Equal(["code", "message", "request_id"], body["required"]!.AsArray().Select(r => r!.GetValue<string>()).Order());
        Assert.Equal(["field", "message"], body["properties"]!["details"]!["items"]!["required"]!.AsArray().Select(r => r!.GetValue<string>()).Order());

        foreach (var (path, method, operation) in Operations())
        {
            var errors = operation["responses"]!.AsObject().Where(r => r.Key.StartsWith('4')).ToList();
            Assert.True(errors.Count > 0, $"{method} {path} documents no 4xx response");
            foreach (var (status, response) in errors)
            {
                var schema = Resolve(response!)["content"]?["application/json"]?["schema"]?["$ref"]?.GetValue<string>();
                Assert.True(schema == "#/components/schemas/Error", $"{method} {path} {status} does not use the Error schema");
            }
            Assert.True(operation["responses"]!.AsObject().ContainsKey("429"), $"{method} {path} does not document 429");
            Assert.True(operation["responses"]!.AsObject().ContainsKey("500"), $"{method} {path} does not document 500");
            if (path.Contains('{', StringComparison.Ordinal))
            {
                Assert.True(operation["responses"]!.AsObject().ContainsKey("404"), $"{method} {path} has a path id but no 404");
            }
        }
    }

    [Fact]
    public void EveryOperation_HasUniqueOperationIdSummaryAndRequestIdHeader()
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (path, method, operation) in Operations())
        {
            var id = operation["operationId"]?.GetValue<string>();
            Assert.True(id is not null && ids.Add(id), $"{method} {path} has a missing or duplicate operationId '{id}'");
            Assert.Matches("^[A-Za-z0-9_.-]+$", id);
            Assert.False(string.IsNullOrWhiteSpace(operation["summary"]?.GetValue<string>()), $"{method} {path} has no summary");
            foreach (var (status, response) in operation["responses"]!.AsObject())
            {
                Assert.True(Resolve(response!)["headers"]?["X-Request-Id"] is not null, $"{method} {path} {status} does not document X-Request-Id");
            }
        }
    }

    [Fact]
    public void ApiOperations_DocumentTheirSuccessBody()
    {
        // A handler returning IResult hides its response type: return TypedResults (Created<T>, Ok<T>) or add .Produces<T>(status).
        foreach (var (path, method, operation) in Operations().Where(o => o.Path.StartsWith("/api/", StringComparison.Ordinal)))
        {
            // 101: a WebSocket endpoint's success is the protocol switch.
            var success = operation["responses"]!.AsObject().Where(r => r.Key.StartsWith('2') || r.Key == "101").ToList();
            Assert.True(success.Count > 0, $"{method} {path} documents no 2xx response");
            foreach (var (status, response) in success.Where(s => s.Key is not "204" and not "101"))
            {
                // JSON bodies need their schema; a binary download (e.g. application/gzip) needs its media type.
                var content = response!["content"]?.AsObject();
                Assert.True(content is { Count: > 0 } && (content["application/json"]?["schema"] is not null || !content.ContainsKey("application/json")),
                    $"{method} {path} {status} has no JSON schema: return a typed result or declare .Produces<T>({status})");
            }
        }
    }

    [Fact]
    public void PostsAndLists_DocumentIdempotencyKeyAndPaging()
    {
        var post = Operation("/api/v1/projects", "POST");
        Assert.Contains(post["parameters"]!.AsArray(), p => Resolve(p!)["name"]?.GetValue<string>() == "Idempotency-Key" && Resolve(p!)["in"]!.GetValue<string>() == "header");
        Assert.Contains("201", post["responses"]!.AsObject().Select(r => r.Key));
        Assert.Contains("409", post["responses"]!.AsObject().Select(r => r.Key));

        var list = Operation("/api/v1/projects", "GET");
        var names = list["parameters"]!.AsArray().Select(p => Resolve(p!)["name"]!.GetValue<string>()).ToList();
        Assert.Contains("limit", names);
        Assert.Contains("cursor", names);
        var page = Resolve(list["responses"]!["200"]!["content"]!["application/json"]!["schema"]!);
        Assert.Equal(["data", "next_cursor"], page["properties"]!.AsObject().Select(p => p.Key).Order());
    }

    [Fact]
    public void Schemas_UseSnakeCaseNamesAndStringEnums()
    {
        var schemas = document["components"]!["schemas"]!.AsObject();
        var project = schemas["ProjectResponse"]!["properties"]!.AsObject();
        Assert.True(project.ContainsKey("repo_url"));
        Assert.True(project.ContainsKey("health_check_path"));
        Assert.True(project.ContainsKey("created_at"));
        Assert.Equal("string", project["created_at"]!["type"]!.GetValue<string>());
        Assert.Equal("date-time", project["created_at"]!["format"]!.GetValue<string>());

        var framework = schemas["Framework"]!;
        Assert.Equal("string", framework["type"]!.GetValue<string>());
        Assert.Contains("nextjs", framework["enum"]!.AsArray().Select(v => v!.GetValue<string>()));

        foreach (var (name, schema) in schemas)
        {
            foreach (var property in schema!["properties"]?.AsObject().Select(p => p.Key) ?? [])
            {
                Assert.True(SnakeCase().IsMatch(property), $"{name}.{property} is not snake_case");
            }
            foreach (var value in schema["enum"]?.AsArray() ?? [])
            {
                Assert.True(value is not null && SnakeCase().IsMatch(value.GetValue<string>()), $"{name} has a non snake_case enum value {value}");
            }
        }
    }

    [Fact]
    public async Task ErrorSchema_DescribesARealErrorBody()
    {
        var user = await server.RegisterUserAsync();
        var response = await server.GetAsync($"/api/v1/projects/{Guid.CreateVersion7()}", user.Token);
        response.AssertError(404, "not_found");

        var required = document["components"]!["schemas"]!["Error"]!["properties"]!["error"]!["required"]!.AsArray().Select(r => r!.GetValue<string>());
        var actual = response.Json["error"]!.AsObject();
        Assert.All(required, field => Assert.True(actual.ContainsKey(field), $"the error body lacks documented '{field}'"));
        Assert.Equal(response.Header("X-Request-Id"), actual["request_id"]!.GetValue<string>());
    }

    private JsonObject Operation(string path, string method) =>
        document["paths"]?[path]?[method.ToLowerInvariant()]?.AsObject() ?? throw new Xunit.Sdk.XunitException($"{method} {path} is not in /openapi.json");

    private IEnumerable<(string Path, string Method, JsonObject Operation)> Operations() =>
        from path in document["paths"]!.AsObject()
        from method in Methods
        let operation = path.Value![method]
        where operation is not null
        select (path.Key, method.ToUpperInvariant(), operation.AsObject());

    /// <summary>Follows a local <c>$ref</c> (<c>#/components/responses/NotFound</c>) to its target.</summary>
    private JsonNode Resolve(JsonNode node)
    {
        while (node["$ref"]?.GetValue<string>() is { } reference)
        {
            node = reference[2..].Split('/').Aggregate((JsonNode)document, (at, key) => at[key.Replace("~1", "/").Replace("~0", "~")]
                ?? throw new Xunit.Sdk.XunitException($"Unresolved $ref {reference}"));
        }
        return node;
    }

    /// <summary>Every route endpoint the app maps (but the document itself), as an OpenAPI path and its methods.</summary>
    private List<(string Path, IReadOnlyList<string> Methods, RouteEndpoint Endpoint)> MappedEndpoints() =>
        server.Service<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Select(e => (Path: OpenApiPath(e.RoutePattern), Methods: e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? [], Endpoint: e))
            .Where(e => e.Path != "/openapi.json")
            // Not REST (Socket.IO): excluded on purpose.
            .Where(e => e.Endpoint.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.IExcludeFromDescriptionMetadata>() is not { ExcludeFromDescription: true })
            .ToList();

    private static string OpenApiPath(RoutePattern pattern)
    {
        var segments = pattern.PathSegments.Select(segment => string.Concat(segment.Parts.Select(part => part switch
        {
            RoutePatternLiteralPart literal => literal.Content,
            RoutePatternParameterPart parameter => "{" + parameter.Name + "}",
            RoutePatternSeparatorPart separator => separator.Content,
            _ => "",
        })));
        return "/" + string.Join('/', segments);
    }

    [GeneratedRegex("^[a-z][a-z0-9]*(_[a-z0-9]+)*$")]
    private static partial Regex SnakeCase();
}
