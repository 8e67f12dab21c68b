using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Slipway.Server.Tests.ApiKeys;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.OpenApi;

/// <summary>
/// Every operation of the served /openapi.json is called in a handful of generic scenarios (no credentials, unknown ids,
/// another workspace's ids, a malformed or mistyped body, plain reads with real ids by the owner and by a project-restricted
/// key), and whatever it answers must be a status the operation documents, with a content type documented for that
/// status. The cases come from the document, so a new endpoint is covered without a test of its own.
/// </summary>
public sealed class KeepingTheContractTests : IAsyncLifetime
{
    private static readonly string[] Methods = ["get", "put", "post", "patch", "delete"];
    private static readonly string[] AllEvents = ["*"];
    private static readonly string[] OwnerFields = ["project_id", "workspace_id"];
    private const string UnknownId = "01900000-0000-7000-8000-000000000000";

    private SlipwayServer server = null!;
    private JsonObject document = null!;
    private TestUser owner = null!;
    private TestUser stranger = null!;
    private string restrictedKey = null!;
    private readonly Dictionary<string, string> ids = new(StringComparer.Ordinal);

    public async Task InitializeAsync()
    {
        server = await SlipwayServer.StartAsync(new Dictionary<string, string?> { ["Slipway:Webhooks:AllowLoopback"] = "true" });
        document = (await server.GetAsync("/openapi.json")).AssertStatus(200).Json.AsObject();
        owner = await server.RegisterUserAsync();
        stranger = await server.RegisterUserAsync();
        var project = await server.CreateProjectAsync(owner.Token);
        var deployment = await server.DeployAsync(owner.Token, project.Id());
        var webhook = (await server.PostAsync("/api/v1/webhooks", new { url = "http://127.0.0.1:9/hook", events = AllEvents }, owner.Token))
            .AssertStatus(201).Json;
        ids["workspaces"] = owner.WorkspaceId;
        ids["projects"] = project.Id();
        ids["deployments"] = deployment.Id();
        ids["builds"] = deployment["build_id"]!.GetValue<string>();
        ids["webhooks"] = webhook.Id();
        ids["api-keys"] = (await server.CreateKeyAsync(owner.Token)).Id();
        ids["domains"] = (await server.PostAsync("/api/v1/domains", new { project_id = project.Id(), domain = "contract.example.test" }, owner.Token))
            .AssertStatus(201).Json.Id();
        ids["envId"] = (await server.GetAsync($"/api/v1/projects/{project.Id()}/environments", owner.Token)).AssertStatus(200).Json["data"]![0]!.Id();
        ids["userId"] = owner.Id;
        ids["hookId"] = (await server.PostAsync($"/api/v1/projects/{project.Id()}/integrations/github", null, owner.Token)).AssertStatus(201).Json.Id();
        ids["deliveryId"] = (await server.PostAsync($"/api/v1/webhooks/{webhook.Id()}/test", null, owner.Token)).AssertStatus(202).Json.Id();
        restrictedKey = await server.KeyAsync(owner.Token, ["*"], new { project_id = project.Id() });
    }

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task EveryOperation_InEveryScenario_AnswersADocumentedStatusAndContentType()
    {
        var failures = new List<string>();
        var calls = 0;
        foreach (var (path, method, operation) in Operations())
        {
            var hasBody = operation["requestBody"] is not null;
            var authenticated = operation["security"]!.AsArray().Any(r => r!.AsObject().Count > 0);
            var emptyBody = hasBody ? BodyNaming(operation, _ => UnknownId) : null;
            var scenarios = new List<(string Name, string Url, string? Token, HttpContent? Body)>
            {
                ("no credentials", Url(path, operation, real: false), null, Json(emptyBody)),
                ("unknown ids", Url(path, operation, real: false), owner.Token, Json(emptyBody)),
                ("another workspace's ids", Url(path, operation, real: true), stranger.Token,
                    Json(hasBody ? BodyNaming(operation, RealQueryId) : null)),
            };
            if (hasBody)
            {
                scenarios.Add(("malformed JSON", Url(path, operation, real: true), owner.Token, new StringContent("{", Encoding.UTF8, "application/json")));
                scenarios.Add(("not JSON", Url(path, operation, real: true), owner.Token, new StringContent("x", Encoding.UTF8, "text/plain")));
            }
            // Reads change nothing, so they may use the fixtures: the happy path, and a key that sees one project only.
            if (method == "get")
            {
                scenarios.Add(("owner reads", Url(path, operation, real: true), owner.Token, null));
                if (authenticated) scenarios.Add(("project-restricted key reads", Url(path, operation, real: true), restrictedKey, null));
            }
            foreach (var (name, url, token, body) in scenarios)
            {
                calls++;
                var (status, contentType) = await SendAsync(method, url, token, body);
                var problem = Check(operation, status, contentType)
                              ?? (token is null && authenticated && status != 401 ? $"{status} without credentials, not 401" : null);
                if (problem is not null) failures.Add($"{method.ToUpperInvariant()} {url} ({name}): {problem}");
            }
        }
        Assert.True(calls > 100, $"only {calls} calls were made");
        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    private IEnumerable<(string Path, string Method, JsonObject Operation)> Operations()
    {
        foreach (var (path, item) in document["paths"]!.AsObject())
        {
            foreach (var method in Methods)
            {
                if (item![method] is JsonObject operation) yield return (path, method, operation);
            }
        }
    }

    /// <summary>The status must be documented; its content type must be one documented for it (none when none is).</summary>
    private string? Check(JsonObject operation, int status, string? contentType)
    {
        var key = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (Resolve(operation["responses"]![key]) is not JsonObject response) return $"{status} is not documented";
        var documented = response["content"]?.AsObject().Select(c => c.Key).ToList() ?? [];
        if (documented.Count == 0) return contentType is null ? null : $"{status} is documented without a body but came as {contentType}";
        return contentType is not null && documented.Contains(contentType) ? null
            : $"{status} came as {contentType ?? "no content"}, documented: {string.Join(", ", documented)}";
    }

    private JsonNode? Resolve(JsonNode? node)
    {
        while (node?["$ref"]?.GetValue<string>() is { } reference)
        {
            node = reference.TrimStart('#', '/').Split('/').Aggregate((JsonNode?)document, (at, part) => at?[part]);
        }
        return node;
    }

    private async Task<(int Status, string? ContentType)> SendAsync(string method, string url, string? token, HttpContent? body)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method.ToUpperInvariant()), url) { Content = body };
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        // Headers are enough: a stream (SSE, NDJSON) is left as soon as it starts.
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        using var response = await server.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        var length = response.Content.Headers.ContentLength;
        var contentType = length == 0 ? null : response.Content.Headers.ContentType?.MediaType;
        return ((int)response.StatusCode, contentType);
    }

    /// <summary>The path with its ids filled in (the fixtures', or an unknown one), plus the owner filters the query takes.</summary>
    private string Url(string path, JsonObject operation, bool real)
    {
        var segments = path.Split('/');
        for (var i = 0; i < segments.Length; i++)
        {
            if (!segments[i].StartsWith('{')) continue;
            var name = segments[i].Trim('{', '}');
            var fixture = name == "id" ? segments[i - 1] : name == "projectId" ? "projects" : name == "deploymentId" ? "deployments" : name;
            segments[i] = real && ids.TryGetValue(fixture, out var id) ? id : UnknownId;
        }
        var query = (operation["parameters"]?.AsArray() ?? [])
            .Select(p => Resolve(p)!["name"]?.GetValue<string>())
            .Where(n => n is "project_id" or "workspace_id")
            .Select(n => $"{n}={(real ? RealQueryId(n!) : UnknownId)}");
        var url = string.Join('/', segments);
        return query.Any() ? url + "?" + string.Join('&', query) : url;
    }

    private string RealQueryId(string name) => name == "workspace_id" ? ids["workspaces"] : ids["projects"];

    /// <summary>An otherwise empty body naming the owners its schema has room for, so "unknown owner" is reachable.</summary>
    private JsonObject BodyNaming(JsonObject operation, Func<string, string> id)
    {
        var schema = Resolve(operation["requestBody"]!["content"]?["application/json"]?["schema"]);
        var body = new JsonObject();
        foreach (var name in OwnerFields)
        {
            if (schema?["properties"]?[name] is not null) body[name] = id(name);
        }
        return body;
    }

    private static StringContent? Json(JsonObject? body) =>
        body is null ? null : new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
}
