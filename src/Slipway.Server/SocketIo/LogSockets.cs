using System.Text.Json;
using Slipway.Server.Auth;
using Slipway.Server.Data;
using Slipway.Server.Deployments;
using Slipway.Server.Hosting;
using Slipway.Server.Logs;
using Slipway.Server.Workspaces;

namespace Slipway.Server.SocketIo;

internal sealed record ConnectOutcome(Caller? Caller, ErrorDetail? Error);

/// <summary>Slipway's use of Socket.IO: authenticate the CONNECT like a REST call, then log subscriptions per socket.</summary>
internal sealed class LogSockets(IServiceScopeFactory scopes, LogFollower follower, SocketIoOptions options, ILogger<LogSockets> logger)
{
    /// <summary>The <c>auth.token</c> of a CONNECT (JWT or API key) as a caller with <c>logs:read</c>, or why not.</summary>
    public async Task<ConnectOutcome> AuthenticateAsync(string? token, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(token))
        {
            return new ConnectOutcome(null, new ErrorDetail("unauthenticated", "Send a token or API key as auth: { token } in the handshake."));
        }
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var caller = await Authentication.AuthenticateTokenAsync(scope.ServiceProvider, token, ct);
            return caller.HasScope(Scopes.LogsRead)
                ? new ConnectOutcome(caller, null)
                : new ConnectOutcome(null, new ErrorDetail("insufficient_scope", $"This API key lacks the '{Scopes.LogsRead}' scope."));
        }
        catch (ApiException e)
        {
            return new ConnectOutcome(null, new ErrorDetail(e.Code, e.Message));
        }
    }

    public LogSocket Open(Caller caller, SocketIoConnection connection) => new(caller, connection, scopes, follower, options, logger);
}

/// <summary>
/// One authenticated socket: <c>subscribe</c> / <c>unsubscribe</c>, and one pump per subscription that turns a
/// <see cref="LogFollower"/> stream into <c>log</c>, <c>status</c>, <c>gap</c> and <c>end</c> events. A pump waits when
/// the socket's queue is full; the follower's own bounded buffer then overflows and it catches up from the database,
/// so a slow socket never holds up a build.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification =
    "Closing is canceled when the socket closes; pumps that end later still observe it, so it is never disposed.")]
