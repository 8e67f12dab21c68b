namespace Slipway.Server.ApiKeys;

internal static class ApiKeyEndpoints
{
    public static WebApplicationBuilder AddApiKeys(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<ApiKeyAuthenticator>();
        return builder;
    }

    public static IEndpointRouteBuilder MapApiKeyEndpoints(this IEndpointRouteBuilder app) => app;
}
