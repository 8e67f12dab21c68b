using System.Reflection;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc.ApiExplorer;
using Microsoft.AspNetCore.Mvc.ModelBinding;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Slipway.Server.Auth;
using Slipway.Server.Hosting;

namespace Slipway.Server.OpenApi;

/// <summary>
/// Completes every operation from its endpoint metadata alone, so endpoints added later are documented without
/// touching this folder: operation id and summary, bearer security and the required scope, paging parameters,
/// <c>Idempotency-Key</c>, <c>X-Request-Id</c> on every response, the rate-limit headers on the responses of
/// authenticated operations (the shared error responses describe them in words) and the error responses of
/// api-conventions.md.
/// </summary>
internal sealed class OperationTransformer : IOpenApiOperationTransformer
{
    public const string ScopeExtension = "x-required-scope";

    public async Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var description = context.Description;
        var metadata = description.ActionDescriptor.EndpointMetadata;
        var document = context.Document ?? throw new InvalidOperationException("The OpenAPI document is not available to operation transformers.");
        var method = (description.HttpMethod ?? "GET").ToUpperInvariant();
        var route = description.RelativePath ?? "";
        var handler = metadata.OfType<MethodInfo>().FirstOrDefault();
        var scope = metadata.OfType<RequiredScope>().LastOrDefault();
        var anonymous = metadata.OfType<Anonymous>().Any();
        operation.Responses ??= [];

        var paged = handler is not null && handler.GetParameters().Any(p => p.ParameterType == typeof(PageQuery));
        operation.OperationId ??= OperationNames.OperationId(method, route);
        operation.Summary ??= OperationNames.Summary(method, route, handler?.Name, operation.Responses.ContainsKey("201"), paged);

        if (scope is not null && !anonymous)
        {
            operation.Security = [new OpenApiSecurityRequirement { [ApiComponents.Bearer(document)] = [] }];
            operation.Extensions ??= new Dictionary<string, IOpenApiExtension>(StringComparer.Ordinal);
            operation.Extensions[ScopeExtension] = new JsonNodeExtension(JsonValue.Create(scope.Scope));
            AppendDescription(operation, scope.Scope == Scopes.UserSession
                ? "Requires a user session (JWT) only: API keys are refused with 403."
                : $"Requires the `{scope.Scope}` scope when called with an API key (a signed-in user needs a suitable workspace role).");
        }
        else
        {
            // An empty requirement: explicitly callable without credentials (an empty list would not be written at all).
            operation.Security = [new OpenApiSecurityRequirement()];
            AppendDescription(operation, "No authentication required.");
        }

        DescribeProjectParameter(operation, route);
        if (paged)
        {
            AddParameter(operation, ApiComponents.Parameter(document, ApiComponents.LimitParameter));
            AddParameter(operation, ApiComponents.Parameter(document, ApiComponents.CursorParameter));
        }
        // The idempotency middleware keys stored responses by caller, so only authenticated POSTs honour the header.
        if (method == "POST" && scope is not null && !anonymous)
        {
            AddParameter(operation, ApiComponents.Parameter(document, ApiComponents.IdempotencyKeyParameter));
        }

        foreach (var (status, response) in operation.Responses)
        {
            if (response is not OpenApiResponse concrete) continue;
            concrete.Headers ??= new Dictionary<string, IOpenApiHeader>(StringComparer.Ordinal);
            concrete.Headers.TryAdd(ApiComponents.RequestIdHeader, ApiComponents.Header(document, ApiComponents.RequestIdHeader));
            if (status == "201") concrete.Headers.TryAdd("Location", ApiComponents.Location(document));
            if (scope is not null && !anonymous)
            {
                foreach (var header in ApiComponents.RateLimitHeaders) concrete.Headers.TryAdd(header, ApiComponents.Header(document, header));
            }
        }

        foreach (var status in ErrorStatuses(method, route, scope is not null && !anonymous, operation.RequestBody is not null, NamesOwner(description),
                     metadata))
        {
            var key = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
            // A status the endpoint declared without a body (.Produces(404)) still gets the one error shape.
            if (operation.Responses.TryGetValue(key, out var existing) && existing.Content is { Count: > 0 }) continue;
            operation.Responses[key] = ApiComponents.ErrorResponse(document, status);
        }

