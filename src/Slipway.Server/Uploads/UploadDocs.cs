using Microsoft.OpenApi;

namespace Slipway.Server.Uploads;

/// <summary>
/// Request bodies these endpoints read themselves (a streamed multipart form, the reference document's camelCase JSON),
/// described inline in the OpenAPI document. Not <c>Accepts&lt;T&gt;</c>: its content-type matching would answer 415 before
/// authentication could answer 401.
/// </summary>
internal static class UploadDocs
{
    public static TBuilder RequestBody<TBuilder>(this TBuilder builder, string contentType, params (string Name, JsonSchemaType Type, string Description)[] fields)
        where TBuilder : IEndpointConventionBuilder =>
        builder.AddOpenApiOperationTransformer((operation, _, _) =>
        {
            var schema = new OpenApiSchema { Type = JsonSchemaType.Object, Properties = new Dictionary<string, IOpenApiSchema>() };
            foreach (var (name, type, description) in fields)
            {
                schema.Properties[name] = type == JsonSchemaType.Object
                    ? new OpenApiSchema { Type = JsonSchemaType.String, Format = "binary", Description = description }
                    : new OpenApiSchema { Type = type, Description = description };
            }
            operation.RequestBody = new OpenApiRequestBody
            {
                Required = true, Content = new Dictionary<string, OpenApiMediaType> { [contentType] = new() { Schema = schema } },
            };
            return Task.CompletedTask;
        });

    /// <summary>The file part of a form (described as a binary string).</summary>
    public const JsonSchemaType File = JsonSchemaType.Object;
}
