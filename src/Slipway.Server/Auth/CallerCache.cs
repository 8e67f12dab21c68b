using Slipway.Server.Hosting;
using Slipway.Server.Workspaces;

namespace Slipway.Server.Auth;

/// <summary>
/// What every authenticated request asks the database again and again: a user's token version, admin flag and
/// rate-limit tier (per token), and the caller's role in a workspace (per caller). Every writer of users, members or
/// tiers calls <see cref="Forget"/>, so a password change, a role change or a removal is effective at once.
/// </summary>
internal sealed class CallerCache(TimeProvider time)
{
    private const int MaxEntries = 100_000;
    private readonly GenerationCache<string, UserState?> users = new(time, MaxEntries);
    private readonly GenerationCache<(string UserId, string WorkspaceId), WorkspaceRole?> roles = new(time, MaxEntries);

    internal sealed record UserState(int TokenVersion, bool IsAdmin, bool Disabled, RateLimitTier Tier);

    public ValueTask<UserState?> UserAsync(string userId, Func<Task<UserState?>> load) => users.GetAsync(userId, load);

    public ValueTask<WorkspaceRole?> RoleAsync(string userId, string workspaceId, Func<Task<WorkspaceRole?>> load) =>
        roles.GetAsync((userId, workspaceId), load);

    /// <summary>Called after any change to a user's password, token version or disabled state, a membership, a role or a tier.</summary>
    public void Forget()
    {
        users.Clear();
        roles.Clear();
    }
}
