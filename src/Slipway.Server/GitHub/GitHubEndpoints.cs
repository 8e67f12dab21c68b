using Slipway.Server.Auth;
using Slipway.Server.Data;
using Slipway.Server.EnvVars;
using Slipway.Server.Hosting;
using Slipway.Server.OpenApi;
using Slipway.Server.Workspaces;

namespace Slipway.Server.GitHub;

/// <summary><c>Slipway:GitHub</c>: limits of the receiving endpoint.</summary>
internal sealed class GitHubOptions
{
    public const string SectionName = "Slipway:GitHub";

    /// <summary>Largest delivery accepted, in bytes (413 beyond). GitHub sends at most 25 MB; pushes are far smaller.</summary>
    public long MaxPayloadBytes { get; set; } = 5 * 1024 * 1024;

    /// <summary>How long delivery ids are remembered for de-duplication (GitHub redelivers for a few days at most).</summary>
    public TimeSpan DeliveryRetention { get; set; } = TimeSpan.FromDays(30);
}

internal sealed record GitHubLastDeliveryResponse(string DeliveryId, string Event, GitHubDeliveryStatus Status, string? Reason, DateTime ReceivedAt);

/// <summary>
/// What to enter in GitHub (repository → Settings → Webhooks): <c>url</c> as the payload URL, <c>content_type</c>,
/// the secret, and the <c>events</c>. Never the secret itself.
/// </summary>
internal sealed record GitHubIntegrationResponse(
    string Id, string ProjectId, string Url, string ContentType, IReadOnlyList<string> Events, GitHubLastDeliveryResponse? LastDelivery,
    string? CreatedBy, DateTime CreatedAt, DateTime UpdatedAt);

/// <summary>The integration with its <c>secret</c>: from create and rotate (shown once), and from the admins' reveal.</summary>
internal sealed record GitHubIntegrationSecretResponse(
    string Id, string ProjectId, string Url, string ContentType, IReadOnlyList<string> Events, GitHubLastDeliveryResponse? LastDelivery,
    string? CreatedBy, DateTime CreatedAt, DateTime UpdatedAt, string Secret)
{
    public static GitHubIntegrationSecretResponse From(GitHubIntegrationResponse r, string secret) =>
        new(r.Id, r.ProjectId, r.Url, r.ContentType, r.Events, r.LastDelivery, r.CreatedBy, r.CreatedAt, r.UpdatedAt, secret);
}

/// <summary>
/// Per-project management of the GitHub webhook (create, read, reveal, rotate, delete) and the feature's registration.
/// Creating and rotating show the secret once; afterwards only owners and admins (and keys, which act as admins) can
/// reveal it. The receiving endpoint is <see cref="GitHubReceiver"/>.
/// </summary>
internal static class GitHubEndpoints
{
    public const string ContentType = "application/json";
    public static readonly IReadOnlyList<string> Events = [GitHubEvents.Push, GitHubEvents.PullRequest];

    public static WebApplicationBuilder AddGitHub(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(GitHubOptions.SectionName).Get<GitHubOptions>() ?? new GitHubOptions();
        if (options.MaxPayloadBytes <= 0) throw new InvalidOperationException($"{GitHubOptions.SectionName}:MaxPayloadBytes must be positive.");
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<GitHubSecrets>();
        return builder;
    }

    public static IEndpointRouteBuilder MapGitHubEndpoints(this IEndpointRouteBuilder app)
    {
        var github = app.MapGroup("/api/v1/projects/{projectId}/integrations/github").WithTags("GitHub");
        github.MapPost("/", CreateAsync).RequireScope(Scopes.ProjectsWrite)
            .WithSummary("Create the GitHub integration")
            .WithDescription("Creates the project's receiving URL and webhook secret. The secret is shown in this response once; " +
                             "owners and admins can reveal it again. 409 if the project already has one.");
        github.MapGet("/", GetAsync).RequireScope(Scopes.ProjectsRead).WithSummary("Get the GitHub integration");
        github.MapDelete("/", DeleteAsync).RequireScope(Scopes.ProjectsWrite)
            .WithSummary("Delete the GitHub integration")
            .WithDescription("Deliveries to its URL are 404 from then on.");
        github.MapPost("/reveal-secret", RevealSecretAsync).RequireScope(Scopes.ProjectsWrite).ProducesErrors(403)
            .WithSummary("Reveal the GitHub webhook secret")
            .WithDescription("Owners and admins only (API keys act as admins).");
        github.MapPost("/rotate-secret", RotateSecretAsync).RequireScope(Scopes.ProjectsWrite)
            .WithSummary("Rotate the GitHub webhook secret")
            .WithDescription("Replaces the secret at once: deliveries signed with the old one are 401 until GitHub has the new one.");
        app.MapGitHubReceiver();
        return app;
    }

