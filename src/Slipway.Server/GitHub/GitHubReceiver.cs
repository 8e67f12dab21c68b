using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.OpenApi;
using Microsoft.Net.Http.Headers;
using Slipway.Server.Auth;
using Slipway.Server.Data;
using Slipway.Server.Deployments;
using Slipway.Server.EnvVars;
using Slipway.Server.Hosting;
using Slipway.Server.Projects;
using Slipway.Server.OpenApi;

namespace Slipway.Server.GitHub;

internal sealed record GitHubQueuedDeployment(string DeploymentId, string Environment, string Branch, string CommitSha);

/// <summary>
/// The answer to a delivery, shown in GitHub's "Recent Deliveries": <c>status</c> <c>accepted</c> (202) with the
/// deployments queued, or <c>ignored</c>, <c>pong</c>, <c>duplicate</c> (200) with a <c>reason</c> code and a message.
/// </summary>
internal sealed record GitHubDeliveryResponse(
    GitHubDeliveryStatus Status, string DeliveryId, string Event, string? Reason, string Message, IReadOnlyList<GitHubQueuedDeployment> Deployments);

/// <summary>
/// <c>POST /api/v1/integrations/github/{hookId}</c>: anonymous, authenticated by <c>X-Hub-Signature-256</c> (HMAC-SHA256
/// of the raw body under the hook's secret, compared in constant time). It only reads, verifies, records and queues —
/// no clone or build runs inline — so GitHub gets its answer well within its 10 s. Order of checks: unknown hook 404,
/// body over the limit 413, missing or wrong signature 401, then (the sender proven) content type 415, headers 400,
/// JSON 400, replayed delivery id 200 <c>duplicate</c>, and finally the event itself.
/// </summary>
internal static partial class GitHubReceiver
{
    public const string RoutePrefix = "/api/v1/integrations/github";
    public const string SignatureHeader = "X-Hub-Signature-256";
    public const string EventHeader = "X-GitHub-Event";
    public const string DeliveryHeader = "X-GitHub-Delivery";
    public const string DuplicateReason = "duplicate_delivery";

    [GeneratedRegex("^[a-z_]{1,64}$")]
    private static partial Regex EventName();

    [GeneratedRegex("^[A-Za-z0-9._:-]{1,128}$")]
    private static partial Regex DeliveryId();

    public static IEndpointRouteBuilder MapGitHubReceiver(this IEndpointRouteBuilder app)
    {
        app.MapPost(RoutePrefix + "/{hookId}", ReceiveAsync).Anonymous().WithTags("GitHub").ProducesErrors(401, 413, 415, 503)
            .WithSummary("Receive a GitHub webhook delivery")
            .WithDescription("GitHub's payload URL for a project (see the project's GitHub integration). Send `application/json` with " +
                             "`X-GitHub-Event`, `X-GitHub-Delivery` and `X-Hub-Signature-256`. `push` and `pull_request` may queue " +
                             "deployments (202); `ping`, ignored events and replayed delivery ids are 200 with a `reason`. " +
                             "A missing or wrong signature is 401.")
            .AddOpenApiOperationTransformer((operation, _, _) =>
            {
                // The body is read raw (the signature covers its bytes), so no parameter describes it: say what it is here.
                operation.RequestBody = new OpenApiRequestBody
                {
                    Required = true,
                    Description = "GitHub's event payload, exactly as GitHub sent it.",
                    Content = new Dictionary<string, OpenApiMediaType>(StringComparer.Ordinal)
                    {
                        ["application/json"] = new() { Schema = new OpenApiSchema { Type = JsonSchemaType.Object } },
                    },
                };
                return Task.CompletedTask;
            });
        return app;
    }