internal sealed class LogSocket(Caller caller, SocketIoConnection connection, IServiceScopeFactory scopes, LogFollower follower,
    SocketIoOptions options, ILogger logger)
{
    private readonly Dictionary<string, CancellationTokenSource> subscriptions = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource closing = new();

    public string Id { get; } = EngineIoSession.NewId();

    public async Task<EventResult> OnEventAsync(string name, JsonElement? argument, CancellationToken ct)
    {
        try
        {
            return name switch
            {
                "subscribe" => await SubscribeAsync(Target.Parse(argument, allowAfter: true), ct),
                "unsubscribe" => Unsubscribe(Target.Parse(argument, allowAfter: false)),
                _ => Error("unknown_event", $"Unknown event '{Truncate(name)}'; this server handles 'subscribe' and 'unsubscribe'."),
            };
        }
        catch (ApiException e)
        {
            return new EventResult(new { error = new AckError(e.Code, e.Message, e.Details) });
        }
    }

    public void Close()
    {
        lock (subscriptions)
        {
            closing.Cancel();
            foreach (var subscription in subscriptions.Values) subscription.Cancel();
            subscriptions.Clear();
        }
    }

    private async Task<EventResult> SubscribeAsync(Target target, CancellationToken ct)
    {
        lock (subscriptions)
        {
            if (subscriptions.ContainsKey(target.Key)) return Error("conflict", $"Already subscribed to {target.Describe()}.");
            if (subscriptions.Count >= options.MaxSubscriptions)
            {
                return Error("limit_exceeded", $"A socket may hold {options.MaxSubscriptions} subscriptions; unsubscribe from one first.");
            }
        }

        await using var scope = scopes.CreateAsyncScope();
        string deploymentId;
        object ack;
        Func<CancellationToken, IAsyncEnumerable<LogEvent>> follow;
        if (target.DeploymentId is { } id)
        {
            var deployment = await scope.ServiceProvider.GetRequiredService<DeploymentAccess>().FindAsync(caller, id, Need.Read, ct);
            deploymentId = deployment.Id;
            ack = new { ok = true, deployment_id = deployment.Id, status = ApiEnums.Text(deployment.Status) };
            follow = token => follower.FollowAsync(deployment.Id, target.After, token);
        }
        else
        {
            var (project, _) = await scope.ServiceProvider.GetRequiredService<Access>().ProjectAsync(caller, target.ProjectId, Need.Read, ct);
            var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
            var env = await Projects.EnvironmentEndpoints.ByNameAsync(db, project.Id, target.Environment, ct);
            deploymentId = env.LiveDeploymentId ?? throw ApiException.NotFound($"Environment '{env.Name}' has no live release.");
            ack = new { ok = true, project_id = project.Id, environment = env.Name, deployment_id = deploymentId };
            // Like GET /projects/{id}/logs?follow=true: the live release's runtime output, never ending.
            follow = token => follower.FollowRuntimeAsync(deploymentId, target.After, token);
        }

        CancellationTokenSource stop;
        lock (subscriptions)
        {
            if (closing.IsCancellationRequested) return Error("unavailable", "The connection is closing.");
            if (subscriptions.ContainsKey(target.Key)) return Error("conflict", $"Already subscribed to {target.Describe()}.");
            if (subscriptions.Count >= options.MaxSubscriptions)
            {
                return Error("limit_exceeded", $"A socket may hold {options.MaxSubscriptions} subscriptions; unsubscribe from one first.");
            }
            stop = CancellationTokenSource.CreateLinkedTokenSource(closing.Token);
            subscriptions[target.Key] = stop;
        }
        return new EventResult(ack, () => _ = PumpAsync(target.Key, deploymentId, follow(stop.Token), stop));
    }

    private EventResult Unsubscribe(Target target)
    {
        lock (subscriptions)
        {
            if (!subscriptions.Remove(target.Key, out var stop)) return Error("not_found", $"No subscription to {target.Describe()}.");
            stop.Cancel();
        }
        return new EventResult(new { ok = true });
    }

    private async Task PumpAsync(string key, string deploymentId, IAsyncEnumerable<LogEvent> events, CancellationTokenSource stop)
    {
        var ct = stop.Token;
        try
        {
            await foreach (var evt in events.WithCancellation(ct))
            {
                var sent = evt switch
                {
                    { IsLine: true } => await connection.EmitEncodedAsync(evt.SocketIoLogMessage, ct),
                    { Type: "status" } => await connection.EmitAsync("status", new StatusPayload(deploymentId, evt.Status!), ct),
                    { Type: "gap" } => await connection.EmitAsync("gap", new GapPayload(deploymentId, evt.From ?? 0), ct),
                    { Type: "end" } => await connection.EmitAsync("end", new StatusPayload(deploymentId, evt.Status!), ct),
                    _ => true,
                };
                if (!sent || evt.Type == "end") break;
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            SocketIoLog.FollowFailed(logger, deploymentId, ex);
        }
        finally
        {
            lock (subscriptions)
            {
                if (subscriptions.TryGetValue(key, out var current) && current == stop) subscriptions.Remove(key);
            }
            stop.Dispose();
        }
    }

    private static EventResult Error(string code, string message) => new(new { error = new ErrorDetail(code, message) });

    private static string Truncate(string text) => text.Length > 64 ? text[..64] + "…" : text;

    private sealed record StatusPayload(string DeploymentId, string Status);

    private sealed record GapPayload(string DeploymentId, long From);

    private sealed record AckError(string Code, string Message,
        [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
        IReadOnlyList<FieldError>? Details);

    /// <summary>
    /// What a <c>subscribe</c> or <c>unsubscribe</c> names: one deployment, or one project's live release in an
    /// environment (production when none is named, as in REST), so <c>{project_id}</c> and
    /// <c>{project_id, environment: "production"}</c> are the same subscription.
    /// </summary>
    private sealed record Target(string? DeploymentId, string? ProjectId, string? Environment, long After)
    {
        public string Key => DeploymentId is not null ? "deployment:" + DeploymentId : "project:" + ProjectId + ":" + Environment;

        public string Describe() => DeploymentId is not null ? $"deployment '{DeploymentId}'" : $"project '{ProjectId}' ({Environment})";

        public static Target Parse(JsonElement? argument, bool allowAfter)
        {
            var v = new Validator();
            if (argument is not { ValueKind: JsonValueKind.Object } body)
            {
                throw ApiException.Validation("", "send an object: { deployment_id } or { project_id }");
            }
            var deployment = Text(body, "deployment_id", v);
            var project = Text(body, "project_id", v);
            var environment = Text(body, "environment", v);
            v.Check((deployment is null) != (project is null), "deployment_id", "send exactly one of deployment_id and project_id");
            v.Check(environment is null || project is not null, "environment", "applies to project_id only");
            long after = 0;
            if (body.TryGetProperty("after", out var a) && a.ValueKind != JsonValueKind.Null)
            {
                v.Check(allowAfter && a.ValueKind == JsonValueKind.Number && a.TryGetInt64(out after) && after >= 0, "after",
                    allowAfter ? "must be a log sequence number" : "applies to subscribe only");
            }
            v.ThrowIfInvalid();
            return new Target(deployment, project, project is null ? null : environment ?? Projects.ProjectEnvironment.Production, after);
        }

        private static string? Text(JsonElement body, string field, Validator v)
        {
            if (!body.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null) return null;
            v.Check(value.ValueKind == JsonValueKind.String && value.GetString()!.Length is > 0 and <= 200, field, "must be a non-empty string");
            return value.ValueKind == JsonValueKind.String ? value.GetString() : null;
        }
    }
}
