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
    /// <summary>Set by the instance administrator: the account can neither sign in nor use its tokens or keys.</summary>
    public DateTime? DisabledAt { get; set; }
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; set; }
}

/// <summary>A role only one account can ever claim (today: <c>admin</c>, taken by the first registration).</summary>
internal sealed class InstanceClaim
{
    public const string Admin = "admin";

    public required string Name { get; init; }
    public required string UserId { get; init; }
    public DateTime CreatedAt { get; init; }
}
