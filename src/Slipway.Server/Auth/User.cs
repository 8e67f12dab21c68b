using Slipway.Server.Hosting;

namespace Slipway.Server.Auth;

internal sealed class User : IHasId
{
    public required string Id { get; init; }
    public required string Email { get; set; }
    /// <summary>Lower-cased email: the unique key, so registration is case-insensitive on every provider.</summary>
    public required string EmailNormalized { get; set; }
    public required string Name { get; set; }
    public required string PasswordHash { get; set; }
    /// <summary>Bumped on every password change; JWTs carry it, so older tokens stop working at once.</summary>
    public int TokenVersion { get; set; }
    public bool IsAdmin { get; set; }
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; set; }
}
