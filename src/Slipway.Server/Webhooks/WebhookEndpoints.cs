using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Mvc;
using Slipway.Server.Auth;
using Slipway.Server.Data;
using Slipway.Server.Events;
using Slipway.Server.Hosting;
using Slipway.Server.OpenApi;
using Slipway.Server.Projects;
using Slipway.Server.Workspaces;

namespace Slipway.Server.Webhooks;

internal sealed record CreateWebhookRequest(string? Url, string[]? Events, string? ProjectId, string? Description, string? WorkspaceId);

internal sealed record UpdateWebhookRequest(string? Url, string[]? Events, string? Description, bool? Enabled);

internal sealed record WebhookResponse(
    string Id, string WorkspaceId, string? ProjectId, string Url, string? Description, IReadOnlyList<string> Events, bool Enabled,
    string? DisabledReason, DateTime? FailingSince, DateTime? PreviousSecretExpiresAt, DateTime CreatedAt, DateTime UpdatedAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Secret = null)
{
    public static WebhookResponse From(WebhookEndpoint w, string? secret = null) => new(
        w.Id, w.WorkspaceId, w.ProjectId, w.Url, w.Description, WebhookDirectory.Patterns(w.Events), w.Enabled, w.DisabledReason,
        w.FailingSince, w.PreviousSecretExpiresAt, w.CreatedAt, w.UpdatedAt, secret);
}

internal sealed record RotatedSecretResponse(string Id, string Secret, DateTime? PreviousSecretExpiresAt);

internal sealed record AttemptResponse(int Number, DateTime AttemptedAt, int? StatusCode, int LatencyMs, string? Error, DateTime? NextAttemptAt);

internal sealed record DeliveryResponse(
    string Id, string WebhookId, string EventId, string EventType, DeliveryStatus Status, int AttemptCount, DateTime? NextAttemptAt, int? LastStatusCode,
    string? LastError, DateTime CreatedAt, DateTime? CompletedAt, IReadOnlyList<AttemptResponse> Attempts)
{
    public static DeliveryResponse From(WebhookDelivery d, IEnumerable<WebhookAttempt> attempts) => new(
        d.Id, d.EndpointId, d.EventId, d.EventType, d.Status, d.AttemptCount,
        d.NextAttemptAt, d.LastStatusCode, d.LastError, d.CreatedAt, d.CompletedAt,
        attempts.OrderBy(a => a.AttemptedAt).ThenBy(a => a.Id, StringComparer.Ordinal)
            .Select(a => new AttemptResponse(a.Number, a.AttemptedAt, a.StatusCode, a.LatencyMs, a.Error, a.NextAttemptAt)).ToList());
}

internal static class WebhookEndpoints
{
    /// <summary>Event types an endpoint can ask for (besides <c>*</c> and <c>category.*</c>).</summary>
    public static readonly string[] EventTypes =
    [
        "deployment.created", "deployment.redeploy_queued", "deployment.github", "deployment.status_changed", "build.uploaded", "build.approved",
        "build.rejected", "build.distributed", "scan.completed", "finding.created", "fix.created",
        "invitation.created", "invitation.revoked", "invitation.accepted", "ping",
    ];

    /// <summary>What <c>events</c> may list: every type, every category wildcard (<c>deployment.*</c>) and <c>*</c>.</summary>
    private static readonly HashSet<string> Subscribable = EventTypes
        .Concat(EventTypes.Where(t => t.Contains('.', StringComparison.Ordinal)).Select(t => t[..t.IndexOf('.', StringComparison.Ordinal)] + ".*"))
        .Append("*").ToHashSet(StringComparer.Ordinal);

    public static WebApplicationBuilder AddWebhooks(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(WebhookOptions.SectionName).Get<WebhookOptions>() ?? new WebhookOptions();
        _ = options.Schedule; // a bad schedule stops start-up, not the first retry
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<TargetGuard>();
        builder.Services.AddSingleton<WebhookDirectory>();
        builder.Services.AddSingleton<WebhookMetrics>();
        builder.Services.AddSingleton<WebhookWorker>();
        builder.Services.AddHostedService(s => s.GetRequiredService<WebhookWorker>());
        return builder;
    }

