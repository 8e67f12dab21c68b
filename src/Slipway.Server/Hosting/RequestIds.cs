using System.Security.Cryptography;

namespace Slipway.Server.Hosting;

/// <summary>Echoes a well-formed caller request id, or makes one (<c>req_</c> + random), on every response.</summary>
internal static class RequestIds
{
    public const string Header = "X-Request-Id";
    private static readonly object ItemKey = new();

    public static string Get(HttpContext context) =>
        context.Items.TryGetValue(ItemKey, out var id) && id is string s ? s : Assign(context);

    public static IApplicationBuilder UseRequestIds(this IApplicationBuilder app) => app.Use((context, next) =>
    {
        var id = Assign(context);
        context.Response.Headers[Header] = id;
        using (context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Slipway.Requests")
                   .BeginScope(new Dictionary<string, object> { ["RequestId"] = id }))
        {
            return next(context);
        }
    });

    private static string Assign(HttpContext context)
    {
        if (context.Items.TryGetValue(ItemKey, out var existing) && existing is string s) return s;
        var sent = context.Request.Headers[Header].ToString();
        var id = IsWellFormed(sent) ? sent : "req_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        context.Items[ItemKey] = id;
        return id;
    }

    internal static bool IsWellFormed(string value) =>
        value.Length is > 0 and <= 128 && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':');
}
