using System.Security.Cryptography;
using Slipway.Server.ApiKeys;
using Slipway.Server.Auth;
using Slipway.Server.Data;
using Slipway.Server.Events;
using Slipway.Server.Hosting;

namespace Slipway.Server.Workspaces;

/// <summary>A one-time invitation into a workspace; only the hash of its token is stored.</summary>
internal sealed class Invitation : IHasId
{
    public const string Prefix = "inv_";

    public required string Id { get; init; }
    public required string WorkspaceId { get; init; }
    /// <summary>When set, only this email may register with the invitation.</summary>
    public string? Email { get; init; }
    public WorkspaceRole Role { get; init; }
    public required string TokenHash { get; init; }
    public required string CreatedBy { get; init; }
    public DateTime CreatedAt { get; init; }
    public DateTime ExpiresAt { get; init; }
    public DateTime? UsedAt { get; set; }
    public string? UsedBy { get; set; }
    public DateTime? RevokedAt { get; set; }

    public static string NewToken() => Prefix + System.Buffers.Text.Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
}

internal enum InvitationStatus
{
    Pending,
    Used,
    Expired,
    Revoked,
}

internal sealed record CreateInvitationRequest(string? Email, string? Role);

/// <summary><c>token</c> is present only in the answer to the creation, never again.</summary>
internal sealed record InvitationResponse(string Id, string WorkspaceId, string? Email, WorkspaceRole Role, InvitationStatus Status,
    string CreatedBy, DateTime CreatedAt, DateTime ExpiresAt, DateTime? UsedAt, string? UsedBy, DateTime? RevokedAt, string? Token = null)
{
    public static InvitationResponse From(Invitation i, DateTime now, string? token = null) => new(i.Id, i.WorkspaceId, i.Email, i.Role,
        StatusOf(i, now), i.CreatedBy, i.CreatedAt, i.ExpiresAt, i.UsedAt, i.UsedBy, i.RevokedAt, token);

    public static InvitationStatus StatusOf(Invitation i, DateTime now) =>
        i.RevokedAt is not null ? InvitationStatus.Revoked
        : i.UsedAt is not null ? InvitationStatus.Used
        : i.ExpiresAt <= now ? InvitationStatus.Expired
        : InvitationStatus.Pending;
}

/// <summary>
/// Owners and admins invite people who have no account yet; <c>POST /auth/register</c> redeems the token. Creating,
/// revoking and accepting emit <c>invitation.created</c>, <c>invitation.revoked</c>, <c>invitation.accepted</c> (never with the token).
/// </summary>
internal static class InvitationEndpoints
{
    public static IEndpointRouteBuilder MapInvitationEndpoints(this IEndpointRouteBuilder app)
    {
        var invitations = app.MapGroup("/api/v1/workspaces/{id}/invitations").WithTags("Workspaces").RequireScope(Scopes.UserSession);
        invitations.MapGet("/", ListAsync);
        invitations.MapPost("/", CreateAsync);
        invitations.MapDelete("/{invitationId}", RevokeAsync);
        return app;
    }

    private static async Task<Page<InvitationResponse>> ListAsync(string id, Caller caller, Access access, SlipwayDb db, PageQuery page,
        TimeProvider time, CancellationToken ct)
    {
        await access.RequireRoleAsync(caller, id, Need.Manage, ct);
        var now = time.UtcNowMs();
        return await db.Invitations.Where(i => i.WorkspaceId == id).ToPageAsync(page, i => InvitationResponse.From(i, now), ct);
    }

    private static async Task<Created<InvitationResponse>> CreateAsync(string id, CreateInvitationRequest body, Caller caller, Access access,
        SlipwayDb db, AuthOptions options, TimeProvider time, CancellationToken ct)
    {
        var role = MemberEndpoints.ParseRole(body.Role);
        new Validator()
            .MaxLength(body.Email, 320, "email").Check(body.Email is null || AuthEndpoints.IsEmail(body.Email.Trim()), "email", "must be an email address")
            .Required(body.Role, "role").Check(body.Role is null || role is not null, "role", MemberEndpoints.RoleProblem)
            .ThrowIfInvalid();
        var callerRole = await access.RequireRoleAsync(caller, id, Need.Manage, ct);
        if (role == WorkspaceRole.Owner) Access.Demand(callerRole, Need.Own);

        var token = Invitation.NewToken();
        var now = time.UtcNowMs();
        var invitation = new Invitation
        {
            Id = Ids.New(time), WorkspaceId = id, Email = body.Email?.Trim(), Role = role!.Value, TokenHash = ApiKeyAuthenticator.Hash(token),
            CreatedBy = caller.UserId, CreatedAt = now, ExpiresAt = now + options.InvitationLifetime,
        };
        db.Invitations.Add(invitation);
        AddEvent(db, invitation, "invitation.created", time);
        await db.SaveChangesAsync(ct);
        return TypedResults.Created($"/api/v1/workspaces/{id}/invitations/{invitation.Id}", InvitationResponse.From(invitation, now, token));
    }

