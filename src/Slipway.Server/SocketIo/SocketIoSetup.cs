using Slipway.Server.Auth;

namespace Slipway.Server.SocketIo;

/// <summary>
/// Socket.IO (Engine.IO v4, Socket.IO v5) at <c>/socket.io/</c> for live logs. Anonymous at the HTTP layer: the token
/// comes in the Socket.IO CONNECT. Not REST, so not in the OpenAPI document.
/// </summary>
internal static class SocketIoSetup
{
    public const string Path = "/socket.io/";

    public static WebApplicationBuilder AddSocketIo(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton(builder.Configuration.GetSection(SocketIoOptions.SectionName).Get<SocketIoOptions>() ?? new SocketIoOptions());
        builder.Services.AddSingleton<LogSockets>();
        builder.Services.AddSingleton<SocketIoServer>();
        builder.Services.AddSingleton<EngineIoServer>();
        return builder;
    }

    public static IEndpointRouteBuilder MapSocketIo(this IEndpointRouteBuilder app)
    {
        var server = app.ServiceProvider.GetRequiredService<EngineIoServer>();
        app.ServiceProvider.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.Register(() => server.CloseAll("server shutdown"));
        app.MapMethods(Path, [HttpMethods.Get, HttpMethods.Post], server.HandleAsync).Anonymous().ExcludeFromDescription();
        return app;
    }
}
