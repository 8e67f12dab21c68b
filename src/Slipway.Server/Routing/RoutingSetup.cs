namespace Slipway.Server.Routing;

internal static class RoutingSetup
{
    /// <summary>
    /// The router: <see cref="RouteTable"/> (the orchestrator calls <see cref="RouteTable.Replace"/>) and its own
    /// listener, <see cref="RouterHost"/>, started with the host.
    /// </summary>
    public static WebApplicationBuilder AddSlipwayRouter(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(RouterOptions.SectionName).Get<RouterOptions>() ?? new RouterOptions();
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<RouteTable>();
        builder.Services.AddSingleton<Forwarder>();
        builder.Services.AddSingleton<StaticSite>();
        builder.Services.AddSingleton<RouterMetrics>();
        builder.Services.AddSingleton<RouterHost>();
        builder.Services.AddHostedService(services => services.GetRequiredService<RouterHost>());
        return builder;
    }
}
