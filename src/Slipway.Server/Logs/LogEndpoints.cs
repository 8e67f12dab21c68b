using System.Globalization;
using Microsoft.AspNetCore.Mvc;
using Slipway.Server.Auth;
using Slipway.Server.Data;
using Slipway.Server.Deployments;
using Slipway.Server.Hosting;
using Slipway.Server.Workspaces;

namespace Slipway.Server.Logs;

/// <summary>A stored line; <c>id</c> and <c>created_at</c> are the Pushpaka log item's names for the line's key and <c>timestamp</c>.</summary>
internal sealed record LogLineResponse(string Id, long Seq, string DeploymentId, DateTime Timestamp, DateTime CreatedAt, string Level, string Stream, string Message);

internal static class LogEndpoints
{
    public const int MaxLimit = 1000;

    public static WebApplicationBuilder AddLogs(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton(builder.Configuration.GetSection(LogOptions.SectionName).Get<LogOptions>() ?? new LogOptions());
        builder.Services.AddSingleton<LogRetention>();
        builder.Services.AddHostedService(s => s.GetRequiredService<LogRetention>());
        builder.Services.AddSingleton<LogHub>();
        builder.Services.AddSingleton<LogFollower>();
        builder.Services.AddSingleton<LogWriter>();
        builder.Services.AddHostedService(s => s.GetRequiredService<LogWriter>());
        return builder;
    }

    public static IEndpointRouteBuilder MapLogEndpoints(this IEndpointRouteBuilder app)
    {
        var logs = app.MapGroup("/api/v1/logs").WithTags("Logs");
        logs.MapGet("/{deploymentId}", ListAsync).RequireScope(Scopes.LogsRead).AllowQueryToken(followOnly: true)
            .Produces<Page<LogLineResponse>>(StatusCodes.Status200OK).Produces<StreamMessage>(StatusCodes.Status200OK, "application/x-ndjson")
            .Produces<string>(StatusCodes.Status200OK, "text/plain");
        logs.MapGet("/{deploymentId}/events", EventsAsync).RequireScope(Scopes.LogsRead).AllowQueryToken()
            .Produces<StreamMessage>(StatusCodes.Status200OK, "text/event-stream");
        logs.MapGet("/{deploymentId}/stream", WebSocketAsync).RequireScope(Scopes.LogsRead).AllowQueryToken()
            .Produces(StatusCodes.Status101SwitchingProtocols);
        app.MapGet("/api/v1/projects/{projectId}/logs", ProjectLogsAsync).RequireScope(Scopes.LogsRead).AllowQueryToken(followOnly: true).WithTags("Logs")
            .Produces<Page<LogLineResponse>>(StatusCodes.Status200OK).Produces<StreamMessage>(StatusCodes.Status200OK, "application/x-ndjson");
        return app;
    }

    /// <summary>Server-Sent Events: <c>id:</c> is the seq; resumes after <c>Last-Event-ID</c> (or <c>?after=</c>); <c>event: end</c> at the end.</summary>
    private static async Task EventsAsync(string deploymentId, HttpContext http, Caller caller, DeploymentAccess deployments, LogFollower follower,
        [FromQuery] string? after, CancellationToken ct)
    {
        var from = ParseAfter(http.Request.Headers["Last-Event-ID"].ToString() is { Length: > 0 } lastEventId ? lastEventId : after,
            http.Request.Headers.ContainsKey("Last-Event-ID") ? "Last-Event-ID" : "after");
        var deployment = await deployments.FindAsync(caller, deploymentId, Workspaces.Need.Read, ct);
        await LogStreaming.ServerSentEventsAsync(http, follower.FollowAsync(deployment.Id, from, ct), ct);
    }

    /// <summary>WebSocket: JSON messages (<c>log</c>, <c>status</c>, <c>gap</c>, then <c>end</c> and a normal close).</summary>
    private static async Task WebSocketAsync(string deploymentId, HttpContext http, Caller caller, DeploymentAccess deployments,
        LogFollower follower, [FromQuery] string? after, CancellationToken ct)
    {
        if (!http.WebSockets.IsWebSocketRequest) throw ApiException.Validation("upgrade", "this endpoint expects a WebSocket upgrade");
        var from = ParseAfter(after, "after");
        var deployment = await deployments.FindAsync(caller, deploymentId, Workspaces.Need.Read, ct);
        var bursts = await WebSocketBursts.AcceptAsync(http);
        using var socket = bursts.Socket;
        await LogStreaming.WebSocketAsync(bursts, follower.FollowAsync(deployment.Id, from, ct), ct);
    }

