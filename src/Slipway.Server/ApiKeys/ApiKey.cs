using Slipway.Server.Hosting;

namespace Slipway.Server.ApiKeys;

internal sealed class ApiKey : IHasId
{
    public required string Id { get; init; }
    public required string WorkspaceId { get; init; }
    public string? ProjectId { get; init; }
    public required string Name { get; init; }
    /// <summary>The first characters of the key, safe to show so a user can tell keys apart.</summary>
    public required string Prefix { get; init; }
    /// <summary>SHA-256 of the whole key: keys carry 256 random bits, so a fast hash is enough and lookups stay cheap.</summary>
    public required string KeyHash { get; init; }
    /// <summary>Space-separated scope names.</summary>
    public required string Scopes { get; init; }
    public required string CreatedBy { get; init; }
    public DateTime CreatedAt { get; init; }
    public DateTime? ExpiresAt { get; init; }
    public DateTime? LastUsedAt { get; set; }
    public DateTime? RevokedAt { get; set; }
}
