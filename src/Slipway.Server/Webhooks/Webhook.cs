using Slipway.Server.Hosting;

namespace Slipway.Server.Webhooks;

/// <summary>A registered receiver. The signing secret exists only sealed (see SecretBox); during a rotation overlap the previous one signs too.</summary>
internal sealed class WebhookEndpoint : IHasId
{
    public required string Id { get; init; }
    public required string WorkspaceId { get; init; }
    public string? ProjectId { get; init; }
    public required string Url { get; set; }
    public string? Description { get; set; }
    /// <summary>JSON array of event types; <c>*</c> and <c>category.*</c> match many.</summary>
    public required string Events { get; set; }
    public bool Enabled { get; set; }
    public string? DisabledReason { get; set; }
    public required byte[] SecretSealed { get; set; }
    public required string SecretKeyId { get; set; }
    public byte[]? PreviousSecretSealed { get; set; }
    public string? PreviousSecretKeyId { get; set; }
    public DateTime? PreviousSecretExpiresAt { get; set; }
    /// <summary>Start of the current run of failed attempts; cleared by any success.</summary>
    public DateTime? FailingSince { get; set; }
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; set; }
}

/// <summary>One event for one endpoint: created pending, retried on schedule, ends succeeded or dead.</summary>
internal sealed class WebhookDelivery : IHasId
{
    public required string Id { get; init; }
    public required string EndpointId { get; init; }
    public required string EventId { get; init; }
    public required string WorkspaceId { get; init; }
    public string? ProjectId { get; init; }
    public required string EventType { get; init; }
    public DeliveryStatus Status { get; set; }
    /// <summary>Attempts in the current round (a redelivery starts a new round; the attempt log keeps them all).</summary>
    public int AttemptCount { get; set; }
    public DateTime? NextAttemptAt { get; set; }
    public int? LastStatusCode { get; set; }
    public string? LastError { get; set; }
    public DateTime CreatedAt { get; init; }
    public DateTime? CompletedAt { get; set; }
}

internal enum DeliveryStatus
{
    Pending,
    Succeeded,
    Dead,
}

internal sealed class WebhookAttempt : IHasId
{
    public required string Id { get; init; }
    public required string DeliveryId { get; init; }
    public int Number { get; init; }
    public DateTime AttemptedAt { get; init; }
    public int? StatusCode { get; init; }
    public int LatencyMs { get; init; }
    public string? Error { get; init; }
    public DateTime? NextAttemptAt { get; init; }
}
