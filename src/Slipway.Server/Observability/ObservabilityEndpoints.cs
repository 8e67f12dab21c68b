using Slipway.Server.Auth;
using Slipway.Server.Hosting;

namespace Slipway.Server.Observability;

internal sealed record ReadyResponse(string Status, string? Reason);

internal static class ObservabilityEndpoints
{
    public static WebApplicationBuilder AddObservability(this WebApplicationBuilder builder) => builder;

    public static IApplicationBuilder UseObservability(this IApplicationBuilder app) => app;

    public static IEndpointRouteBuilder MapObservabilityEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/ready", (Readiness readiness) => readiness.IsReady
            ? Results.Ok(new ReadyResponse("ready", null))
            : Results.Json(new ReadyResponse("not_ready", readiness.Reason), statusCode: 503)).Anonymous().WithTags("Health");
        return app;
    }
}
