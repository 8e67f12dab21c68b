using Slipway.Server.Data;
using Slipway.Server.Hosting;
using Slipway.Server.OpenApi;
using Slipway.Server.Workspaces;

namespace Slipway.Server.Auth;

/// <summary><c>invitation</c>: a token from <c>POST /workspaces/{id}/invitations</c>; the new account joins that workspace.</summary>
internal sealed record RegisterRequest(string? Email, string? Name, string? Password, string? Invitation);
internal sealed record LoginRequest(string? Email, string? Password);
internal sealed record ChangePasswordRequest(string? CurrentPassword, string? NewPassword);

internal sealed record UserResponse(string Id, string Email, string Name, string Role, bool IsAdmin, bool Disabled, DateTime CreatedAt)
{
    public static UserResponse From(User u) => new(u.Id, u.Email, u.Name, u.IsAdmin ? "admin" : "user", u.IsAdmin, u.DisabledAt is not null, u.CreatedAt);
}

internal sealed record TokenResponse(string Token, UserResponse User);
internal sealed record MembershipResponse(string Id, string Name, WorkspaceRole Role, RateLimitTier Tier, bool IsPersonal);
internal sealed record MeResponse(UserResponse User, IReadOnlyList<MembershipResponse> Workspaces);

internal static class AuthEndpoints
{
    public const string AccountDisabled = "This account has been disabled. Ask the instance administrator to enable it.";

    public static WebApplicationBuilder AddAuth(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(AuthOptions.SectionName).Get<AuthOptions>() ?? new AuthOptions();
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<PasswordHasher>();
        builder.Services.AddSingleton<JwtTokens>();
        builder.Services.AddSingleton<CallerCache>();
        builder.Services.AddSingleton<LoginThrottle>();
        builder.Services.AddScoped<Access>();
        return builder;
    }

    public static IEndpointRouteBuilder MapAuthEndpoints(this IEndpointRouteBuilder app)
    {
        var auth = app.MapGroup("/api/v1/auth").WithTags("Auth");
        auth.MapPost("/register", RegisterAsync).Anonymous();
        auth.MapPost("/login", LoginAsync).Anonymous().ProducesErrors(401);
        auth.MapGet("/me", MeAsync).RequireScope(Scopes.UserSession);
        auth.MapPost("/password", ChangePasswordAsync).RequireScope(Scopes.UserSession);
        app.MapUserAdminEndpoints();
        return app;
    }

