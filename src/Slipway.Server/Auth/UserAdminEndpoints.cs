using Slipway.Server.ApiKeys;
using Slipway.Server.Data;
using Slipway.Server.Hosting;

namespace Slipway.Server.Auth;

/// <summary>
/// The instance administrator's view of accounts. Disabling refuses the account's login, its JWTs and its API keys
/// at once (they are checked on every request); enabling gives them back.
/// </summary>
internal static class UserAdminEndpoints
{
    public static IEndpointRouteBuilder MapUserAdminEndpoints(this IEndpointRouteBuilder app)
    {
        var users = app.MapGroup("/api/v1/admin/users").WithTags("Admin").RequireScope(Scopes.UserSession);
        users.MapGet("/", ListAsync);
        users.MapPost("/{id}/disable", (string id, Caller caller, SlipwayDb db, ApiKeyAuthenticator keys, CallerCache callers, TimeProvider time,
            CancellationToken ct) => SetDisabledAsync(id, caller, db, keys, callers, time.UtcNowMs(), ct));
        users.MapPost("/{id}/enable", (string id, Caller caller, SlipwayDb db, ApiKeyAuthenticator keys, CallerCache callers, CancellationToken ct) =>
            SetDisabledAsync(id, caller, db, keys, callers, null, ct));
        return app;
    }

    /// <summary>Paged by user id: the newest account first.</summary>
    private static async Task<Page<UserResponse>> ListAsync(Caller caller, SlipwayDb db, PageQuery page, CancellationToken ct)
    {
        RequireAdmin(caller);
        return await db.Users.ToPageAsync(page, UserResponse.From, ct);
    }

    private static async Task<UserResponse> SetDisabledAsync(string id, Caller caller, SlipwayDb db, ApiKeyAuthenticator keys, CallerCache callers, DateTime? disabledAt,
        CancellationToken ct)
    {
        RequireAdmin(caller);
        if (id == caller.UserId && disabledAt is not null)
        {
            throw ApiException.Forbidden("The instance administrator cannot disable their own account.");
        }
        var user = await db.Users.AsTracking().FirstOrDefaultAsync(u => u.Id == id, ct) ?? throw ApiException.NotFound("User", id);
        if ((user.DisabledAt is null) == (disabledAt is null)) return UserResponse.From(user);
        user.DisabledAt = disabledAt;
        await db.SaveChangesAsync(ct);
        keys.Forget();
        callers.Forget();
        return UserResponse.From(user);
    }

    private static void RequireAdmin(Caller caller)
    {
        if (!caller.IsInstanceAdmin) throw ApiException.Forbidden("Only the instance administrator can manage users.");
    }
}
