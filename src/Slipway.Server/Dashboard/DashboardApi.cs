using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Slipway.Server.Dashboard;

/// <summary>An API error as the dashboard shows it: the status and the API's own message.</summary>
internal sealed class DashboardApiException(int status, string code, string message) : Exception(message)
{
    public int Status { get; } = status;
    public string Code { get; } = code;
}

/// <summary>
/// The public API behind the dashboard: every read and write goes to this server's own listener on loopback with the
/// signed-in user's token, so roles, validation, idempotency and rate limits are the API's, with no rule repeated here.
/// </summary>
internal sealed class DashboardApi(IServer server) : IDisposable
{
    private readonly Lazy<HttpClient> client = new(() => new HttpClient(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
    })
    {
        BaseAddress = Loopback(server),
        Timeout = TimeSpan.FromSeconds(30),
    });

    public async Task<JsonNode> GetAsync(string token, string path, CancellationToken ct) =>
        await SendAsync(token, HttpMethod.Get, path, null, ct) ?? throw new DashboardApiException(502, "internal_error", "The API answered with no body.");

    public async Task<JsonNode?> SendAsync(string token, HttpMethod method, string path, object? body, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (body is not null) request.Content = JsonContent.Create(body);
        using var response = await client.Value.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        // Parsed from the stream: a page of 100 deployments read as one string would be a large-object-heap allocation per render.
        await using var stream = await response.Content.ReadAsStreamAsync(ct);
        var json = response.StatusCode == HttpStatusCode.NoContent || response.Content.Headers.ContentLength == 0
            ? null
            : await JsonNode.ParseAsync(stream, cancellationToken: ct);
        if (!response.IsSuccessStatusCode)
        {
            var error = json?["error"];
            var details = error?["details"]?.AsArray().Select(d => $"{d?["field"]}: {d?["message"]}") ?? [];
            throw new DashboardApiException((int)response.StatusCode, error?["code"]?.GetValue<string>() ?? "internal_error",
                string.Join(" ", [error?["message"]?.GetValue<string>() ?? $"The API answered {(int)response.StatusCode}.", .. details]));
        }
        return json;
    }

    /// <summary>The SSE log stream of a deployment, to be copied to the browser (headers read, body still streaming).</summary>
    public async Task<HttpResponseMessage> StreamAsync(string token, string path, string? lastEventId, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (lastEventId is { Length: > 0 }) request.Headers.TryAddWithoutValidation("Last-Event-ID", lastEventId);
        return await client.Value.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
    }

    /// <summary>The first address the API listens on, with a wildcard host turned into loopback.</summary>
    private static Uri Loopback(IServer server)
    {
        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses
                        ?? throw new InvalidOperationException("The server has no addresses yet.");
        var address = addresses.FirstOrDefault(a => a.StartsWith("http://", StringComparison.OrdinalIgnoreCase)) ?? addresses.First();
        var uri = new Uri(address.Replace("://+", "://localhost", StringComparison.Ordinal).Replace("://*", "://localhost", StringComparison.Ordinal));
        var builder = new UriBuilder(uri);
        if (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && (ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any)))
        {
            builder.Host = ip.Equals(IPAddress.Any) ? "127.0.0.1" : "[::1]";
        }
        else if (uri.Host == "localhost")
        {
            builder.Host = "127.0.0.1";
        }
        return builder.Uri;
    }

    public void Dispose()
    {
        if (client.IsValueCreated) client.Value.Dispose();
    }
}