    public static IEndpointRouteBuilder MapWebhookEndpoints(this IEndpointRouteBuilder app)
    {
        var webhooks = app.MapGroup("/api/v1/webhooks").WithTags("Webhooks");
        webhooks.MapPost("/", CreateAsync).RequireScope(Scopes.WebhooksWrite).ProducesErrors();
        webhooks.MapGet("/", ListAsync).RequireScope(Scopes.WebhooksRead).ProducesErrors();
        webhooks.MapGet("/{id}", GetAsync).RequireScope(Scopes.WebhooksRead).ProducesErrors();
        webhooks.MapPatch("/{id}", UpdateAsync).RequireScope(Scopes.WebhooksWrite).ProducesErrors();
        webhooks.MapDelete("/{id}", DeleteAsync).RequireScope(Scopes.WebhooksWrite).ProducesErrors();
        webhooks.MapPost("/{id}/rotate-secret", RotateSecretAsync).RequireScope(Scopes.WebhooksWrite).ProducesErrors();
        webhooks.MapPost("/{id}/test", TestAsync).RequireScope(Scopes.WebhooksWrite).ProducesErrors();
        webhooks.MapGet("/{id}/deliveries", DeliveriesAsync).RequireScope(Scopes.WebhooksRead).ProducesErrors();
        webhooks.MapPost("/{id}/deliveries/{deliveryId}/redeliver", RedeliverAsync).RequireScope(Scopes.WebhooksWrite).ProducesErrors();
        return app;
    }

    private static async Task<Created<WebhookResponse>> CreateAsync(CreateWebhookRequest body, Caller caller, Access access, SlipwayDb db,
        TargetGuard guard, WebhookDirectory directory, TimeProvider time, CancellationToken ct)
    {
        var v = new Validator().Required(body.Url, "url").Required(body.Events, "events").MaxLength(body.Description, 500, "description");
        CheckUrl(v, guard, body.Url);
        CheckEvents(v, body.Events);
        v.Check(body.WorkspaceId is null || Ids.IsValid(body.WorkspaceId), "workspace_id", "must be a workspace id");
        v.ThrowIfInvalid();
        string workspaceId;
        string? projectId = null;
        if (body.ProjectId is not null)
        {
            var (project, _) = await access.ProjectAsync(caller, body.ProjectId, Need.Manage, ct);
            projectId = project.Id;
            v.Check(body.WorkspaceId is null || body.WorkspaceId == project.WorkspaceId, "workspace_id", "must be the project's workspace");
            v.ThrowIfInvalid();
            workspaceId = project.WorkspaceId;
        }
        else
        {
            workspaceId = body.WorkspaceId ?? caller.KeyWorkspaceId ?? await ProjectEndpoints.PersonalWorkspaceAsync(db, caller, ct);
            await access.RequireRoleAsync(caller, workspaceId, Need.Manage, ct);
        }

        var now = time.UtcNowMs();
        var id = Ids.New(time);
        var secret = WebhookSigner.NewSecret();
        var (sealedSecret, keyId) = directory.Seal(secret, id);
        var endpoint = new WebhookEndpoint
        {
            Id = id, WorkspaceId = workspaceId, ProjectId = projectId, Url = body.Url!, Description = body.Description,
            Events = JsonSerializer.Serialize(body.Events!.Distinct(StringComparer.Ordinal)), Enabled = true, SecretSealed = sealedSecret,
            SecretKeyId = keyId, CreatedAt = now, UpdatedAt = now,
        };
        db.WebhookEndpoints.Add(endpoint);
        await db.SaveChangesAsync(ct);
        return TypedResults.Created($"/api/v1/webhooks/{id}", WebhookResponse.From(endpoint, secret));
    }

    private static async Task<Page<WebhookResponse>> ListAsync([FromQuery(Name = "project_id")] string? projectId,
        [FromQuery(Name = "workspace_id")] string? workspaceId, Caller caller, Access access, SlipwayDb db, PageQuery page, CancellationToken ct)
    {
        var visible = access.VisibleWorkspaceIds(caller);
        var query = db.WebhookEndpoints.Where(w => visible.Contains(w.WorkspaceId));
        if (caller.KeyProjectId is { } only) query = query.Where(w => w.ProjectId == only);
        if (projectId is not null)
        {
            var (project, _) = await access.ProjectAsync(caller, projectId, Need.Read, ct);
            query = query.Where(w => w.ProjectId == project.Id);
        }
        if (workspaceId is not null)
        {
            await access.RequireWorkspaceReadAsync(caller, workspaceId, ct);
            query = query.Where(w => w.WorkspaceId == workspaceId);
        }
        return await query.ToPageAsync(page, w => WebhookResponse.From(w), ct);
    }

    private static async Task<WebhookResponse> GetAsync(string id, Caller caller, Access access, SlipwayDb db, CancellationToken ct) =>
        WebhookResponse.From(await FindAsync(id, caller, access, db, Need.Read, ct));