    /// <summary>
    /// The live release's runtime output (<c>stream=runtime</c>), paged like <see cref="ListAsync"/> (<c>after</c> or
    /// <c>cursor</c>, <c>limit</c>); with <c>follow=true</c> it keeps streaming as NDJSON.
    /// </summary>
    private static async Task<IResult> ProjectLogsAsync(string projectId, HttpContext http, Caller caller, Access access, SlipwayDb db,
        LogFollower follower, [FromQuery] string? environment, [FromQuery] bool? follow, [FromQuery] string? after, [FromQuery] string? cursor,
        [FromQuery] string? limit, CancellationToken ct)
    {
        var (afterSeq, take) = ParsePaging(after, cursor, limit);
        var (project, _) = await access.ProjectAsync(caller, projectId, Workspaces.Need.Read, ct);
        var env = await Projects.EnvironmentEndpoints.ByNameAsync(db, project.Id, environment, ct);
        var live = env.LiveDeploymentId ?? throw ApiException.NotFound($"Environment '{env.Name}' has no live release.");
        if (follow != true) return await PageAsync(db, live, afterSeq, take, "runtime", null, ct);
        await LogStreaming.NdjsonAsync(http, follower.FollowRuntimeAsync(live, afterSeq, ct), ct);
        return Results.Empty;
    }

    private static long ParseAfter(string? value, string field)
    {
        if (string.IsNullOrEmpty(value)) return 0;
        return long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var seq)
            ? seq
            : throw ApiException.Validation(field, "must be a log sequence number");
    }

    /// <summary>A stored line as every API returns it (REST pages, and Socket.IO's <c>log</c> payload, which <see cref="LogJson.LineTailOf"/> cuts from the stream message).</summary>
    internal static LogLineResponse Response(LogLine l) => new(LogJson.Id(l), l.Seq, l.DeploymentId, l.Timestamp, l.Timestamp, l.Level, l.Stream, l.Message);

    /// <summary>Lines in <c>seq</c> order after <c>after</c> (or the cursor); <c>limit</c> up to 1000 (default 100).</summary>
    private static async Task<IResult> ListAsync(string deploymentId, HttpContext http, Caller caller, DeploymentAccess deployments, SlipwayDb db,
        LogFollower follower, [FromQuery] string? after, [FromQuery] string? cursor, [FromQuery] string? limit, [FromQuery] string? stream,
        [FromQuery] string? level, [FromQuery] bool? follow, [FromQuery] string? format, CancellationToken ct)
    {
        var (afterSeq, take) = ParsePaging(after, cursor, limit, v =>
        {
            v.Check(stream is null or "system" or "build" or "stdout" or "stderr" or "runtime", "stream", "must be system, build, stdout, stderr or runtime");
            v.Check(level is null or "debug" or "info" or "warn" or "error", "level", "must be debug, info, warn or error");
            v.Check(format is null or "json" or "text", "format", "must be json or text");
            v.Check(format is not "text" || follow == true, "format", "text is for follow=true (curl -N); pages are JSON");
        });
        var deployment = await deployments.FindAsync(caller, deploymentId, Workspaces.Need.Read, ct);
        if (follow == true)
        {
            // NDJSON: one JSON object per line, flushed per batch, ending with an "end" object when the deployment ends;
            // format=text: the same as plain lines.
            var events = LogFollower.Filter(follower.FollowAsync(deployment.Id, afterSeq, ct), stream, level);
            if (format == "text") await LogStreaming.TextAsync(http, events, ct);
            else await LogStreaming.NdjsonAsync(http, events, ct);
            return Results.Empty;
        }
        return await PageAsync(db, deployment.Id, afterSeq, take, stream, level, ct);
    }

    /// <summary>
    /// <c>after</c> or <c>cursor</c> (the cursor wins) as the seq to start after, and <c>limit</c> (1 to
    /// <see cref="MaxLimit"/>, default 100); <paramref name="more"/> adds checks to the same validation error.
    /// </summary>
    private static (long After, int Take) ParsePaging(string? after, string? cursor, string? limit, Action<Validator>? more = null)
    {
        var v = new Validator();
        long afterSeq = 0;
        var take = 100;
        var from = cursor ?? after;
        v.Check(from is null || long.TryParse(from, NumberStyles.None, CultureInfo.InvariantCulture, out afterSeq), cursor is null ? "after" : "cursor",
            "must be a log sequence number");
        v.Check(limit is null || (int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out take) && take is >= 1 and <= MaxLimit),
            "limit", $"must be an integer between 1 and {MaxLimit}");
        more?.Invoke(v);
        v.ThrowIfInvalid();
        return (afterSeq, take);
    }

    /// <summary>One page of a deployment's stored lines in <c>seq</c> order; <c>next_cursor</c> is the last seq when more follow.</summary>
    private static async Task<IResult> PageAsync(SlipwayDb db, string deploymentId, long afterSeq, int take, string? stream, string? level,
        CancellationToken ct)
    {
        var query = db.LogLines.Where(l => l.DeploymentId == deploymentId && l.Seq > afterSeq);
        if (stream is not null) query = query.Where(l => l.Stream == stream);
        if (level is not null) query = query.Where(l => l.Level == level);
        var rows = await query.OrderBy(l => l.Seq).Take(take + 1).ToListAsync(ct);
        var more = rows.Count > take;
        if (more) rows.RemoveAt(rows.Count - 1);
        return TypedResults.Ok(new Page<LogLineResponse>(rows.Select(Response).ToList(), more ? rows[^1].Seq.ToString(CultureInfo.InvariantCulture) : null));
    }
}
