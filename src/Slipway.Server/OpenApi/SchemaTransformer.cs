using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Slipway.Server.OpenApi;

/// <summary>
/// Makes schemas say what <see cref="Hosting.SlipwayJson"/> really writes: its custom timestamp converter hides the type
/// of <see cref="DateTime"/> (a string, <c>yyyy-MM-ddTHH:mm:ss.fffZ</c>), and enums are always snake_case strings.
/// </summary>
internal sealed class SchemaTransformer : IOpenApiSchemaTransformer
{
    public Task TransformAsync(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
    {
        var type = context.JsonTypeInfo.Type;
        var underlying = Nullable.GetUnderlyingType(type);
        var nullable = underlying is not null;
        type = underlying ?? type;
        if (type == typeof(DateTime) || type == typeof(DateTimeOffset))
        {
            schema.Type = nullable ? JsonSchemaType.String | JsonSchemaType.Null : JsonSchemaType.String;
            schema.Format = "date-time";
            schema.Description ??= "UTC, ISO 8601 with milliseconds, e.g. `2026-05-10T14:23:45.123Z`.";
        }
        else if (type.IsEnum && schema.Enum is { Count: > 0 })
        {
            // The enum's component lists its values only: a nullable property already says "null or this" with a oneOf
            // around the reference, and a null among the values would make the shared component nullable everywhere.
            schema.Type = JsonSchemaType.String;
            for (var i = schema.Enum.Count - 1; i >= 0; i--)
            {
                if (schema.Enum[i] is null || schema.Enum[i].GetValueKind() == System.Text.Json.JsonValueKind.Null) schema.Enum.RemoveAt(i);
            }
        }
        return Task.CompletedTask;
    }
}
