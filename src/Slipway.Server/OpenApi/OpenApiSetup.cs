using Slipway.Server.Auth;

namespace Slipway.Server.OpenApi;

internal static class OpenApiSetup
{
    public static WebApplicationBuilder AddOpenApiDocument(this WebApplicationBuilder builder)
    {
        builder.Services.AddOpenApi("v1");
        return builder;
    }

    public static IEndpointRouteBuilder MapOpenApiDocument(this IEndpointRouteBuilder app)
    {
        app.MapOpenApi("/openapi.json").Anonymous();
        return app;
    }
}
