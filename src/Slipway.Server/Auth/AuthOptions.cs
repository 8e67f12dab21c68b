namespace Slipway.Server.Auth;

internal sealed class AuthOptions
{
    public const string SectionName = "Slipway:Auth";

    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromHours(24);

    /// <summary>PBKDF2-SHA256 iterations for new hashes; stored with each hash, so raising it never locks anyone out.</summary>
    public int PasswordIterations { get; set; } = 600_000;

    public int MaxFailedLoginsPerAccount { get; set; } = 10;
    public int MaxFailedLoginsPerIp { get; set; } = 50;
    public TimeSpan FailedLoginWindow { get; set; } = TimeSpan.FromMinutes(15);
}
