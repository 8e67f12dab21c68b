namespace Slipway.Server.Hosting;

internal sealed class IdempotencyRecord
{
    /// <summary>User id or API key id: keys are scoped to whoever sent them.</summary>
    public required string Caller { get; init; }
    public required string Key { get; init; }
    /// <summary>SHA-256 of method, path and body: the same key with another request is a conflict.</summary>
    public required string RequestHash { get; init; }
    public int StatusCode { get; init; }
    public string? ContentType { get; init; }
    public string? Location { get; init; }
    /// <summary>The response body sealed with the secrets master key (it may hold a secret shown once).</summary>
    public required byte[] Body { get; init; }
    public string? KeyId { get; init; }
    public DateTime CreatedAt { get; init; }
}
