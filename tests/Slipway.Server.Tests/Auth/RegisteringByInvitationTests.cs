using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Slipway.Server.Tests.ApiKeys;
using Slipway.Server.Tests.EnvVars;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Auth;

/// <summary>The server's own default policy: the first account registers freely, everyone after it needs an invitation.</summary>
public sealed class RegisteringByInvitationTests : IAsyncLifetime
{
    private readonly ManualTimeProvider clock = new();
    private SlipwayServer server = null!;
    private TestUser owner = null!;
    private string team = null!;

    public async Task InitializeAsync()
    {
        server = await SlipwayServer.StartAsync(new Dictionary<string, string?> { ["Slipway:Auth:Registration"] = null },
            services: s => s.AddSingleton<TimeProvider>(clock));
        owner = await server.RegisterUserAsync();
        team = await server.CreateWorkspaceAsync(owner.Token);
    }

    public async Task DisposeAsync() => await server.DisposeAsync();

    private string Invitations => $"/api/v1/workspaces/{team}/invitations";

    private async Task<(string Id, string Token)> InviteAsync(string role, string? email = null, string? token = null)
    {
        var created = (await server.PostAsync(Invitations, new { email, role }, token ?? owner.Token)).AssertStatus(201).Json;
        return (created.Id(), created["token"]!.GetValue<string>());
    }

    private Task<ApiResponse> RegisterAsync(string? invitation, string? email = null) => server.PostAsync("/api/v1/auth/register",
        new { email = email ?? $"new-{Guid.NewGuid():N}@example.test", name = "Newcomer", password = "long enough", invitation });

