using System.Reflection;
using Microsoft.AspNetCore.Antiforgery;
using Slipway.Server.Auth;
using Slipway.Server.Hosting;

namespace Slipway.Server.Dashboard;

/// <summary>
/// The web dashboard at <c>/</c>: Razor components rendered on the server (static SSR, plain form posts with antiforgery
/// tokens, one small script for the live log), signed in with the <see cref="DashboardSession"/> cookie, working through
/// the public API (<see cref="DashboardApi"/>). Its routes are not API operations: they are left out of the OpenAPI document.
/// </summary>
internal static class DashboardSetup
{
    private static readonly Assembly Assembly = typeof(DashboardSetup).Assembly;

    public static WebApplicationBuilder AddDashboard(this WebApplicationBuilder builder)
    {
        builder.Services.AddRazorComponents();
        builder.Services.AddAntiforgery(o =>
        {
            o.Cookie.Name = "slipway_antiforgery";
            o.Cookie.SameSite = SameSiteMode.Strict;
        });
        builder.Services.AddSingleton<DashboardApi>();
        return builder;
    }

    public static WebApplication MapDashboard(this WebApplication app)
    {
        app.UseAntiforgery();
        // A refused form answers in the one error shape, before any handler runs (a cross-site post never reaches one).
        app.Use((context, next) => context.Features.Get<IAntiforgeryValidationFeature>() is { IsValid: false }
            ? throw new ApiException(400, "validation_failed", "The form's antiforgery token is missing or invalid: reload the page and submit it again.")
            : next(context));
        app.MapRazorComponents<App>().Anonymous().ExcludeFromDescription();
        app.MapPost("/logout", SignOut).Anonymous().ExcludeFromDescription().WithMetadata(new RequireAntiforgeryTokenAttribute());
        app.MapGet("/deployments/{id}/log", StreamLogAsync).Anonymous().ExcludeFromDescription();
        app.MapGet("/_dashboard/{file}", Asset).Anonymous().ExcludeFromDescription();
        return app;
    }

    private static IResult SignOut(HttpContext http)
    {
        DashboardSession.SignOut(http);
        return Results.Redirect("/login");
    }

    /// <summary>The API's SSE log stream (<c>/api/v1/logs/{id}/events</c>) for the cookie's user, copied as it comes.</summary>
    private static async Task StreamLogAsync(string id, HttpContext http, DashboardApi api, CancellationToken ct)
    {
        var token = DashboardSession.Token(http) ?? throw ApiException.Unauthenticated("Sign in to the dashboard first.");
        using var upstream = await api.StreamAsync(token, $"/api/v1/logs/{Uri.EscapeDataString(id)}/events",
            http.Request.Headers["Last-Event-ID"].ToString(), ct);
        http.Response.StatusCode = (int)upstream.StatusCode;
        http.Response.ContentType = upstream.Content.Headers.ContentType?.ToString();
        http.Response.Headers.CacheControl = "no-store";
        http.Response.Headers["X-Accel-Buffering"] = "no";
        await http.Response.StartAsync(ct);
        await using var body = await upstream.Content.ReadAsStreamAsync(ct);
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await body.ReadAsync(buffer, ct)) > 0)
        {
            await http.Response.Body.WriteAsync(buffer.AsMemory(0, read), ct);
            await http.Response.Body.FlushAsync(ct);
        }
    }

    private static IResult Asset(string file)
    {
        var type = Path.GetExtension(file) switch
        {
            ".css" => "text/css; charset=utf-8",
            ".js" => "text/javascript; charset=utf-8",
            _ => null,
        };
        var stream = type is null ? null : Assembly.GetManifestResourceStream("dashboard/" + file);
        return stream is null ? throw ApiException.NotFound($"No dashboard file '{file}'.") : Results.Stream(stream, type);
    }
}
