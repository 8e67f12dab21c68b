using Microsoft.OpenApi;
using Scalar.AspNetCore;
using Slipway.Server.Auth;

namespace Slipway.Server.OpenApi;

/// <summary>
/// <c>GET /openapi.json</c> (also <c>/api/v1/openapi.json</c>): the OpenAPI 3.1 document of every endpoint, built from
/// endpoint metadata by the transformers in this folder; <c>/docs</c>: the Scalar API reference over it (its script is
/// served from the package, nothing from a CDN). <c>scripts/update-api-docs.sh</c> exports the document to
/// <c>docs/openapi.json</c> and a Postman collection.
/// </summary>
internal static class OpenApiSetup
{
    public const string DocumentName = "v1";
    public const string Path = "/openapi.json";
    public const string ApiPath = "/api/v1/openapi.json";
    public const string ReferencePath = "/docs";

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
        app.MapOpenApi(ApiPath).Anonymous();
        app.MapScalarApiReference(ReferencePath, options => options.WithTitle("Slipway API").WithOpenApiRoutePattern(Path)).Anonymous();
        return app;
    }
}