    private static async Task<Created<GitHubIntegrationSecretResponse>> CreateAsync(string projectId, Caller caller, Access access, SlipwayDb db,
        GitHubSecrets secrets, ApiOptions api, HttpContext context, TimeProvider time, CancellationToken ct)
    {
        var (project, _) = await access.ProjectAsync(caller, projectId, Need.Write, ct, "projectId");
        if (await db.GitHubIntegrations.AnyAsync(h => h.ProjectId == project.Id, ct)) throw AlreadyThere();
        var now = time.UtcNowMs();
        var id = Ids.New(time);
        var secret = GitHubSecrets.NewSecret();
        var (sealedSecret, keyId) = secrets.Seal(secret, project.Id, id);
        var hook = new GitHubIntegration
        {
            Id = id, ProjectId = project.Id, SecretSealed = sealedSecret, KeyId = keyId, CreatedBy = caller.UserId, CreatedAt = now, UpdatedAt = now,
        };
        db.GitHubIntegrations.Add(hook);
        await db.SaveUniqueAsync(AlreadyThere().Message, ct);
        NoStore(context);
        return TypedResults.Created($"/api/v1/projects/{project.Id}/integrations/github",
            GitHubIntegrationSecretResponse.From(Response(hook, null, context.Request, api), secret));
    }

    private static async Task<GitHubIntegrationResponse> GetAsync(string projectId, Caller caller, Access access, SlipwayDb db, ApiOptions api,
        HttpContext context, CancellationToken ct)
    {
        var hook = await FindAsync(caller, access, db, projectId, Need.Read, ct);
        return Response(hook, await LastDeliveryAsync(db, hook.Id, ct), context.Request, api);
    }

    private static async Task<NoContent> DeleteAsync(string projectId, Caller caller, Access access, SlipwayDb db, CancellationToken ct)
    {
        var hook = await FindAsync(caller, access, db, projectId, Need.Write, ct);
        if (await db.GitHubIntegrations.Where(h => h.Id == hook.Id).ExecuteDeleteAsync(ct) == 0) throw NotFound();
        return TypedResults.NoContent();
    }

    private static async Task<GitHubIntegrationSecretResponse> RevealSecretAsync(string projectId, Caller caller, Access access, SlipwayDb db,
        GitHubSecrets secrets, ApiOptions api, HttpContext context, ILogger<GitHubSecrets> logger, CancellationToken ct)
    {
        var hook = await FindAsync(caller, access, db, projectId, Need.Manage, ct);
        string secret;
        try
        {
            secret = secrets.Open(hook);
        }
        catch (SecretUnavailableException)
        {
            throw ApiException.InvalidState("The secret can no longer be read with the configured master keys: rotate it and update GitHub.");
        }
        GitHubLog.SecretRevealed(logger, hook.Id, hook.ProjectId, caller.Id);
        NoStore(context);
        return GitHubIntegrationSecretResponse.From(Response(hook, await LastDeliveryAsync(db, hook.Id, ct), context.Request, api), secret);
    }

    private static async Task<GitHubIntegrationSecretResponse> RotateSecretAsync(string projectId, Caller caller, Access access, SlipwayDb db,
        GitHubSecrets secrets, ApiOptions api, HttpContext context, TimeProvider time, ILogger<GitHubSecrets> logger, CancellationToken ct)
    {
        var hook = await FindAsync(caller, access, db, projectId, Need.Write, ct);
        var secret = GitHubSecrets.NewSecret();
        var (sealedSecret, keyId) = secrets.Seal(secret, hook.ProjectId, hook.Id);
        var now = time.UtcNowMs();
        var changed = await db.GitHubIntegrations.Where(h => h.Id == hook.Id).ExecuteUpdateAsync(s => s
            .SetProperty(h => h.SecretSealed, sealedSecret).SetProperty(h => h.KeyId, keyId).SetProperty(h => h.UpdatedAt, now), ct);
        if (changed == 0) throw NotFound();
        hook.UpdatedAt = now;
        GitHubLog.SecretRotated(logger, hook.Id, hook.ProjectId, caller.Id);
        NoStore(context);
        return GitHubIntegrationSecretResponse.From(Response(hook, await LastDeliveryAsync(db, hook.Id, ct), context.Request, api), secret);
    }

