using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Slipway.Server.Data;
using Slipway.Server.Events;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Webhooks;

internal static class WebhookIntents
{
    /// <summary>Loopback receivers allowed, a quick poll and a fast retry schedule; override any of it.</summary>
    public static Dictionary<string, string?> Settings(params (string Key, string Value)[] overrides)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Slipway:Webhooks:AllowLoopback"] = "true",
            ["Slipway:Webhooks:PollInterval"] = "00:00:00.050",
            ["Slipway:Webhooks:RetrySchedule"] = "00:00:00,00:00:00.200,00:00:00.400",
            ["Slipway:Webhooks:Jitter"] = "0",
            ["Slipway:Webhooks:Timeout"] = "00:00:05",
        };
        foreach (var (key, value) in overrides) settings["Slipway:Webhooks:" + key] = value;
        return settings;
    }

    public static async Task<JsonNode> CreateWebhookAsync(this SlipwayServer server, string token, string url, string[]? events = null, object? extra = null)
    {
        var body = new JsonObject { ["url"] = url, ["events"] = new JsonArray((events ?? ["*"]).Select(e => (JsonNode)e!).ToArray()) };
        if (extra is not null)
        {
            foreach (var (key, value) in System.Text.Json.JsonSerializer.SerializeToNode(extra)!.AsObject()) body[key] = value?.DeepClone();
        }
        return (await server.PostAsync("/api/v1/webhooks", body.ToJsonString(), token)).AssertStatus(201).Json;
    }

    /// <summary>Writes events straight into the outbox, as a state change would (same table, committed at once).</summary>
    public static async Task<List<string>> InsertEventsAsync(this SlipwayServer server, string workspaceId, int count, string type = "deployment.status_changed")
    {
        await using var scope = server.Service<IServiceScopeFactory>().CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
        var ids = new List<string>(count);
        for (var i = 0; i < count; i++)
        {
            var id = Guid.CreateVersion7().ToString();
            ids.Add(id);
            db.Events.Add(new Event { Id = id, WorkspaceId = workspaceId, Type = type, Data = $$"""{"n":{{i}}}""", CreatedAt = DateTime.UtcNow });
        }
        await db.SaveChangesAsync();
        return ids;
    }

    public static async Task<JsonArray> DeliveriesAsync(this SlipwayServer server, string token, string webhookId)
    {
        var all = new JsonArray();
        string? cursor = null;
        do
        {
            var page = (await server.GetAsync($"/api/v1/webhooks/{webhookId}/deliveries?limit=100" + (cursor is null ? "" : $"&cursor={cursor}"), token))
                .AssertStatus(200).Json;
            foreach (var item in page["data"]!.AsArray()) all.Add(item!.DeepClone());
            cursor = page["next_cursor"]?.GetValue<string>();
        } while (cursor is not null);
        return all;
    }

    /// <summary>Polls the deliveries until one matches, within the timeout.</summary>
    public static async Task<JsonNode> WaitForDeliveryAsync(this SlipwayServer server, string token, string webhookId, Func<JsonNode, bool> match,
        TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        JsonArray last = [];
        while (DateTime.UtcNow < deadline)
        {
            last = await server.DeliveriesAsync(token, webhookId);
            if (last.FirstOrDefault(d => match(d!)) is { } found) return found!;
            await Task.Delay(50);
        }
        throw new TimeoutException($"no matching delivery; deliveries: {last.ToJsonString()}");
    }
}