    [Fact]
    public async Task Register_AfterTheFirstAccountWithoutInvitation_Returns403SayingAnInvitationIsNeeded()
    {
        var error = (await RegisterAsync(null)).AssertStatus(403).Json["error"]!;

        Assert.Equal("forbidden", error["code"]!.GetValue<string>());
        Assert.Contains("invitation", error["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Register_WithInvitation_JoinsTheWorkspaceWithTheInvitedRoleAndKeepsAPersonalOne()
    {
        var (_, token) = await InviteAsync("developer");
        var registered = (await RegisterAsync(token)).AssertStatus(201).Json;

        Assert.False(registered["user"]!["is_admin"]!.GetValue<bool>());
        var me = (await server.GetAsync("/api/v1/auth/me", registered["token"]!.GetValue<string>())).AssertStatus(200).Json["workspaces"]!.AsArray();
        Assert.Equal("developer", me.Single(w => w!["id"]!.GetValue<string>() == team)!["role"]!.GetValue<string>());
        Assert.Single(me, w => w!["is_personal"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Register_SameInvitationTwice_SecondIsRefused()
    {
        var (_, token) = await InviteAsync("viewer");
        (await RegisterAsync(token)).AssertStatus(201);

        var message = (await RegisterAsync(token)).AssertStatus(403).Json["error"]!["message"]!.GetValue<string>();
        Assert.Contains("already been used", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Register_ExpiredInvitation_Returns403()
    {
        var (_, token) = await InviteAsync("viewer");
        clock.Advance(TimeSpan.FromDays(7) + TimeSpan.FromSeconds(1));

        var message = (await RegisterAsync(token)).AssertStatus(403).Json["error"]!["message"]!.GetValue<string>();
        Assert.Contains("expired", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Register_RevokedInvitation_Returns403()
    {
        var (id, token) = await InviteAsync("viewer");
        (await server.DeleteAsync($"{Invitations}/{id}", owner.Token)).AssertStatus(204);

        var message = (await RegisterAsync(token)).AssertStatus(403).Json["error"]!["message"]!.GetValue<string>();
        Assert.Contains("revoked", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Register_UnknownInvitation_Returns403()
    {
        (await RegisterAsync("inv_not-a-real-token")).AssertError(403, "forbidden");
    }

    [Fact]
    public async Task Register_InvitationForAnotherEmail_Returns403AndTheInvitationStaysUsable()
    {
        var (_, token) = await InviteAsync("viewer", "grace@example.test");

        (await RegisterAsync(token, "mallory@example.test")).AssertError(403, "forbidden");
        (await RegisterAsync(token, "Grace@example.test")).AssertStatus(201);
    }

    [Fact]
    public async Task List_ShowsStatusesButNeverTokens()
    {
        var (used, usedToken) = await InviteAsync("viewer");
        await RegisterAsync(usedToken);
        var (revoked, _) = await InviteAsync("admin");
        await server.DeleteAsync($"{Invitations}/{revoked}", owner.Token);
        var (pending, pendingToken) = await InviteAsync("developer", "ada@example.test");

        var list = await server.GetAsync(Invitations, owner.Token);
        var data = list.AssertStatus(200).Json["data"]!.AsArray();
        Assert.Equal([pending, revoked, used], data.Select(i => i!.Id()));
        Assert.Equal(["pending", "revoked", "used"], data.Select(i => i!["status"]!.GetValue<string>()));
        Assert.DoesNotContain(pendingToken, list.Body, StringComparison.Ordinal);
        Assert.DoesNotContain(usedToken, list.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invitations_EmitCreatedAcceptedAndRevokedEventsWithoutTheToken()
    {
        var (accepted, acceptedToken) = await InviteAsync("viewer");
        await RegisterAsync(acceptedToken);
        var (revoked, revokedToken) = await InviteAsync("viewer");
        await server.DeleteAsync($"{Invitations}/{revoked}", owner.Token);

        var events = await server.WithDbAsync(db => db.Events.Where(e => e.WorkspaceId == team).OrderBy(e => e.Id).ToListAsync());
        Assert.Equal(["invitation.created", "invitation.accepted", "invitation.created", "invitation.revoked"], events.Select(e => e.Type));
        Assert.Contains(accepted, events[1].Data, StringComparison.Ordinal);
        Assert.Contains("\"status\":\"used\"", events[1].Data, StringComparison.Ordinal);
        Assert.Contains(revoked, events[3].Data, StringComparison.Ordinal);
        Assert.All(events, e => Assert.DoesNotContain(acceptedToken, e.Data, StringComparison.Ordinal));
        Assert.All(events, e => Assert.DoesNotContain(revokedToken, e.Data, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Invite_ByDeveloperOrOwnerRoleByAdmin_Returns403()
    {
        var (_, adminToken) = await InviteAsync("admin");
        var admin = (await RegisterAsync(adminToken)).AssertStatus(201).Json["token"]!.GetValue<string>();
        var (_, developerToken) = await InviteAsync("developer");
        var developer = (await RegisterAsync(developerToken)).AssertStatus(201).Json["token"]!.GetValue<string>();

        (await server.PostAsync(Invitations, new { role = "viewer" }, developer)).AssertError(403, "forbidden");
        (await server.GetAsync(Invitations, developer)).AssertError(403, "forbidden");
        (await server.PostAsync(Invitations, new { role = "owner" }, admin)).AssertError(403, "forbidden");
        (await server.PostAsync(Invitations, new { role = "viewer" }, admin)).AssertStatus(201);
    }

    private async Task<(string Id, string Token)> JoinAsync(string role)
    {
        var (_, invitation) = await InviteAsync(role);
        var registered = (await RegisterAsync(invitation)).AssertStatus(201).Json;
        return (registered["user"]!.Id(), registered["token"]!.GetValue<string>());
    }

    private async Task AssertCreatorRefusedAsync(string invitation)
    {
        var refused = await RegisterAsync(invitation);
        refused.AssertError(403, "forbidden");
        Assert.Contains("can no longer invite", refused.Json["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Register_WithInvitationOfAnAdminSinceRemoved_Returns403()
    {
        var (adminId, admin) = await JoinAsync("admin");
        var (_, invitation) = await InviteAsync("developer", token: admin);
        (await server.DeleteAsync($"/api/v1/workspaces/{team}/members/{adminId}", owner.Token)).AssertStatus(204);

        await AssertCreatorRefusedAsync(invitation);
    }

    [Fact]
    public async Task Register_WithInvitationOfAnAdminSinceDemoted_Returns403_AndOfAnOwnerDemotedToAdmin_OnlyForOwnerInvitations()
    {
        var (adminId, admin) = await JoinAsync("admin");
        var (_, byAdmin) = await InviteAsync("viewer", token: admin);
        (await server.PatchAsync($"/api/v1/workspaces/{team}/members/{adminId}", new { role = "developer" }, owner.Token)).AssertStatus(200);
        await AssertCreatorRefusedAsync(byAdmin);

        var (ownerId, secondOwner) = await JoinAsync("owner");
        var (_, ownerInvitation) = await InviteAsync("owner", token: secondOwner);
        var (_, adminInvitation) = await InviteAsync("admin", token: secondOwner);
        (await server.PatchAsync($"/api/v1/workspaces/{team}/members/{ownerId}", new { role = "admin" }, owner.Token)).AssertStatus(200);
        await AssertCreatorRefusedAsync(ownerInvitation);
        (await RegisterAsync(adminInvitation)).AssertStatus(201);
    }

    [Fact]
    public async Task Register_WithInvitationOfADisabledAdmin_Returns403_UntilTheAccountIsEnabledAgain()
    {
        var (adminId, admin) = await JoinAsync("admin");
        var (_, invitation) = await InviteAsync("developer", token: admin);
        (await server.PostAsync($"/api/v1/admin/users/{adminId}/disable", new { }, owner.Token)).AssertStatus(200);

        await AssertCreatorRefusedAsync(invitation);

        (await server.PostAsync($"/api/v1/admin/users/{adminId}/enable", new { }, owner.Token)).AssertStatus(200);
        (await RegisterAsync(invitation)).AssertStatus(201);
    }

    [Fact]
    public async Task Invite_InvalidRoleOrEmail_Returns400()
    {
        (await server.PostAsync(Invitations, new { role = "boss" }, owner.Token)).AssertError(400, "validation_failed");
        (await server.PostAsync(Invitations, new { role = "viewer", email = "nope" }, owner.Token)).AssertError(400, "validation_failed");
    }

    [Fact]
    public async Task Revoke_UsedInvitation_Returns409AndOtherWorkspacesInvitation_Returns404()
    {
        var (id, token) = await InviteAsync("viewer");
        await RegisterAsync(token);

        (await server.DeleteAsync($"{Invitations}/{id}", owner.Token)).AssertError(409, "invalid_state");
        (await server.DeleteAsync($"/api/v1/workspaces/{owner.WorkspaceId}/invitations/{id}", owner.Token)).AssertError(404, "not_found");
    }
}

public sealed class ClosingRegistrationTests : IAsyncLifetime
{
    private SlipwayServer server = null!;

    public async Task InitializeAsync() =>
        server = await SlipwayServer.StartAsync(new Dictionary<string, string?> { ["Slipway:Auth:Registration"] = "closed" });

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task Register_Closed_OnlyTheFirstAccountGetsInEvenWithAnInvitation()
    {
        var first = await server.RegisterUserAsync();
        var team = await server.CreateWorkspaceAsync(first.Token);
        var token = (await server.PostAsync($"/api/v1/workspaces/{team}/invitations", new { role = "viewer" }, first.Token)).AssertStatus(201)
            .Json["token"]!.GetValue<string>();

        var refused = await server.PostAsync("/api/v1/auth/register",
            new { email = "late@example.test", name = "Late", password = "long enough", invitation = token });
        refused.AssertError(403, "forbidden");
        Assert.Contains("closed", refused.Json["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        (await server.PostAsync("/api/v1/auth/register", new { email = "later@example.test", name = "Later", password = "long enough" }))
            .AssertError(403, "forbidden");
    }
}

/// <summary>Under <c>open</c> registration, a client that always sends the <c>invitation</c> field, empty, still registers.</summary>
public sealed class RegisteringOpenlyTests
{
    [Fact]
    public async Task Register_OpenPolicyWithEmptyInvitation_Returns201()
    {
        await using var server = await SlipwayServer.StartAsync(new Dictionary<string, string?> { ["Slipway:Auth:Registration"] = "open" });
        await server.RegisterUserAsync();

        var created = (await server.PostAsync("/api/v1/auth/register",
            new { email = "second@example.test", name = "Second", password = "long enough", invitation = "" })).AssertStatus(201).Json;

        Assert.False(string.IsNullOrEmpty(created["token"]!.GetValue<string>()));
    }
}
