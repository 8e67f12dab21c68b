using System.Text.Json;
using Slipway.Server.Hosting;

namespace Slipway.Server.Events;

/// <summary>
/// An outbox row: written in the same transaction as the state change it describes, delivered later
/// (webhooks). <c>data</c> is the resource as the API returns it.
/// </summary>
internal sealed class Event : IHasId
{
    public required string Id { get; init; }
    public required string WorkspaceId { get; init; }
    public string? ProjectId { get; init; }
    public required string Type { get; init; }
    public required string Data { get; init; }
    public DateTime CreatedAt { get; init; }
    /// <summary>Set once the event has been fanned out to webhook deliveries.</summary>
    public DateTime? DispatchedAt { get; set; }

    /// <summary>A new event now, with <paramref name="data"/> serialized as the API writes it.</summary>
    public static Event Of<T>(TimeProvider time, string workspaceId, string? projectId, string type, T data) => new()
    {
        Id = Ids.New(time), WorkspaceId = workspaceId, ProjectId = projectId, Type = type,
        Data = JsonSerializer.Serialize(data, SlipwayJson.Options), CreatedAt = time.UtcNowMs(),
    };
}