    private static async Task<Results<Accepted<GitHubDeliveryResponse>, Ok<GitHubDeliveryResponse>>> ReceiveAsync(string hookId,
        HttpContext context, SlipwayDb db, GitHubSecrets secrets, DeploymentQueueing queueing, DeploymentQueue queue, GitHubOptions options,
        ProjectReadCache projects, TimeProvider time, ILogger<GitHubDelivery> logger)
    {
        var ct = context.RequestAborted;
        var request = context.Request;
        var hook = (Ids.IsValid(hookId) ? await db.GitHubIntegrations.FirstOrDefaultAsync(h => h.Id == hookId, ct) : null)
                   ?? throw ApiException.NotFound("GitHub hook", hookId);
        var body = await ReadBodyAsync(context, options.MaxPayloadBytes, ct);
        var deliveryId = request.Headers[DeliveryHeader].ToString();
        var shownDelivery = DeliveryId().IsMatch(deliveryId) ? deliveryId : "(none)";

        string secret;
        try
        {
            secret = secrets.Open(hook);
        }
        catch (SecretUnavailableException)
        {
            GitHubLog.SecretUnavailable(logger, hook.Id, hook.KeyId);
            throw new ApiException(503, "unavailable",
                "This hook's secret cannot be read with the server's master keys; an administrator must restore the key or rotate the secret.");
        }
        var signature = request.Headers[SignatureHeader];
        if (signature.Count == 0)
        {
            GitHubLog.Refused(logger, shownDelivery, hook.Id, "no signature");
            throw ApiException.Unauthenticated($"{SignatureHeader} is missing: give the webhook this hook's secret in GitHub.");
        }
        if (!GitHubSecrets.Verify(secret, body, signature.Count == 1 ? signature[0] : null))
        {
            GitHubLog.Refused(logger, shownDelivery, hook.Id, "bad signature");
            throw ApiException.Unauthenticated($"{SignatureHeader} does not match the body signed with this hook's secret.");
        }

        if (!IsJson(request.ContentType))
        {
            throw new ApiException(415, "unsupported_media_type", "Set the webhook's content type to application/json in GitHub.");
        }
        var eventName = request.Headers[EventHeader].ToString();
        new Validator()
            .Check(EventName().IsMatch(eventName), EventHeader, "must name a GitHub event (push, pull_request, ping, …)")
            .Check(DeliveryId().IsMatch(deliveryId), DeliveryHeader, "must be GitHub's delivery id (1-128 of A-Z a-z 0-9 . _ : -)")
            .ThrowIfInvalid();

        using var document = Parse(body);
        var earlier = await db.GitHubDeliveries.FirstOrDefaultAsync(d => d.HookId == hook.Id && d.DeliveryId == deliveryId, ct);
        if (earlier is not null) return Answer(logger, hook, Duplicate(earlier));

        // The project and its environments as every authorization check reads them: from the read cache.
        var snapshot = await projects.GetAsync(db, hook.ProjectId, ct) ?? throw ApiException.NotFound("GitHub hook", hookId);
        var project = snapshot.Project.Copy();
        var environments = snapshot.Environments;
        var decision = GitHubEvents.Decide(eventName, document.RootElement, project, environments);
        var delivery = new GitHubDelivery
        {
            HookId = hook.Id, DeliveryId = deliveryId, Event = eventName, Status = decision.Status, Reason = decision.Reason, Response = "{}",
            ReceivedAt = time.UtcNowMs(),
        };
        var response = new GitHubDeliveryResponse(decision.Status, deliveryId, eventName, decision.Reason, decision.Message, []);
        try
        {
            if (decision.Targets.Count == 0)
            {
                delivery.Response = JsonSerializer.Serialize(response, SlipwayJson.Options);
                db.GitHubDeliveries.Add(delivery);
                await db.SaveChangesAsync(ct);
            }
            else
            {
                // The delivery row claims its id first: a concurrent copy fails on the primary key and queues nothing;
                // the deployments (each with deployment.created and deployment.github) commit with it or not at all.
                await using var tx = await db.Database.BeginTransactionAsync(ct);
                db.GitHubDeliveries.Add(delivery);
                await db.SaveChangesAsync(ct);
                var queued = new List<GitHubQueuedDeployment>();
                foreach (var target in decision.Targets)
                {
                    var deployment = await queueing.QueueAsync(null, project, target.Environment, DeploymentTrigger.Github, target.Branch,
                        target.CommitSha, source: null, ct, target.CommitMessage);
                    queued.Add(new GitHubQueuedDeployment(deployment.Id, target.Environment.Name, target.Branch, target.CommitSha));
                }
                response = response with { Deployments = queued };
                delivery.Response = JsonSerializer.Serialize(response, SlipwayJson.Options);
                await db.SaveChangesAsync(ct);
                await tx.CommitAsync(ct);
                queue.Wake();
            }
        }
        catch (DbUpdateException ex) when (DbExtensions.IsUniqueViolation(ex))
        {
            db.ChangeTracker.Clear();
            var first = await db.GitHubDeliveries.FirstAsync(d => d.HookId == hook.Id && d.DeliveryId == deliveryId, ct);
            return Answer(logger, hook, Duplicate(first));
        }
        await PruneAsync(db, hook.Id, delivery.ReceivedAt - options.DeliveryRetention, logger, ct);
        return Answer(logger, hook, response);
    }

