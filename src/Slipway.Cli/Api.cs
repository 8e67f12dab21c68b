using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Slipway.Cli;

/// <summary>A refusal from the server: its error body, as the API conventions shape it.</summary>
internal sealed class ApiError(int status, JsonNode? body, string? requestId)
    : Exception(body?["error"]?["message"]?.GetValue<string>() ?? $"The server answered {status}.")
{
    public int Status { get; } = status;
    public JsonNode? Body { get; } = body;
    public string? RequestId { get; } = body?["error"]?["request_id"]?.GetValue<string>() ?? requestId;
    public string? Code => Body?["error"]?["code"]?.GetValue<string>();

    /// <summary>The message, each field error, and the request id to quote when asking for help.</summary>
    public string Describe()
    {
        var text = new StringBuilder(Message);
        foreach (var detail in Body?["error"]?["details"]?.AsArray() ?? [])
        {
            text.Append($"\n  {detail?["field"]}: {detail?["message"]}");
        }
        if (RequestId is not null) text.Append($"\n  (request {RequestId})");
        return text.ToString();
    }
}

/// <summary>A mistake on the command line or in the local setup: the message says what to do.</summary>
internal sealed class CliError(string message) : Exception(message);

/// <summary>The REST API at <c>{url}/api/v1</c> with the stored token; every answer is the API's JSON as it came.</summary>
internal sealed class Api : IDisposable
{
    private readonly HttpClient http;

    public Api(string url, string? token)
    {
        if (!Uri.TryCreate(url.TrimEnd('/') + "/", UriKind.Absolute, out var baseAddress) || baseAddress.Scheme is not ("http" or "https"))
        {
            throw new CliError($"'{url}' is not an http(s) URL.");
        }
        Url = baseAddress.ToString().TrimEnd('/');
        // Follow streams have no end in sight: timeouts are per call (CancellationToken), not per client.
        http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = baseAddress, Timeout = Timeout.InfiniteTimeSpan };
        http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("slipway-cli", "0.1"));
        if (token is not null) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
    }

    public string Url { get; }

    public Task<JsonNode> GetAsync(string path, CancellationToken ct) => SendAsync(HttpMethod.Get, path, null, ct)!;

    public Task<JsonNode> PostAsync(string path, JsonObject? body, CancellationToken ct) => SendAsync(HttpMethod.Post, path, body ?? [], ct)!;

    /// <summary>DELETE, with a body where the API wants one (env vars); null for 204.</summary>
    public Task<JsonNode?> DeleteAsync(string path, JsonObject? body, CancellationToken ct) => SendAsync(HttpMethod.Delete, path, body, ct);

    /// <summary>Every item of a list endpoint, page after page.</summary>
    public async Task<JsonArray> ListAsync(string path, CancellationToken ct, int max = 1000)
    {
        var all = new JsonArray();
        string? cursor = null;
        do
        {
            var separator = path.Contains('?', StringComparison.Ordinal) ? '&' : '?';
            var page = await GetAsync($"{path}{separator}limit=100{(cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor))}", ct);
            foreach (var item in page["data"]!.AsArray()) all.Add(item?.DeepClone());
            cursor = page["next_cursor"]?.GetValue<string>();
        }
        while (cursor is not null && all.Count < max);
        return all;
    }

    /// <summary>An NDJSON stream (<c>?follow=true</c>), one JSON object per line until the server ends it.</summary>
    public async IAsyncEnumerable<JsonNode> StreamAsync(string path, [EnumeratorCancellation] CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Relative(path));
        using var response = await CallAsync(() => http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct));
        if (!response.IsSuccessStatusCode) throw await ErrorAsync(response, ct);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct));
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            if (line.Length > 0 && JsonNode.Parse(line) is { } message) yield return message;
        }
    }

    /// <summary>A <c>multipart/form-data</c> POST of <paramref name="fields"/> and <paramref name="file"/> as the part <c>file</c>.</summary>
    public async Task<JsonNode> UploadAsync(string path, IReadOnlyDictionary<string, string> fields, string file, CancellationToken ct)
    {
        using var form = new MultipartFormDataContent();
        foreach (var (name, value) in fields) form.Add(new StringContent(value), name);
        var part = new StreamContent(File.OpenRead(file));
        part.Headers.ContentType = new MediaTypeHeaderValue("application/gzip");
        form.Add(part, "file", Path.GetFileName(file));
        return (await RequestAsync(HttpMethod.Post, path, form, ct))!;
    }

    private Task<JsonNode?> SendAsync(HttpMethod method, string path, JsonObject? body, CancellationToken ct) =>
        RequestAsync(method, path, body is null ? null : new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"), ct);

    private async Task<JsonNode?> RequestAsync(HttpMethod method, string path, HttpContent? content, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, Relative(path)) { Content = content };
        using var response = await CallAsync(() => http.SendAsync(request, ct));
        if (!response.IsSuccessStatusCode) throw await ErrorAsync(response, ct);
        if (response.StatusCode == HttpStatusCode.NoContent) return null;
        var text = await response.Content.ReadAsStringAsync(ct);
        return text.Length == 0 ? null : JsonNode.Parse(text);
    }

    private static string Relative(string path) => "api/v1/" + path.TrimStart('/');

    private async Task<HttpResponseMessage> CallAsync(Func<Task<HttpResponseMessage>> call)
    {
        try
        {
            return await call();
        }
        catch (HttpRequestException e)
        {
            throw new CliError($"Cannot reach {Url}: {e.Message}");
        }
    }

    private static async Task<ApiError> ErrorAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var text = await response.Content.ReadAsStringAsync(ct);
        JsonNode? body;
        try
        {
            body = text.Length == 0 ? null : JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            body = null;
        }
        var requestId = response.Headers.TryGetValues("X-Request-Id", out var ids) ? ids.FirstOrDefault() : null;
        return new ApiError((int)response.StatusCode, body, requestId);
    }

    public void Dispose() => http.Dispose();
}
