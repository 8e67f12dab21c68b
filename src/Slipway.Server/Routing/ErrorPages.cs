using System.Net;
using System.Text;

namespace Slipway.Server.Routing;

/// <summary>The router's own small HTML pages, for when there is no application answer to relay.</summary>
internal static class ErrorPages
{
    public static Task WriteAsync(HttpContext context, int status, string title, string detail)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = "text/html; charset=utf-8";
        response.Headers.CacheControl = "no-store";
        if (status == StatusCodes.Status503ServiceUnavailable) response.Headers.RetryAfter = "5";
        var body = Encoding.UTF8.GetBytes(Render(status, title, detail));
        response.ContentLength = body.Length;
        return HttpMethods.IsHead(context.Request.Method) ? Task.CompletedTask : response.Body.WriteAsync(body, context.RequestAborted).AsTask();
    }

    public static Task NotFoundAsync(HttpContext context) =>
        WriteAsync(context, StatusCodes.Status404NotFound, "Not found", "There is nothing at this address.");

    public static Task NoLiveReleaseAsync(HttpContext context) =>
        WriteAsync(context, StatusCodes.Status503ServiceUnavailable, "No live release", "This site has no live release right now.");

    public static Task BadGatewayAsync(HttpContext context) =>
        WriteAsync(context, StatusCodes.Status502BadGateway, "Bad gateway", "The application is not answering. It may be starting or down.");

    public static Task GatewayTimeoutAsync(HttpContext context) =>
        WriteAsync(context, StatusCodes.Status504GatewayTimeout, "Gateway timeout", "The application took too long to answer.");

    private static string Render(int status, string title, string detail) => $$"""
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>{{status}} {{title}}</title>
        <style>body{font-family:system-ui,sans-serif;margin:15vh auto;max-width:32rem;color:#222}h1{font-size:1.4rem}p{color:#555}</style>
        </head><body><h1>{{status}} {{WebUtility.HtmlEncode(title)}}</h1><p>{{WebUtility.HtmlEncode(detail)}}</p><p><small>Slipway router</small></p></body></html>

        """;
}