        // An endpoint that answers one status in two forms (a page as JSON, or with ?follow=true a stream as NDJSON)
        // declares both; the generator keeps only the last, so the others are added back here.
        foreach (var produced in metadata.OfType<IProducesResponseTypeMetadata>().Where(p => p.StatusCode < 400 && p.Type is not null))
        {
            var key = produced.StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (!operation.Responses.TryGetValue(key, out var existing) || existing is not OpenApiResponse response) continue;
            response.Content ??= new Dictionary<string, OpenApiMediaType>(StringComparer.Ordinal);
            foreach (var contentType in produced.ContentTypes.Where(c => !response.Content.ContainsKey(c)))
            {
                response.Content[contentType] = new OpenApiMediaType { Schema = await ComponentAsync(context, document, produced.Type!, cancellationToken) };
            }
        }
    }

    /// <summary>The type's schema as a shared component (named like the generator names them: <c>PageOfX</c>), referenced.</summary>
    private static async Task<IOpenApiSchema> ComponentAsync(OpenApiOperationTransformerContext context, OpenApiDocument document, Type type,
        CancellationToken ct)
    {
        var id = type.IsGenericType
            ? $"{type.Name[..type.Name.IndexOf('`', StringComparison.Ordinal)]}Of{string.Concat(type.GetGenericArguments().Select(a => a.Name))}"
            : type.Name;
        if (document.Components?.Schemas?.ContainsKey(id) != true) document.AddComponent(id, await context.GetOrCreateSchemaAsync(type, null, ct));
        return new OpenApiSchemaReference(id, document);
    }

    /// <summary>Whether the caller names a workspace or project in the query or the body: one it cannot see is 404.</summary>
    private static bool NamesOwner(ApiDescription description) => description.ParameterDescriptions.Any(p =>
        p.Name is "workspace_id" or "project_id"
        || (p.Source == BindingSource.Body && (p.Type.GetProperty("WorkspaceId") ?? p.Type.GetProperty("ProjectId")) is not null));

    private static SortedSet<int> ErrorStatuses(string method, string route, bool authenticated, bool hasBody, bool namesOwner, IList<object> metadata)
    {
        var statuses = new SortedSet<int> { 400, 429, 500 };
        if (authenticated)
        {
            statuses.Add(401);
            statuses.Add(403);
        }
        if (route.Contains('{', StringComparison.Ordinal) || (authenticated && namesOwner)) statuses.Add(404);
        if (method is "POST" or "PUT" or "PATCH") statuses.Add(409);
        if (hasBody)
        {
            statuses.Add(413);
            statuses.Add(415);
        }
        foreach (var declared in metadata.OfType<DocumentedErrors>().SelectMany(d => d.Statuses)) statuses.Add(declared);
        foreach (var produced in metadata.OfType<IProducesResponseTypeMetadata>().Where(p => p.StatusCode >= 400)) statuses.Add(produced.StatusCode);
        return statuses;
    }

    private static void AddParameter(OpenApiOperation operation, IOpenApiParameter parameter)
    {
        operation.Parameters ??= [];
        operation.Parameters.Add(parameter);
    }

    private static void AppendDescription(OpenApiOperation operation, string sentence) =>
        operation.Description = string.IsNullOrEmpty(operation.Description) ? sentence : $"{operation.Description}\n\n{sentence}";

    /// <summary>The project segment of <c>/projects/{id}/…</c> takes the project's name as well (Access.ProjectAsync).</summary>
    private static void DescribeProjectParameter(OpenApiOperation operation, string route)
    {
        var segments = route.Split('/');
        var at = Array.IndexOf(segments, "projects");
        if (at < 0 || at + 1 >= segments.Length || !segments[at + 1].StartsWith('{')) return;
        var name = segments[at + 1].Trim('{', '}');
        foreach (var parameter in operation.Parameters?.OfType<OpenApiParameter>() ?? [])
        {
            if (parameter.In == ParameterLocation.Path && parameter.Name == name) parameter.Description = "The project's id or its name.";
        }
    }
}