    private static async Task<NoContent> RevokeAsync(string id, string invitationId, Caller caller, Access access, SlipwayDb db, TimeProvider time,
        CancellationToken ct)
    {
        await access.RequireRoleAsync(caller, id, Need.Manage, ct);
        var now = time.UtcNowMs();
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var revoked = await db.Invitations.Where(i => i.Id == invitationId && i.WorkspaceId == id && i.RevokedAt == null && i.UsedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(i => i.RevokedAt, now), ct);
        if (revoked == 0 && !await db.Invitations.AnyAsync(i => i.Id == invitationId && i.WorkspaceId == id, ct))
        {
            throw ApiException.NotFound("Invitation", invitationId);
        }
        if (revoked == 0) throw ApiException.InvalidState("This invitation has already been used or revoked.");
        AddEvent(db, await db.Invitations.FirstAsync(i => i.Id == invitationId, ct), "invitation.revoked", time);
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        return TypedResults.NoContent();
    }

    /// <summary>
    /// Claims the invitation for a new account inside the registration's transaction: a guarded update, so two
    /// registrations with one token cannot both succeed. Throws 403 saying why when the token cannot be used.
    /// </summary>
    public static async Task<Invitation> RedeemAsync(SlipwayDb db, string token, string email, string userId, TimeProvider time, CancellationToken ct)
    {
        var now = time.UtcNowMs();
        var hash = ApiKeyAuthenticator.Hash(token);
        var invitation = await db.Invitations.FirstOrDefaultAsync(i => i.TokenHash == hash, ct)
                         ?? throw ApiException.Forbidden("This invitation is not valid. Ask a workspace owner or admin for a new one.");
        switch (InvitationResponse.StatusOf(invitation, now))
        {
            case InvitationStatus.Used:
                throw ApiException.Forbidden("This invitation has already been used. Ask a workspace owner or admin for a new one.");
            case InvitationStatus.Expired:
                throw ApiException.Forbidden("This invitation has expired. Ask a workspace owner or admin for a new one.");
            case InvitationStatus.Revoked:
                throw ApiException.Forbidden("This invitation has been revoked. Ask a workspace owner or admin for a new one.");
            case InvitationStatus.Pending:
                break;
        }
        if (invitation.Email is { } invited && !string.Equals(invited, email, StringComparison.OrdinalIgnoreCase))
        {
            throw ApiException.Forbidden("This invitation is for another email address; register with the invited address.");
        }
        if (!await CreatorMayStillInvite(db, db.Invitations.Where(i => i.Id == invitation.Id)).AnyAsync(ct))
        {
            throw ApiException.Forbidden("The person who created this invitation can no longer invite into this workspace with this role "
                                         + "(removed, demoted or disabled). Ask a workspace owner or admin for a new one.");
        }
        var unclaimed = db.Invitations.Where(i => i.Id == invitation.Id && i.UsedAt == null && i.RevokedAt == null && i.ExpiresAt > now);
        var claimed = await CreatorMayStillInvite(db, unclaimed)
            .ExecuteUpdateAsync(s => s.SetProperty(i => i.UsedAt, now).SetProperty(i => i.UsedBy, userId), ct);
        if (claimed == 0)
        {
            throw ApiException.Forbidden("This invitation has just been used or revoked, or its creator lost access. "
                                         + "Ask a workspace owner or admin for a new one.");
        }
        invitation.UsedAt = now;
        invitation.UsedBy = userId;
        AddEvent(db, invitation, "invitation.accepted", time);
        return invitation;
    }

    /// <summary>
    /// An invitation carries its creator's authority, checked when it is redeemed, not only when it was made: the creator
    /// must still be an enabled member who could create it now (owner or admin; owner for an owner invitation). Part of the
    /// claim's guarded update, so a removal, demotion or disable that commits first always wins.
    /// </summary>
    private static IQueryable<Invitation> CreatorMayStillInvite(SlipwayDb db, IQueryable<Invitation> invitations) => invitations.Where(i =>
        db.Users.Any(u => u.Id == i.CreatedBy && u.DisabledAt == null)
        && db.WorkspaceMembers.Any(m => m.WorkspaceId == i.WorkspaceId && m.UserId == i.CreatedBy
                                        && (m.Role == WorkspaceRole.Owner || (m.Role == WorkspaceRole.Admin && i.Role != WorkspaceRole.Owner))));

    private static void AddEvent(SlipwayDb db, Invitation invitation, string type, TimeProvider time)
    {
        db.Events.Add(Event.Of(time, invitation.WorkspaceId, null, type, InvitationResponse.From(invitation, time.UtcNowMs())));
    }
}
