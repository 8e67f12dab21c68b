using Microsoft.OpenApi;
using Slipway.Server.Auth;

namespace Slipway.Server.OpenApi;

/// <summary>
/// <c>GET /openapi.json</c>: the OpenAPI 3.1 document of every endpoint, built from endpoint metadata by the transformers
/// in this folder. <c>scripts/update-api-docs.sh</c> exports it to <c>docs/openapi.json</c> and a Postman collection.
/// </summary>
internal static class OpenApiSetup
{
    public const string DocumentName = "v1";
    public const string Path = "/openapi.json";

    public static WebApplicationBuilder AddOpenApiDocument(this WebApplicationBuilder builder)
    {
        builder.Services.AddOpenApi(DocumentName, options =>
        {
            options.OpenApiVersion = OpenApiSpecVersion.OpenApi3_1;
            options.AddSchemaTransformer<SchemaTransformer>();
            options.AddOperationTransformer<OperationTransformer>();
            options.AddDocumentTransformer<DocumentTransformer>();
        });
        return builder;
    }

    public static IEndpointRouteBuilder MapOpenApiDocument(this IEndpointRouteBuilder app)
    {
        app.MapOpenApi(Path).Anonymous();
        return app;
    }
}
