using Slipway.Server.Hosting;

namespace Slipway.Server.GitHub;

/// <summary>
/// A project's GitHub webhook: its id is the last segment of the receiving URL, its secret exists only sealed
/// (AES-256-GCM through <see cref="EnvVars.SecretBox"/>, bound to this project and hook) so it can be revealed again.
/// </summary>
internal sealed class GitHubIntegration : IHasId
{
    public required string Id { get; init; }
    public required string ProjectId { get; init; }
    /// <summary>nonce ‖ ciphertext ‖ tag of the webhook secret.</summary>
    public required byte[] SecretSealed { get; set; }
    public required string KeyId { get; set; }
    public string? CreatedBy { get; init; }
    public DateTime CreatedAt { get; init; }
    /// <summary>When the secret was last set (creation or rotation).</summary>
    public DateTime UpdatedAt { get; set; }
}

internal enum GitHubDeliveryStatus
{
    /// <summary>202: one or more deployments were queued.</summary>
    Accepted,
    /// <summary>200: verified and recorded, nothing to deploy (the reason says why).</summary>
    Ignored,
    /// <summary>200: the answer to <c>ping</c>.</summary>
    Pong,
    /// <summary>200: this delivery id was received before; nothing was done again.</summary>
    Duplicate,
}

/// <summary>
/// A verified delivery, keyed by (hook, <c>X-GitHub-Delivery</c>): the primary key is what makes a replay or a
/// redelivery a no-op, even when two copies arrive at once. <c>response</c> is the JSON answer first given.
/// </summary>
internal sealed class GitHubDelivery
{
    public required string HookId { get; init; }
    public required string DeliveryId { get; init; }
    public required string Event { get; init; }
    public GitHubDeliveryStatus Status { get; set; }
    public string? Reason { get; set; }
    public required string Response { get; set; }
    public DateTime ReceivedAt { get; init; }
}
