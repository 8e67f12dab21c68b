using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Webhooks;

/// <summary>One request as the Node receiver saw it: verified with the npm <c>standardwebhooks</c> package against the secrets it holds.</summary>
public sealed record ReceivedWebhook(string Id, string? Type, bool Verified, string? VerifyError, int Answered, string Signature,
    string? SlipwayEvent, string? SlipwayAction, string? SlipwaySignature, string? Timestamp, string? SlipwayTimestamp, JsonNode? Body, DateTime ReceivedAt);

/// <summary>
/// A webhook receiver written in Node with the off-the-shelf <c>standardwebhooks</c> verifier, on 127.0.0.1. It answers
/// from a plan (status, Retry-After, delay, Location) per request in order, then 200; every request is reported back.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private const string Source = """
        import http from 'node:http';
        import readline from 'node:readline';
        import { Webhook } from 'standardwebhooks';

        let secrets = JSON.parse(process.env.SECRETS || '[]');
        const plan = JSON.parse(process.env.PLAN || '[]');
        const fallback = JSON.parse(process.env.FALLBACK || '{"status":200}');
        let served = 0;
        readline.createInterface({ input: process.stdin }).on('line', line => {
          const message = JSON.parse(line);
          if (message.secrets) secrets = message.secrets;
        });
        const server = http.createServer((req, res) => {
          const chunks = [];
          req.on('data', c => chunks.push(c));
          req.on('end', () => {
            const body = Buffer.concat(chunks).toString('utf8');
            let verified = false, error = null, parsed = null;
            for (const secret of secrets) {
              try { parsed = new Webhook(secret).verify(body, req.headers); verified = true; break; } catch (e) { error = String(e.message || e); }
            }
            if (!parsed) { try { parsed = JSON.parse(body); } catch { parsed = null; } }
            const step = served < plan.length ? plan[served] : (typeof fallback.every === 'number' && served % fallback.every === 0 ? fallback.then : fallback);
            served++;
            const answer = () => {
              const headers = {};
              if (step.retryAfter !== undefined) headers['retry-after'] = String(step.retryAfter);
              if (step.location) headers['location'] = step.location;
              res.writeHead(step.status, headers);
              res.end('ok');
              console.log(JSON.stringify({
                id: req.headers['webhook-id'], type: parsed && parsed.type, verified, verify_error: verified ? null : error, answered: step.status,
                signature: req.headers['webhook-signature'] || '', slipway_event: req.headers['x-slipway-event'] || null,
                slipway_action: req.headers['x-slipway-action-type'] || null, slipway_signature: req.headers['x-slipway-signature'] || null,
                timestamp: req.headers['webhook-timestamp'] || null, slipway_timestamp: req.headers['x-slipway-timestamp'] || null,
                body: parsed, received_at: new Date().toISOString() }));
            };
            if (step.delayMs) setTimeout(answer, step.delayMs); else answer();
          });
        });
        server.keepAliveTimeout = 30000;
        server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
        """;

    private readonly NodeScript node;
    private readonly ConcurrentQueue<ReceivedWebhook> received = new();
    private readonly Task pump;

    private WebhookReceiver(NodeScript node, int port)
    {
        this.node = node;
        Url = $"http://127.0.0.1:{port}/hooks";
        pump = Task.Run(PumpAsync);
    }

    public string Url { get; }

    public IReadOnlyList<ReceivedWebhook> Received => received.ToList();

    /// <summary>Starts a receiver. <paramref name="plan"/>: answers in order, e.g. <c>new { status = 500 }</c>; then <paramref name="fallback"/> (200).</summary>
    public static async Task<WebhookReceiver> StartAsync(IEnumerable<string>? secrets = null, IEnumerable<object>? plan = null, object? fallback = null)
    {
        var node = NodeScript.Start(Source, env: new Dictionary<string, string>
        {
            ["SECRETS"] = JsonSerializer.Serialize(secrets ?? []),
            ["PLAN"] = JsonSerializer.Serialize(plan ?? []),
            ["FALLBACK"] = JsonSerializer.Serialize(fallback ?? new { status = 200 }),
        });
        var first = await node.ReadLineAsync(TimeSpan.FromSeconds(20)) ?? throw new InvalidOperationException("the receiver did not start");
        return new WebhookReceiver(node, JsonNode.Parse(first)!["port"]!.GetValue<int>());
    }

    /// <summary>Replaces the secrets the receiver verifies with.</summary>
    public Task UseSecretsAsync(params string[] secrets) => node.WriteLineAsync(JsonSerializer.Serialize(new { secrets }));

    /// <summary>Waits until the condition holds over everything received so far; fails with what arrived otherwise.</summary>
    public async Task<IReadOnlyList<ReceivedWebhook>> WaitForAsync(Func<IReadOnlyList<ReceivedWebhook>, bool> condition, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (DateTime.UtcNow < deadline)
        {
            var snapshot = Received;
            if (condition(snapshot)) return snapshot;
            if (pump.IsCompleted) break;
            await Task.Delay(20);
        }
        var seen = Received;
        throw new TimeoutException($"receiver condition not met; {seen.Count} received: "
                                   + string.Join("; ", seen.TakeLast(5).Select(r => $"{r.Type} {r.Id} verified={r.Verified} answered={r.Answered}")));
    }

    private async Task PumpAsync()
    {
        while (await node.ReadLineAsync(TimeSpan.FromHours(1)) is { } line)
        {
            var json = JsonNode.Parse(line)!;
            received.Enqueue(new ReceivedWebhook(
                json["id"]?.GetValue<string>() ?? "", json["type"]?.GetValue<string>(), json["verified"]!.GetValue<bool>(),
                json["verify_error"]?.GetValue<string>(), json["answered"]!.GetValue<int>(), json["signature"]!.GetValue<string>(),
                json["slipway_event"]?.GetValue<string>(), json["slipway_action"]?.GetValue<string>(), json["slipway_signature"]?.GetValue<string>(),
                json["timestamp"]?.GetValue<string>(), json["slipway_timestamp"]?.GetValue<string>(), json["body"]?.DeepClone(),
                json["received_at"]!.GetValue<DateTime>()));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await node.DisposeAsync();
        try
        {
            await pump.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception ex) when (ex is TimeoutException or InvalidOperationException or ObjectDisposedException)
        {
        }
    }
}