    private static async Task<GitHubIntegration> FindAsync(Caller caller, Access access, SlipwayDb db, string projectId, Need need,
        CancellationToken ct)
    {
        var (project, _) = await access.ProjectAsync(caller, projectId, need, ct, "projectId");
        return await db.GitHubIntegrations.FirstOrDefaultAsync(h => h.ProjectId == project.Id, ct) ?? throw NotFound();
    }

    private static async Task<GitHubLastDeliveryResponse?> LastDeliveryAsync(SlipwayDb db, string hookId, CancellationToken ct) =>
        await db.GitHubDeliveries.Where(d => d.HookId == hookId).OrderByDescending(d => d.ReceivedAt).ThenByDescending(d => d.DeliveryId)
            .Select(d => new GitHubLastDeliveryResponse(d.DeliveryId, d.Event, d.Status, d.Reason, d.ReceivedAt)).FirstOrDefaultAsync(ct);

    private static GitHubIntegrationResponse Response(GitHubIntegration hook, GitHubLastDeliveryResponse? last, HttpRequest request, ApiOptions api) =>
        new(hook.Id, hook.ProjectId, ReceivingUrl(request, api, hook.Id), ContentType, Events, last, hook.CreatedBy, hook.CreatedAt, hook.UpdatedAt);

    /// <summary>Absolute: <c>Slipway:Api:PublicUrl</c> when set (behind a proxy), else the address this request came to.</summary>
    internal static string ReceivingUrl(HttpRequest request, ApiOptions api, string hookId)
    {
        var root = api.PublicUrl is { Length: > 0 } configured
            ? configured.TrimEnd('/')
            : $"{request.Scheme}://{request.Host.ToUriComponent()}{request.PathBase.ToUriComponent()}";
        return $"{root}{GitHubReceiver.RoutePrefix}/{hookId}";
    }

    private static void NoStore(HttpContext context) => context.Response.Headers.CacheControl = "no-store";

    private static ApiException NotFound() => ApiException.NotFound("This project has no GitHub integration.");

    private static ApiException AlreadyThere() =>
        ApiException.Conflict("This project already has a GitHub integration: reveal or rotate its secret, or delete it first.");
}

internal static partial class GitHubLog
{
    [LoggerMessage(EventId = 8101, Level = LogLevel.Information,
        Message = "GitHub delivery {DeliveryId} ({Event}) for hook {HookId}: {Status} {Reason}")]
    public static partial void Received(ILogger logger, string deliveryId, string @event, string hookId, GitHubDeliveryStatus status, string? reason);

    [LoggerMessage(EventId = 8102, Level = LogLevel.Warning,
        Message = "GitHub delivery {DeliveryId} for hook {HookId} refused: {Problem}")]
    public static partial void Refused(ILogger logger, string deliveryId, string hookId, string problem);

    [LoggerMessage(EventId = 8103, Level = LogLevel.Error,
        Message = "The secret of GitHub hook {HookId} does not open with key '{KeyId}': deliveries cannot be verified")]
    public static partial void SecretUnavailable(ILogger logger, string hookId, string keyId);

    [LoggerMessage(EventId = 8104, Level = LogLevel.Information, Message = "GitHub hook {HookId} of project {ProjectId}: secret revealed to {CallerId}")]
    public static partial void SecretRevealed(ILogger logger, string hookId, string projectId, string callerId);

    [LoggerMessage(EventId = 8105, Level = LogLevel.Information, Message = "GitHub hook {HookId} of project {ProjectId}: secret rotated by {CallerId}")]
    public static partial void SecretRotated(ILogger logger, string hookId, string projectId, string callerId);

    [LoggerMessage(EventId = 8106, Level = LogLevel.Information,
        Message = "Re-encrypted {Count} GitHub webhook secret(s) to key '{KeyId}'; {Failed} could not be opened")]
    public static partial void Reencrypted(ILogger logger, int count, string keyId, int failed);

    [LoggerMessage(EventId = 8107, Level = LogLevel.Warning, Message = "GitHub hook {HookId}: secret does not open with key '{KeyId}'; left as it is")]
    public static partial void ReencryptFailed(ILogger logger, string hookId, string keyId);

    [LoggerMessage(EventId = 8108, Level = LogLevel.Warning, Message = "Could not remove old GitHub deliveries of hook {HookId}")]
    public static partial void PruneFailed(ILogger logger, Exception ex, string hookId);
}
