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

    /// <summary>Who may create an account once the first one (the instance administrator) exists.</summary>
    public RegistrationPolicy Registration { get; set; } = RegistrationPolicy.Invite;

    public TimeSpan InvitationLifetime { get; set; } = TimeSpan.FromDays(7);
}

/// <summary>The first account always registers freely, whatever the policy: someone has to administer the instance.</summary>
internal enum RegistrationPolicy
{
    /// <summary>Anyone may register.</summary>
    Open,
    /// <summary>Only with an invitation from a workspace owner or admin.</summary>
    Invite,
    /// <summary>Nobody, not even with an invitation.</summary>
    Closed,
}
