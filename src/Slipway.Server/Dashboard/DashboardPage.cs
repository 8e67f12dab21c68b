using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Components;
using Slipway.Server.Auth;
using Slipway.Server.Hosting;
using Slipway.Server.Workspaces;

namespace Slipway.Server.Dashboard;

/// <summary>
/// What every signed-in page shares: the session, the API with the user's token, and one way to show an API error
/// (its message on the page, its status as the page's status).
/// </summary>
public abstract class DashboardPage : ComponentBase
{
    [CascadingParameter]
    public HttpContext HttpContext { get; set; } = null!;

    [Inject]
    internal DashboardApi Api { get; set; } = null!;

    [Inject]
    internal NavigationManager Navigation { get; set; } = null!;

    internal Caller? Caller { get; private set; }

    protected string? Error { get; private set; }

    private string token = "";

    protected CancellationToken Aborted => HttpContext.RequestAborted;

    protected bool IsPost => HttpMethods.IsPost(HttpContext.Request.Method);

    /// <summary>Resolves the cookie's user, or sends the browser to the sign-in page.</summary>
    protected async Task<bool> SignInAsync()
    {
        if (await DashboardSession.CallerAsync(HttpContext) is not { } session)
        {
            DashboardSession.SignOut(HttpContext);
            Navigation.NavigateTo("/login");
            return false;
        }
        (Caller, token) = session;
        return true;
    }

    /// <summary>Runs an API call; an API error becomes the page's message and status (a 401 signs the browser out).</summary>
    protected async Task<bool> TryAsync(Func<Task> action)
    {
        try
        {
            await action();
            return true;
        }
        catch (DashboardApiException ex) when (ex.Status == 401)
        {
            DashboardSession.SignOut(HttpContext);
            Navigation.NavigateTo("/login");
            return false;
        }
        catch (DashboardApiException ex)
        {
            Fail(ex.Status, ex.Message);
            return false;
        }
        catch (ApiException ex)
        {
            Fail(ex.Status, string.Join(" ", [ex.Message, .. (ex.Details ?? []).Select(d => $"{d.Field}: {d.Message}")]));
            return false;
        }
        catch (RateLimitedException ex)
        {
            Fail(429, ex.Message);
            return false;
        }
    }

    protected void Fail(int status, string message)
    {
        Error = message;
        HttpContext.Response.StatusCode = status;
    }

    protected Task<JsonNode> GetAsync(string path) => Api.GetAsync(token, path, Aborted);

    protected Task<JsonNode?> SendAsync(HttpMethod method, string path, object? body = null) => Api.SendAsync(token, method, path, body, Aborted);

    /// <summary>Whether to offer write buttons; the API still decides every write.</summary>
    protected async Task<bool> CanWriteAsync(string workspaceId) =>
        Caller is not null && await HttpContext.RequestServices.GetRequiredService<Access>().RoleAsync(Caller, workspaceId, Aborted)
            is WorkspaceRole.Owner or WorkspaceRole.Admin or WorkspaceRole.Developer;

    protected static string Text(JsonNode? node) => node?.GetValueKind() switch
    {
        null or System.Text.Json.JsonValueKind.Null => "",
        System.Text.Json.JsonValueKind.String => node.GetValue<string>(),
        _ => node.ToJsonString(),
    };

    protected static string Short(JsonNode? sha) => Text(sha) is { Length: > 7 } s ? s[..7] : Text(sha);

    protected static DateTime? Time(JsonNode? node) =>
        Text(node) is { Length: > 0 } s ? DateTime.Parse(s, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal) : null;

    protected static string Age(JsonNode? node) => Time(node) is not { } t ? "" : (DateTime.UtcNow - t) switch
    {
        { TotalMinutes: < 1 } => "just now",
        { TotalHours: < 1 } a => $"{(int)a.TotalMinutes} min ago",
        { TotalDays: < 1 } a => $"{(int)a.TotalHours} h ago",
        var a => $"{(int)a.TotalDays} d ago",
    };

    protected static string Duration(JsonNode deployment) =>
        Time(deployment["started_at"]) is { } start && Time(deployment["finished_at"]) is { } end ? Seconds(end - start) : "";

    protected static string Seconds(TimeSpan span) => span.TotalSeconds < 60
        ? span.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s"
        : $"{(int)span.TotalMinutes} min {span.Seconds} s";

    /// <summary>
    /// A status as words with a colour for those who see it (colour is never the only signal). A fragment, not a component:
    /// a page of 100 deployments would otherwise build 100 components, each resolving cascading values.
    /// </summary>
    protected static RenderFragment Badge(string status) => builder =>
    {
        builder.OpenElement(0, "span");
        builder.AddAttribute(1, "class", status switch
        {
            "ready" or "running" or "live" => "badge badge-good",
            "failed" or "crashed" or "stopped" => "badge badge-bad",
            "canceled" or "not live" => "badge badge-muted",
            _ => "badge badge-busy",
        });
        builder.AddContent(2, status);
        builder.CloseElement();
    };

    protected static string LiveStatus(JsonNode project) => Text(project["live_status"]) is { Length: > 0 } s ? s : "not live";

    protected static bool IsTerminal(string status) => status is "ready" or "failed" or "canceled";
}
