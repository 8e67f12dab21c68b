using System.Net.Http.Headers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.GitHub;

/// <summary>
/// GitHub's side of a delivery, from the npm packages GitHub's own tooling uses: example payloads from
/// <c>@octokit/webhooks-examples</c> and <c>X-Hub-Signature-256</c> from <c>@octokit/webhooks-methods</c>' <c>sign</c>.
/// One node process per instance answers requests line by line (JSON in, one line out).
/// </summary>
public sealed class OctokitWebhooks : IAsyncDisposable
{
    private static readonly JsonSerializerOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private readonly NodeScript node;
    private readonly SemaphoreSlim gate = new(1, 1);
    private readonly Dictionary<string, JsonArray> examples = new(StringComparer.Ordinal);

    private OctokitWebhooks(NodeScript node) => this.node = node;

    public static OctokitWebhooks Start() => new(NodeScript.Start("""
        import { createRequire } from 'node:module';
        import readline from 'node:readline';
        import { sign } from '@octokit/webhooks-methods';
        const require = createRequire(import.meta.url);
        const all = require('@octokit/webhooks-examples');
        for await (const line of readline.createInterface({ input: process.stdin })) {
          const request = JSON.parse(line);
          if (request.op === 'examples') {
            const entry = all.find(e => e.name === request.event);
            if (!entry) throw new Error(`no examples for ${request.event}`);
            console.log(JSON.stringify(entry.examples));
          } else {
            console.log(await sign(request.secret, request.body));
          }
        }
        """));

    /// <summary>A copy of the first example payload of the event that matches (the package holds several per event).</summary>
    public async Task<JsonObject> ExampleAsync(string eventName, Func<JsonObject, bool>? pick = null)
    {
        JsonArray list;
        await gate.WaitAsync();
        try
        {
            if (!examples.TryGetValue(eventName, out list!))
            {
                await node.WriteLineAsync(JsonSerializer.Serialize(new { op = "examples", @event = eventName }));
                list = JsonNode.Parse(await node.ReadLineAsync(TimeSpan.FromSeconds(30)) ?? throw new InvalidOperationException("node ended"))!.AsArray();
                examples[eventName] = list;
            }
        }
        finally
        {
            gate.Release();
        }
        var found = list.Select(e => e!.AsObject()).FirstOrDefault(e => pick?.Invoke(e) ?? true)
                    ?? throw new InvalidOperationException($"no {eventName} example matches");
        return found.DeepClone().AsObject();
    }

    /// <summary>The <c>X-Hub-Signature-256</c> value for the body, as <c>@octokit/webhooks-methods</c> computes it.</summary>
    public async Task<string> SignAsync(string secret, string body)
    {
        await gate.WaitAsync();
        try
        {
            await node.WriteLineAsync(JsonSerializer.Serialize(new { op = "sign", secret, body }));
            return await node.ReadLineAsync(TimeSpan.FromSeconds(30)) ?? throw new InvalidOperationException("node ended");
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Serializes a payload the way JSON.stringify would (no escaping of non-ASCII, '+', '&lt;' …).</summary>
    public static string Serialize(JsonNode payload) => payload.ToJsonString(Compact);

    /// <summary>POSTs a delivery the way GitHub does; <paramref name="signature"/> overrides the real one (null: leave it out).</summary>
    public async Task<ApiResponse> DeliverAsync(SlipwayServer server, string url, string secret, string eventName, JsonNode payload,
        string? deliveryId = null, Optional<string?> signature = default, string contentType = "application/json")
    {
        var body = Serialize(payload);
        var headers = new Dictionary<string, string>
        {
            ["X-GitHub-Event"] = eventName,
            ["X-GitHub-Delivery"] = deliveryId ?? Guid.NewGuid().ToString(),
            ["X-GitHub-Hook-ID"] = "109948940",
            ["User-Agent"] = "GitHub-Hookshot/044aadd",
        };
        var sig = signature.HasValue ? signature.Value : await SignAsync(secret, body);
        if (sig is not null) headers["X-Hub-Signature-256"] = sig;
        var content = new StringContent(body, Encoding.UTF8);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        return await server.SendAsync(HttpMethod.Post, new Uri(url).PathAndQuery, content, headers: headers);
    }

    public async ValueTask DisposeAsync()
    {
        await node.DisposeAsync();
        gate.Dispose();
    }
}

/// <summary>A value that may be given (even as null) or not given at all.</summary>
public readonly record struct Optional<T>(T Value)
{
    public bool HasValue { get; } = true;

    public static implicit operator Optional<T>(T value) => new(value);
}