    private static Results<Accepted<GitHubDeliveryResponse>, Ok<GitHubDeliveryResponse>> Answer(ILogger logger, GitHubIntegration hook,
        GitHubDeliveryResponse response)
    {
        GitHubLog.Received(logger, response.DeliveryId, response.Event, hook.Id, response.Status, response.Reason);
        return response.Status == GitHubDeliveryStatus.Accepted ? TypedResults.Accepted((string?)null, response) : TypedResults.Ok(response);
    }

    private static GitHubDeliveryResponse Duplicate(GitHubDelivery first)
    {
        var original = JsonSerializer.Deserialize<GitHubDeliveryResponse>(first.Response, SlipwayJson.Options);
        var status = ApiEnums.Text(first.Status);
        return new GitHubDeliveryResponse(GitHubDeliveryStatus.Duplicate, first.DeliveryId, first.Event, DuplicateReason,
            $"Delivery {first.DeliveryId} was already received at {SlipwayJson.Timestamp(first.ReceivedAt)} ({status}); nothing was done again.",
            original?.Deployments ?? []);
    }

    /// <summary>The raw body, which is what the signature covers, up to the limit (413 beyond, also for a chunked body).</summary>
    private static async Task<byte[]> ReadBodyAsync(HttpContext context, long limit, CancellationToken ct)
    {
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size) size.MaxRequestBodySize = limit + (1 << 20);
        if (context.Request.ContentLength > limit)
        {
            // Read (and drop) a body that is merely too large, so the sender gets the 413 rather than a reset
            // connection; a huge one is refused at once.
            if (context.Request.ContentLength <= limit + (1 << 20))
            {
                await context.Request.Body.CopyToAsync(Stream.Null, ct);
            }
            throw TooLarge(limit);
        }
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await context.Request.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > limit) throw TooLarge(limit);
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    private static JsonDocument Parse(byte[] body)
    {
        // JsonDocument checks UTF-8 only when a string is read: an invalid byte would surface later as a 500.
        if (!System.Text.Unicode.Utf8.IsValid(body)) throw new ApiException(400, "invalid_json", "The payload is not valid UTF-8.");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException)
        {
            throw new ApiException(400, "invalid_json", "The payload is not valid JSON.");
        }
        if (document.RootElement.ValueKind == JsonValueKind.Object) return document;
        document.Dispose();
        throw new ApiException(400, "invalid_json", "The payload must be a JSON object.");
    }

    private static bool IsJson(string? contentType) =>
        MediaTypeHeaderValue.TryParse(contentType, out var media) && media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase);

    private static ApiException TooLarge(long limit) =>
        new(413, "payload_too_large", $"The payload is larger than this server accepts ({limit} bytes).");

    /// <summary>Forgets this hook's deliveries older than the retention; a failure here must not fail the delivery.</summary>
    private static async Task PruneAsync(SlipwayDb db, string hookId, DateTime before, ILogger logger, CancellationToken ct)
    {
        try
        {
            await db.GitHubDeliveries.Where(d => d.HookId == hookId && d.ReceivedAt < before).ExecuteDeleteAsync(ct);
        }
        catch (Exception ex) when (ex is DbUpdateException or System.Data.Common.DbException)
        {
            GitHubLog.PruneFailed(logger, ex, hookId);
        }
    }
}
