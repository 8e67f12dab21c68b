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
}
