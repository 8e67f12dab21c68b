using Slipway.Server.Auth;
using Slipway.Server.Hosting;

namespace Slipway.Server.Dashboard;

/// <summary>
/// The browser's session: the user's JWT in an HttpOnly, SameSite=Strict cookie (Secure over https). Only the dashboard
/// reads it; the API stays bearer-only, so a cookie never authenticates an /api call (which would make the API CSRF-able).
/// </summary>
internal static class DashboardSession
{
    public const string CookieName = "slipway_session";

    public static void SignIn(HttpContext http, string token, TimeSpan lifetime) =>
        http.Response.Cookies.Append(CookieName, token, Options(http, DateTimeOffset.UtcNow + lifetime));

    public static void SignOut(HttpContext http) => http.Response.Cookies.Delete(CookieName, Options(http, null));

    public static string? Token(HttpContext http) => http.Request.Cookies[CookieName] is { Length: > 0 } token ? token : null;

    /// <summary>The signed-in caller and their token, or null (no cookie, or a token the API would refuse: expired, password changed).</summary>
    public static async Task<(Caller Caller, string Token)?> CallerAsync(HttpContext http)
    {
        if (Token(http) is not { } token) return null;
        try
        {
            return (await Authentication.AuthenticateTokenAsync(http.RequestServices, token, http.RequestAborted), token);
        }
        catch (ApiException)
        {
            return null;
        }
    }

    private static CookieOptions Options(HttpContext http, DateTimeOffset? expires) => new()
    {
        HttpOnly = true, SameSite = SameSiteMode.Strict, Secure = http.Request.IsHttps, Path = "/", Expires = expires, IsEssential = true,
    };
}
