using System.Diagnostics;
using Slipway.Server.Auth;
using Slipway.Server.Data;
using Slipway.Server.Hosting;

namespace Slipway.Server.Observability;

internal sealed record ReadyResponse(string Status, string? Reason);

/// <summary>
/// <c>/health</c> (are the dependencies working), <c>/ready</c> (should traffic come here), <c>/metrics</c>
/// (Prometheus text format) and the middleware that counts, times and logs every request.
/// </summary>
internal static class ObservabilityEndpoints
{
    /// <summary>
    /// Framework categories that would add their own lines for every request (hosting start/finish, endpoint
    /// execution, each SQL command) default to Warning, so the request log is one line per request. Operators can
    /// still turn them up in configuration: these defaults apply only where nothing is configured.
    /// </summary>
    private static readonly string[] ChattyCategories =
        ["Microsoft.AspNetCore", "Microsoft.EntityFrameworkCore.Database.Command", "Microsoft.EntityFrameworkCore.Infrastructure"];

    public static WebApplicationBuilder AddObservability(this WebApplicationBuilder builder)
    {
        var quiet = ChattyCategories.Select(c => $"Logging:LogLevel:{c}").Where(key => builder.Configuration[key] is null)
            .ToDictionary(key => key, _ => (string?)"Warning");
        if (quiet.Count > 0) builder.Configuration.AddInMemoryCollection(quiet);
        builder.Services.AddSingleton(builder.Configuration.GetSection(ObservabilityOptions.SectionName).Get<ObservabilityOptions>()
                                      ?? new ObservabilityOptions());
        builder.Services.AddSingleton<HttpMetrics>();
        builder.Services.AddSingleton<HealthChecks>();
        builder.Services.AddHostedService<ShutdownDrain>();
        return builder;
    }

    /// <summary>
    /// Outside the error middleware, so the status recorded is the one the client gets. An exception that still
    /// escapes becomes Kestrel's 500; a client that left before the response started is counted as 499.
    /// </summary>
    public static IApplicationBuilder UseObservability(this IApplicationBuilder app)
    {
        var metrics = app.ApplicationServices.GetRequiredService<HttpMetrics>();
        var logger = app.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger("Slipway.Requests");
        return app.Use(async (context, next) =>
        {
            var started = Stopwatch.GetTimestamp();
            metrics.Started();
            var failed = true;
            try
            {
                await next(context);
                failed = false;
            }
            finally
            {
                var elapsed = Stopwatch.GetTimestamp() - started;
                var response = context.Response;
                var status = response.HasStarted ? response.StatusCode
                    : context.RequestAborted.IsCancellationRequested ? HttpMetrics.ClientClosedRequest
                    : failed ? StatusCodes.Status500InternalServerError
                    : response.StatusCode;
                var route = HttpMetrics.RouteLabel(context);
                metrics.Finished(context.Request.Method, route, status, elapsed);
                if (logger.IsEnabled(LogLevel.Information))
                {
                    logger.RequestFinished(context.Request.Method, route, context.Request.Path.Value ?? "/", status,
                        elapsed * 1000.0 / Stopwatch.Frequency, RequestIds.Get(context));
                }
            }
        });
    }

    public static IEndpointRouteBuilder MapObservabilityEndpoints(this IEndpointRouteBuilder app)
    {
        // The answer is the report itself, 503 included (not the error shape): monitors read both the same way.
        app.MapGet("/health", HealthAsync).Anonymous().WithTags("Health")
            .Produces<HealthResponse>(StatusCodes.Status200OK).Produces<HealthResponse>(StatusCodes.Status503ServiceUnavailable);
        app.MapGet("/ready", Ready).Anonymous().WithTags("Health")
            .Produces<ReadyResponse>(StatusCodes.Status200OK).Produces<ReadyResponse>(StatusCodes.Status503ServiceUnavailable);
        app.MapGet("/metrics", Metrics).Anonymous().WithTags("Health").Produces<string>(StatusCodes.Status200OK, "text/plain");
        return app;
    }

    private static async Task<IResult> HealthAsync(HealthChecks checks, SlipwayDb db, HttpContext context, CancellationToken ct)
    {
        NoStore(context);
        var report = await checks.CheckAsync(db, ct);
        return Results.Json(report, statusCode: report.Status == HealthChecks.Healthy ? 200 : 503);
    }

    private static IResult Ready(Readiness readiness, HttpContext context)
    {
        NoStore(context);
        return readiness.IsReady
            ? Results.Ok(new ReadyResponse("ready", null))
            : Results.Json(new ReadyResponse("not_ready", readiness.Reason ?? "not ready"), statusCode: 503);
    }

    private static IResult Metrics(HttpMetrics metrics, Deployments.DeploymentMetrics engine, Routing.RouterMetrics router,
        Webhooks.WebhookMetrics webhooks, HttpContext context)
    {
        NoStore(context);
        var writer = new PrometheusWriter();
        metrics.WriteTo(writer);
        engine.WriteTo(writer);
        router.WriteTo(writer);
        webhooks.WriteTo(writer);
        RuntimeMetrics.WriteTo(writer);
        return Results.Text(writer.ToString(), PrometheusWriter.ContentType);
    }

    private static void NoStore(HttpContext context) => context.Response.Headers.CacheControl = "no-store";
}
