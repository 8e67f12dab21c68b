namespace Slipway.Server.EnvVars;

internal static class EnvVarEndpoints
{
    public static WebApplicationBuilder AddEnvVars(this WebApplicationBuilder builder) => builder;

    public static IEndpointRouteBuilder MapEnvVarEndpoints(this IEndpointRouteBuilder app) => app;
}
