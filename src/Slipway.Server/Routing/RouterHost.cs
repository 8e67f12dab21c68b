using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Slipway.Server.Routing;

/// <summary>
/// The router's own Kestrel server on <see cref="RouterOptions.Urls"/>, apart from the API: a bare application (no
/// routing, auth or API middleware) whose one handler looks the Host up in the <see cref="RouteTable"/>. It shares the
/// API host's singletons and logging, and starts and stops with it.
/// </summary>
internal sealed class RouterHost(RouterOptions options, RouteTable routes, Forwarder forwarder, StaticSite staticSite, RouterMetrics metrics,
    ILoggerFactory loggerFactory, ILogger<RouterHost> logger) : IHostedService, IAsyncDisposable
{
    private WebApplication? app;

    /// <summary>The addresses actually bound (with the real port when configured with port 0); empty until started.</summary>
    public IReadOnlyList<Uri> Addresses { get; private set; } = [];

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = typeof(RouterHost).Assembly.GetName().Name });
        builder.Services.RemoveAll<ILoggerFactory>();
        builder.Services.AddSingleton(loggerFactory);
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes;
            kestrel.Limits.MaxRequestHeadersTotalSize = options.MaxRequestHeadersBytes;
            kestrel.Limits.RequestHeadersTimeout = options.RequestHeadersTimeout;
            kestrel.Limits.KeepAliveTimeout = options.KeepAliveTimeout;
        });
        builder.WebHost.UseUrls(options.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        app = builder.Build();
        app.Run(HandleAsync);
        await app.StartAsync(cancellationToken);
        Addresses = app.Urls.Select(url => new Uri(url)).ToArray();
        var listening = string.Join(", ", Addresses);
        RouterLog.Listening(logger, listening);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (app is not null) await app.StopAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (app is not null) await app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        var target = routes.Lookup(context.Request.Headers.Host.ToString());
        var failed = true;
        try
        {
            await ServeAsync(context, target);
            failed = false;
        }
        finally
        {
            // The status the client got: an exception that escapes before the response started becomes Kestrel's 500.
            var status = failed && !context.Response.HasStarted ? StatusCodes.Status500InternalServerError : context.Response.StatusCode;
            metrics.Record(target?.Project ?? RouterMetrics.UnknownHost, status, Stopwatch.GetTimestamp() - started);
        }
    }

    private Task ServeAsync(HttpContext context, RouteTarget? target)
    {
        if (target is null) return ErrorPages.NotFoundAsync(context);
        if (target.Upstream is { } upstream) return forwarder.ForwardAsync(context, upstream);
        if (target.StaticDirectory is { } directory) return staticSite.ServeAsync(context, directory);
        return ErrorPages.NoLiveReleaseAsync(context);
    }
}
