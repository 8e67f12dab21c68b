using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Slipway.Server.OpenApi;

/// <summary>
/// Document-wide parts: info, the one documented server, tag descriptions, the Error schema, and request schemas that
/// say which fields a client may leave out. Everything here is a pure function of the endpoints, so the exported
/// document is the same on every run.
/// </summary>
internal sealed class DocumentTransformer : IOpenApiDocumentTransformer
{
    public const string DocumentedServer = Hosting.HostingSetup.DefaultUrl;

    private const string Description = """
        Slipway is a self-hosted build and deploy platform. This is its HTTP API under `/api/v1`.

        - **JSON**: request and response bodies are JSON (`Content-Type: application/json`), field names and enum values are `snake_case`,
          timestamps are UTC ISO 8601 with milliseconds (`2026-05-10T14:23:45.123Z`), ids are opaque UUIDv7 strings.
        - **Authentication**: `Authorization: Bearer <token>` with a user JWT (from `/api/v1/auth/login` or `/api/v1/auth/register`)
          or an API key (`slp_...`). Each operation names the scope an API key needs in `x-required-scope`; `user_session`
          means a signed-in user (JWT) only.
        - **Errors**: every non-2xx response has the body `{"error": {"code", "message", "request_id", "details"?}}` (schema `Error`).
        - **Request ids**: every response carries `X-Request-Id`, also found in error bodies and server logs.
        - **Paging**: list endpoints take `limit` (1-100, default 25) and `cursor`, and answer `{"data": [...], "next_cursor": ...}`, newest first.
        - **Idempotency**: authenticated POSTs accept `Idempotency-Key`; a retry with the same key replays the first response.
        - **Rate limits**: every authenticated request takes a token from a bucket per API key (per user for a JWT) sized by
          the workspace tier: `standard` 60 requests/min with a burst of 10, `enterprise` 300/min with a burst of 50. Every
          response to such a request carries `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (Unix seconds)
          and the IETF draft pair `RateLimit-Policy` / `RateLimit`; an empty bucket answers 429 `rate_limited` with `Retry-After`.
          Sign-in has its own limits (failures per account and per address).
        """;

