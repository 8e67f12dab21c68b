using Slipway.Server.ApiKeys;
using Slipway.Server.Data;
using Slipway.Server.Hosting;

namespace Slipway.Server.Auth;

internal sealed record CreateUserRequest(string? Email, string? Name, string? Password);

/// <summary>
/// The instance administrator's view of accounts: list, create, disable, enable. Disabling refuses the account's login, its JWTs and its API keys
/// at once (they are checked on every request); enabling gives them back.
/// </summary>
internal static class UserAdminEndpoints
{
    public static IEndpointRouteBuilder MapUserAdminEndpoints(this IEndpointRouteBuilder app)
    {
        var users = app.MapGroup("/api/v1/admin/users").WithTags("Admin").RequireScope(Scopes.UserSession);
        users.MapGet("/", ListAsync);
        users.MapPost("/", CreateAsync);
        users.MapGet("/{id}", GetAsync);
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

    private static async Task<UserResponse> GetAsync(string id, Caller caller, SlipwayDb db, CancellationToken ct)
    {
        RequireAdmin(caller);
        return UserResponse.From(await db.Users.FirstOrDefaultAsync(u => u.Id == id, ct) ?? throw ApiException.NotFound("User", id));
    }

    /// <summary>
    /// An account made by the instance administrator, whatever the registration policy (the one way in under <c>closed</c>):
    /// with its personal workspace, like a registration, and no token (the person signs in with the password given to them).
    /// </summary>
    private static async Task<Created<UserResponse>> CreateAsync(CreateUserRequest body, Caller caller, SlipwayDb db, PasswordHasher hasher,
        TimeProvider time, CancellationToken ct)
    {
        RequireAdmin(caller);
        AuthEndpoints.ValidateAccount(new Validator(), body.Email, body.Name, body.Password).ThrowIfInvalid();
        var user = await AuthEndpoints.NewAccountAsync(db, hasher, body.Email!, body.Name!, body.Password!, time, ct);
        await db.SaveUniqueAsync(AuthEndpoints.EmailTaken().Message, ct);
        return TypedResults.Created($"/api/v1/admin/users/{user.Id}", UserResponse.From(user));
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