    private static async Task<WebhookResponse> UpdateAsync(string id, UpdateWebhookRequest body, Caller caller, Access access, SlipwayDb db,
        TargetGuard guard, WebhookDirectory directory, TimeProvider time, CancellationToken ct)
    {
        var v = new Validator().MaxLength(body.Description, 500, "description");
        if (body.Url is not null) CheckUrl(v, guard, body.Url);
        if (body.Events is not null) CheckEvents(v, body.Events);
        v.ThrowIfInvalid();
        var endpoint = await FindAsync(id, caller, access, db, Need.Manage, ct);
        db.Attach(endpoint);
        if (body.Url is not null) endpoint.Url = body.Url;
        if (body.Events is not null) endpoint.Events = JsonSerializer.Serialize(body.Events.Distinct(StringComparer.Ordinal));
        if (body.Description is not null) endpoint.Description = body.Description.Length == 0 ? null : body.Description;
        if (body.Enabled is { } enabled)
        {
            if (enabled && !endpoint.Enabled) endpoint.FailingSince = null;
            endpoint.Enabled = enabled;
            endpoint.DisabledReason = enabled ? null : "disabled by a user";
        }
        endpoint.UpdatedAt = time.UtcNowMs();
        await db.SaveChangesAsync(ct);
        directory.Invalidate(endpoint.Id);
        return WebhookResponse.From(endpoint);
    }

    private static async Task<NoContent> DeleteAsync(string id, Caller caller, Access access, SlipwayDb db, WebhookDirectory directory, CancellationToken ct)
    {
        var endpoint = await FindAsync(id, caller, access, db, Need.Manage, ct);
        await db.WebhookEndpoints.Where(w => w.Id == endpoint.Id).ExecuteDeleteAsync(ct);
        directory.Invalidate(endpoint.Id);
        return TypedResults.NoContent();
    }

    /// <summary>A new secret, shown once; the previous one keeps signing (a second signature) for the configured overlap.</summary>
    private static async Task<RotatedSecretResponse> RotateSecretAsync(string id, Caller caller, Access access, SlipwayDb db, WebhookDirectory directory,
        WebhookOptions options, TimeProvider time, CancellationToken ct)
    {
        var endpoint = await FindAsync(id, caller, access, db, Need.Manage, ct);
        db.Attach(endpoint);
        var secret = WebhookSigner.NewSecret();
        var (sealedSecret, keyId) = directory.Seal(secret, endpoint.Id);
        var now = time.UtcNowMs();
        var overlap = options.RotationOverlap > TimeSpan.Zero;
        endpoint.PreviousSecretSealed = overlap ? endpoint.SecretSealed : null;
        endpoint.PreviousSecretKeyId = overlap ? endpoint.SecretKeyId : null;
        endpoint.PreviousSecretExpiresAt = overlap ? now + options.RotationOverlap : null;
        endpoint.SecretSealed = sealedSecret;
        endpoint.SecretKeyId = keyId;
        endpoint.UpdatedAt = now;
        await db.SaveChangesAsync(ct);
        directory.Invalidate(endpoint.Id);
        return new RotatedSecretResponse(endpoint.Id, secret, endpoint.PreviousSecretExpiresAt);
    }

    /// <summary>Sends a <c>ping</c> event to this endpoint only (even a disabled one is not pinged: enable it first).</summary>
    private static async Task<Accepted<DeliveryResponse>> TestAsync(string id, Caller caller, Access access, SlipwayDb db, WebhookWorker worker,
        TimeProvider time, CancellationToken ct)
    {
        var endpoint = await FindAsync(id, caller, access, db, Need.Manage, ct);
        if (!endpoint.Enabled) throw ApiException.InvalidState("The webhook is disabled; enable it before sending a test.");
        var now = time.UtcNowMs();
        var evt = new Event
        {
            Id = Ids.New(time), WorkspaceId = endpoint.WorkspaceId, ProjectId = endpoint.ProjectId, Type = "ping", CreatedAt = now, DispatchedAt = now,
            Data = JsonSerializer.Serialize(new { webhook_id = endpoint.Id, message = "Hello from Slipway: this endpoint receives signed events." }),
        };
        var delivery = new WebhookDelivery
        {
            Id = Ids.New(time), EndpointId = endpoint.Id, EventId = evt.Id, WorkspaceId = endpoint.WorkspaceId, ProjectId = endpoint.ProjectId,
            EventType = evt.Type, Status = DeliveryStatus.Pending, NextAttemptAt = now, CreatedAt = now,
        };
        db.Events.Add(evt);
        db.WebhookDeliveries.Add(delivery);
        await db.SaveChangesAsync(ct);
        worker.Wake();
        return TypedResults.Accepted($"/api/v1/webhooks/{endpoint.Id}/deliveries", DeliveryResponse.From(delivery, []));
    }