    /// <summary>Known feature tags; any other tag still gets a description so the document stays complete.</summary>
    private static readonly Dictionary<string, string> TagDescriptions = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Auth"] = "Accounts and sessions: register, sign in, the current user, password changes.",
        ["Workspaces"] = "Workspaces own every resource; members have a role (owner, admin, developer, viewer).",
        ["Members"] = "Workspace members and their roles.",
        ["API keys"] = "Workspace API keys with scopes, optionally restricted to one project; the full key is returned once.",
        ["ApiKeys"] = "Workspace API keys with scopes, optionally restricted to one project; the full key is returned once.",
        ["Projects"] = "Projects: a repository, how to build and run it, and its environments and domains.",
        ["Environments"] = "Named deployment targets of a project (production, staging, previews) with their own overrides.",
        ["Env"] = "Environment variables of a project environment (names readable with `env:read`).",
        ["EnvVars"] = "Environment variables of a project environment (names readable with `env:read`).",
        ["Environment variables"] = "Environment variables of a project environment (names readable with `env:read`).",
        ["Domains"] = "Custom domains routed to a project environment.",
        ["Health"] = "Liveness, readiness and metrics for operators and load balancers.",
    };

    public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        var version = typeof(DocumentTransformer).Assembly.GetName().Version ?? new Version(0, 0, 0);
        document.Info = new OpenApiInfo
        {
            Title = "Slipway API",
            Version = $"{version.Major}.{version.Minor}.{Math.Max(version.Build, 0)}",
            Description = Description,
            License = new OpenApiLicense { Name = "MIT", Identifier = "MIT" },
        };
        document.Servers = [new OpenApiServer { Url = DocumentedServer, Description = "A local Slipway server with the default settings." }];

        var tags = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var operation in Operations(document))
        {
            foreach (var tag in operation.Tags ?? Enumerable.Empty<OpenApiTagReference>()) if (tag.Name is { } name) tags.Add(name);
        }
        document.Tags = new HashSet<OpenApiTag>(tags.Select(name => new OpenApiTag
        {
            Name = name,
            Description = TagDescriptions.TryGetValue(name, out var text) ? text : $"{name} operations.",
        }));

        ApiComponents.AddErrorSchema(document);
        OptionalRequestFields(document);
        SortComponents(document);
        return Task.CompletedTask;
    }

    /// <summary>Components appear in the order operations first used them; sorted, a new endpoint does not reshuffle the file.</summary>
    private static void SortComponents(OpenApiDocument document)
    {
        if (document.Components is not { } components) return;
        components.Schemas = Sorted(components.Schemas);
        components.Responses = Sorted(components.Responses);
        components.Parameters = Sorted(components.Parameters);
        components.Headers = Sorted(components.Headers);
        components.SecuritySchemes = Sorted(components.SecuritySchemes);
    }

    private static Dictionary<string, T>? Sorted<T>(IDictionary<string, T>? items) =>
        items?.OrderBy(i => i.Key, StringComparer.Ordinal).ToDictionary(i => i.Key, i => i.Value, StringComparer.Ordinal);

    /// <summary>
    /// Request records have nullable properties validated at the edge: a client may omit any of them (the 400 says which
    /// are needed), so a nullable property of a schema used only in requests is not listed as required. Response schemas
    /// keep <c>required</c>: those properties are always present, possibly null.
    /// </summary>
    private static void OptionalRequestFields(OpenApiDocument document)
    {
        var schemas = document.Components?.Schemas;
        if (schemas is null) return;
        var requestOnly = new HashSet<string>(StringComparer.Ordinal);
        var inResponses = new HashSet<string>(StringComparer.Ordinal);
        foreach (var operation in Operations(document))
        {
            foreach (var media in operation.RequestBody?.Content?.Values ?? []) Collect(media.Schema, schemas, requestOnly);
            foreach (var response in operation.Responses?.Values ?? Enumerable.Empty<IOpenApiResponse>())
            {
                foreach (var media in response.Content?.Values ?? []) Collect(media.Schema, schemas, inResponses);
            }
        }
        requestOnly.ExceptWith(inResponses);
        foreach (var name in requestOnly)
        {
            if (schemas[name] is not OpenApiSchema { Required: { Count: > 0 } required, Properties: { } properties }) continue;
            foreach (var field in required.Where(p => properties.TryGetValue(p, out var property) && IsNullable(property)).ToList())
            {
                required.Remove(field);
            }
        }
    }

    private static bool IsNullable(IOpenApiSchema schema) =>
        schema.Type is { } type && type.HasFlag(JsonSchemaType.Null)
        || (schema.OneOf ?? []).Concat(schema.AnyOf ?? []).Any(s => s.Type == JsonSchemaType.Null);

    /// <summary>Names of the component schemas a schema uses, transitively.</summary>
    private static void Collect(IOpenApiSchema? schema, IDictionary<string, IOpenApiSchema> schemas, HashSet<string> seen)
    {
        if (schema is null) return;
        if (schema is OpenApiSchemaReference reference)
        {
            var id = reference.Reference.Id;
            if (id is null || !seen.Add(id) || !schemas.TryGetValue(id, out var target)) return;
            schema = target;
        }
        foreach (var property in schema.Properties?.Values ?? []) Collect(property, schemas, seen);
        Collect(schema.Items, schemas, seen);
        Collect(schema.AdditionalProperties, schemas, seen);
        foreach (var part in (schema.AllOf ?? []).Concat(schema.OneOf ?? []).Concat(schema.AnyOf ?? [])) Collect(part, schemas, seen);
    }

    private static IEnumerable<OpenApiOperation> Operations(OpenApiDocument document) =>
        (document.Paths?.Values ?? Enumerable.Empty<IOpenApiPathItem>()).SelectMany(p => p.Operations?.Values ?? Enumerable.Empty<OpenApiOperation>());
}
