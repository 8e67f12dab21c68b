using Slipway.Server.Hosting;

namespace Slipway.Server.EnvVars;

/// <summary>An environment variable; the value exists only as AES-256-GCM ciphertext (see SecretBox).</summary>
internal sealed class EnvVar : IHasId
{
    public required string Id { get; init; }
    public required string ProjectId { get; init; }
    public required string EnvironmentId { get; init; }
    public required string Key { get; init; }
    /// <summary>nonce ‖ ciphertext ‖ tag.</summary>
    public required byte[] Sealed { get; set; }
    public required string KeyId { get; set; }
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; set; }
}