    /// <summary>Deliveries newest first, each with every attempt (time, status code, latency, error, next attempt).</summary>
    private static async Task<Page<DeliveryResponse>> DeliveriesAsync(string id, [FromQuery] string? status, Caller caller, Access access, SlipwayDb db,
        PageQuery page, CancellationToken ct)
    {
        var endpoint = await FindAsync(id, caller, access, db, Need.Read, ct);
        var query = db.WebhookDeliveries.Where(d => d.EndpointId == endpoint.Id);
        if (status is not null)
        {
            if (!ApiEnums.TryParse<DeliveryStatus>(status, out var wanted)) throw ApiException.Validation("status", $"must be {ApiEnums.Names<DeliveryStatus>()}");
            query = query.Where(d => d.Status == wanted);
        }
        var rows = await query.ToPageAsync(page, d => d, ct);
        var ids = rows.Data.Select(d => d.Id).ToList();
        var attempts = (await db.WebhookAttempts.Where(a => ids.Contains(a.DeliveryId)).ToListAsync(ct)).ToLookup(a => a.DeliveryId);
        return new Page<DeliveryResponse>(rows.Data.Select(d => DeliveryResponse.From(d, attempts[d.Id])).ToList(), rows.NextCursor);
    }

    /// <summary>Sends a delivery again, whatever its state, as a new round of the retry schedule (same webhook-id).</summary>
    private static async Task<Accepted<DeliveryResponse>> RedeliverAsync(string id, string deliveryId, Caller caller, Access access, SlipwayDb db,
        WebhookWorker worker, TimeProvider time, CancellationToken ct)
    {
        var endpoint = await FindAsync(id, caller, access, db, Need.Manage, ct);
        if (!endpoint.Enabled) throw ApiException.InvalidState("The webhook is disabled; enable it before redelivering.");
        var delivery = (Ids.IsValid(deliveryId) ? await db.WebhookDeliveries.FirstOrDefaultAsync(d => d.Id == deliveryId && d.EndpointId == endpoint.Id, ct) : null)
                       ?? throw ApiException.NotFound("Delivery", deliveryId);
        var now = time.UtcNowMs();
        await db.WebhookDeliveries.Where(d => d.Id == delivery.Id).ExecuteUpdateAsync(s => s
            .SetProperty(d => d.Status, DeliveryStatus.Pending).SetProperty(d => d.AttemptCount, 0).SetProperty(d => d.NextAttemptAt, now)
            .SetProperty(d => d.CompletedAt, (DateTime?)null), ct);
        delivery.Status = DeliveryStatus.Pending;
        delivery.AttemptCount = 0;
        delivery.NextAttemptAt = now;
        delivery.CompletedAt = null;
        var attempts = await db.WebhookAttempts.Where(a => a.DeliveryId == delivery.Id).ToListAsync(ct);
        worker.Wake();
        return TypedResults.Accepted($"/api/v1/webhooks/{endpoint.Id}/deliveries", DeliveryResponse.From(delivery, attempts));
    }

    private static async Task<WebhookEndpoint> FindAsync(string id, Caller caller, Access access, SlipwayDb db, Need need, CancellationToken ct)
    {
        // One membership check (RoleAsync): what the caller cannot see is not found, like everything else.
        var endpoint = (Ids.IsValid(id) ? await db.WebhookEndpoints.FirstOrDefaultAsync(w => w.Id == id, ct) : null)
                       ?? throw ApiException.NotFound("Webhook", id);
        if (caller.KeyProjectId is { } only && endpoint.ProjectId != only) throw ApiException.NotFound("Webhook", id);
        var role = await access.RoleAsync(caller, endpoint.WorkspaceId, ct) ?? throw ApiException.NotFound("Webhook", id);
        if (need != Need.Read && caller.KeyProjectId is not null) throw ApiException.Forbidden("This API key is restricted to one project.");
        Access.Demand(role, need);
        return endpoint;
    }

    private static void CheckUrl(Validator v, TargetGuard guard, string? url)
    {
        if (url is not { Length: > 0 }) return;
        var problem = Validator.HasControlChars(url) ? "must not contain control characters" : guard.Problem(url);
        v.Check(problem is null, "url", problem ?? "");
    }

    private static void CheckEvents(Validator v, string[]? events)
    {
        if (events is null) return;
        v.Check(events.Length is > 0 and <= 50, "events", "must list between 1 and 50 event types");
        var unknown = events.FirstOrDefault(e => !Subscribable.Contains(e ?? ""));
        v.Check(!events.Any(e => !Subscribable.Contains(e ?? "")), "events",
            $"unknown event type '{unknown}'; use '*', a category such as 'deployment.*', or one of: {string.Join(", ", EventTypes)}");
    }
}