    internal static async Task<Created<TokenResponse>> RegisterAsync(RegisterRequest body, SlipwayDb db, PasswordHasher hasher, JwtTokens tokens,
        AuthOptions options, TimeProvider time, CancellationToken ct)
    {
        var email = body.Email?.Trim() ?? "";
        ValidateAccount(new Validator(), body.Email, body.Name, body.Password).MaxLength(body.Invitation, 128, "invitation").ThrowIfInvalid();
        // An empty invitation is no invitation (clients that always send the field still register under `open`).
        var invitationToken = string.IsNullOrEmpty(body.Invitation) ? null : body.Invitation;

        var first = !await db.Users.AnyAsync(ct);
        if (!first) RefuseUnlessAllowed(options.Registration, invitationToken);
        var user = await NewAccountAsync(db, hasher, email, body.Name!, body.Password!, time, ct);
        user.IsAdmin = first && invitationToken is null;
        var now = user.CreatedAt;
        if (invitationToken is { } token)
        {
            await using var tx = await db.Database.BeginTransactionAsync(ct);
            await db.SaveUniqueAsync(EmailTaken().Message, ct);
            var invitation = await InvitationEndpoints.RedeemAsync(db, token, email, user.Id, time, ct);
            db.WorkspaceMembers.Add(new WorkspaceMember { WorkspaceId = invitation.WorkspaceId, UserId = user.Id, Role = invitation.Role, CreatedAt = now });
            await db.SaveChangesAsync(ct);
            await tx.CommitAsync(ct);
            return TypedResults.Created("/api/v1/auth/me", new TokenResponse(tokens.Issue(user), UserResponse.From(user)));
        }
        // The first account administers the instance. Two simultaneous first registrations both try to claim it;
        // the claim's primary key lets exactly one win, and the other is saved again as a plain user (if the policy lets it in).
        var claim = user.IsAdmin ? db.InstanceClaims.Add(new InstanceClaim { Name = InstanceClaim.Admin, UserId = user.Id, CreatedAt = now }) : null;
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException ex) when (DbExtensions.IsUniqueViolation(ex))
        {
            if (claim is null || await db.Users.AnyAsync(u => u.EmailNormalized == user.EmailNormalized, ct)) throw EmailTaken();
            RefuseUnlessAllowed(options.Registration, invitation: null);
            claim.State = EntityState.Detached;
            user.IsAdmin = false;
            await db.SaveUniqueAsync(EmailTaken().Message, ct);
        }
        return TypedResults.Created("/api/v1/auth/me", new TokenResponse(tokens.Issue(user), UserResponse.From(user)));
    }

    /// <summary>The checks every new account passes, by registration or by the instance administrator.</summary>
    internal static Validator ValidateAccount(Validator v, string? email, string? name, string? password) => v
        .Required(email, "email").Check(IsEmail(email?.Trim() ?? ""), "email", "must be an email address")
        .Required(name, "name").Check(name is null || name.Trim().Length is > 0 and <= 100 && !Validator.HasControlChars(name),
            "name", "must be 1 to 100 characters without control characters")
        .Required(password, "password").Check(password is null || password.Length is >= 8 and <= 1024,
            "password", "must be between 8 and 1024 characters");

    /// <summary>
    /// Adds (unsaved) a new account with its personal workspace, which every account gets, invited, created or not: it is
    /// where the person tries things out, and leaving another workspace must not leave them with nothing. 409 for an email in use.
    /// </summary>
    internal static async Task<User> NewAccountAsync(SlipwayDb db, PasswordHasher hasher, string email, string name, string password, TimeProvider time,
        CancellationToken ct)
    {
        var normalized = email.Trim().ToLowerInvariant();
        if (await db.Users.AnyAsync(u => u.EmailNormalized == normalized, ct)) throw EmailTaken();
        var now = time.UtcNowMs();
        var user = new User
        {
            Id = Ids.New(time), Email = email.Trim(), EmailNormalized = normalized, Name = name.Trim(),
            PasswordHash = hasher.Hash(password), CreatedAt = now, UpdatedAt = now,
        };
        var workspace = new Workspace { Id = Ids.New(time), Name = $"{user.Name}'s workspace", IsPersonal = true, CreatedAt = now, UpdatedAt = now };
        db.Users.Add(user);
        db.Workspaces.Add(workspace);
        db.WorkspaceMembers.Add(new WorkspaceMember { WorkspaceId = workspace.Id, UserId = user.Id, Role = WorkspaceRole.Owner, CreatedAt = now });
        return user;
    }

    internal static ApiException EmailTaken() => ApiException.Conflict("An account with this email already exists.");

    /// <summary>Registration after the first account, by <c>Slipway:Auth:Registration</c>: 403 saying why and what to do.</summary>
    private static void RefuseUnlessAllowed(RegistrationPolicy policy, string? invitation)
    {
        switch (policy)
        {
            case RegistrationPolicy.Open:
                return;
            case RegistrationPolicy.Invite when invitation is not null:
                return;
            case RegistrationPolicy.Invite:
                throw ApiException.Forbidden("This instance registers new accounts by invitation only. Ask an owner or admin of a workspace "
                                             + "for an invitation and send its token as 'invitation'.");
            case RegistrationPolicy.Closed:
                throw ApiException.Forbidden("Registration is closed on this instance. Ask its administrator to create access for you.");
            default:
                throw new InvalidOperationException($"Unknown registration policy {policy}.");
        }
    }

    internal static async Task<TokenResponse> LoginAsync(LoginRequest body, HttpContext http, SlipwayDb db, PasswordHasher hasher,
        JwtTokens tokens, LoginThrottle throttle, CancellationToken ct)
    {
        new Validator().Required(body.Email, "email").Required(body.Password, "password")
            .MaxLength(body.Email, 320, "email").MaxLength(body.Password, 1024, "password").ThrowIfInvalid();
        var normalized = body.Email!.Trim().ToLowerInvariant();
        var ip = http.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        throttle.ThrowIfLimited(normalized, ip);
        var user = await db.Users.AsTracking().FirstOrDefaultAsync(u => u.EmailNormalized == normalized, ct);
        // Verify against a dummy hash for unknown emails: same answer, same time.
        var ok = PasswordHasher.Verify(body.Password!, user?.PasswordHash ?? hasher.DummyHash) && user is not null;
        if (!ok)
        {
            throttle.Failed(normalized, ip);
            throw ApiException.Unauthenticated("The email or password is incorrect.");
        }
        throttle.Succeeded(normalized);
        if (user!.DisabledAt is not null) throw ApiException.Forbidden(AccountDisabled);
        return new TokenResponse(tokens.Issue(user!), UserResponse.From(user!));
    }

    private static async Task<MeResponse> MeAsync(Caller caller, SlipwayDb db, CancellationToken ct)
    {
        var user = await db.Users.FirstAsync(u => u.Id == caller.UserId, ct);
        var memberships = await (from m in db.WorkspaceMembers
                                 join w in db.Workspaces on m.WorkspaceId equals w.Id
                                 where m.UserId == caller.UserId
                                 orderby w.Id
                                 select new MembershipResponse(w.Id, w.Name, m.Role, w.Tier, w.IsPersonal)).ToListAsync(ct);
        return new MeResponse(UserResponse.From(user), memberships);
    }

    private static async Task<TokenResponse> ChangePasswordAsync(ChangePasswordRequest body, Caller caller, SlipwayDb db,
        PasswordHasher hasher, JwtTokens tokens, CallerCache callers, TimeProvider time, CancellationToken ct)
    {
        new Validator()
            .Required(body.CurrentPassword, "current_password").MaxLength(body.CurrentPassword, 1024, "current_password")
            .Required(body.NewPassword, "new_password").Check(body.NewPassword is null || body.NewPassword.Length is >= 8 and <= 1024,
                "new_password", "must be between 8 and 1024 characters")
            .ThrowIfInvalid();
        var user = await db.Users.AsTracking().FirstAsync(u => u.Id == caller.UserId, ct);
        if (!PasswordHasher.Verify(body.CurrentPassword!, user.PasswordHash))
        {
            throw ApiException.Validation("current_password", "is incorrect");
        }
        user.PasswordHash = hasher.Hash(body.NewPassword!);
        user.TokenVersion++;
        user.UpdatedAt = time.UtcNowMs();
        await db.SaveChangesAsync(ct);
        callers.Forget();
        return new TokenResponse(tokens.Issue(user), UserResponse.From(user));
    }

    internal static bool IsEmail(string email)
    {
        var at = email.IndexOf('@', StringComparison.Ordinal);
        return email.Length <= 254 && at > 0 && at == email.LastIndexOf('@') && at < email.Length - 3
               && email[(at + 1)..].Contains('.', StringComparison.Ordinal) && !email.Any(c => char.IsWhiteSpace(c) || char.IsControl(c));
    }
}
