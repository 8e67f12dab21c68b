using System.Globalization;
using System.Security.Claims;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Slipway.Server.Hosting;

namespace Slipway.Server.Auth;

/// <summary>HS256 user tokens signed with a per-installation secret kept in the data directory.</summary>
internal sealed class JwtTokens
{
    private const string Issuer = "slipway";
    private const string VersionClaim = "ver";
    private readonly JsonWebTokenHandler handler = new() { SetDefaultTimesOnTokenCreation = false };
    private readonly SymmetricSecurityKey key;
    private readonly TokenValidationParameters validation;
    private readonly AuthOptions options;
    private readonly TimeProvider time;

    public JwtTokens(IConfiguration configuration, AuthOptions options, TimeProvider time)
    {
        this.options = options;
        this.time = time;
        key = new SymmetricSecurityKey(DataPaths.ReadOrCreateSecret(Path.Combine(configuration.DataDirectory(), "jwt.key"), 64));
        validation = new TokenValidationParameters
        {
            ValidIssuer = Issuer,
            ValidAudience = Issuer,
            IssuerSigningKey = key,
            ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
            ClockSkew = TimeSpan.FromSeconds(30),
            LifetimeValidator = (notBefore, expires, _, _) =>
                expires is { } e && e > time.GetUtcNow().UtcDateTime.AddSeconds(-30) && (notBefore is null || notBefore <= time.GetUtcNow().UtcDateTime.AddSeconds(30)),
        };
    }

    public string Issue(User user)
    {
        var now = time.GetUtcNow().UtcDateTime;
        return handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = Issuer,
            IssuedAt = now,
            NotBefore = now,
            Expires = now + options.TokenLifetime,
            Claims = new Dictionary<string, object>
            {
                [JwtRegisteredClaimNames.Sub] = user.Id,
                [VersionClaim] = user.TokenVersion.ToString(CultureInfo.InvariantCulture),
            },
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.HmacSha256),
        });
    }

    /// <summary>The user id and token version of a valid token, or null for anything forged, expired or malformed.</summary>
    public async Task<(string UserId, int Version)?> ValidateAsync(string token)
    {
        var result = await handler.ValidateTokenAsync(token, validation);
        if (!result.IsValid) return null;
        var identity = result.ClaimsIdentity;
        var sub = identity.FindFirst(JwtRegisteredClaimNames.Sub)?.Value ?? identity.FindFirst(ClaimTypes.NameIdentifier)?.Value;
        var version = identity.FindFirst(VersionClaim)?.Value;
        return sub is not null && int.TryParse(version, CultureInfo.InvariantCulture, out var v) ? (sub, v) : null;
    }
}
