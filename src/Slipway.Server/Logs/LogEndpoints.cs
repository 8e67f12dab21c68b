using System.Globalization;
using Microsoft.AspNetCore.Mvc;
using Slipway.Server.Auth;
using Slipway.Server.Data;
using Slipway.Server.Deployments;
using Slipway.Server.Hosting;

namespace Slipway.Server.Logs;

internal sealed record LogLineResponse(long Seq, string DeploymentId, DateTime Timestamp, string Level, string Stream, string Message);

internal static class LogEndpoints
{
    public const int MaxLimit = 1000;

    public static WebApplicationBuilder AddLogs(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<LogWriter>();
        builder.Services.AddHostedService(s => s.GetRequiredService<LogWriter>());
        return builder;
    }

    public static IEndpointRouteBuilder MapLogEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/api/v1/logs").WithTags("Logs").MapGet("/{deploymentId}", ListAsync).RequireScope(Scopes.LogsRead);
        return app;
    }

    /// <summary>Lines in <c>seq</c> order after <c>after</c> (or the cursor); <c>limit</c> up to 1000 (default 100).</summary>
    private static async Task<Page<LogLineResponse>> ListAsync(string deploymentId, Caller caller, DeploymentAccess deployments, SlipwayDb db,
        [FromQuery] string? after, [FromQuery] string? cursor, [FromQuery] string? limit, [FromQuery] string? stream, [FromQuery] string? level,
        CancellationToken ct)
    {
        var v = new Validator();
        long afterSeq = 0;
        var take = 100;
        var from = cursor ?? after;
        v.Check(from is null || long.TryParse(from, NumberStyles.None, CultureInfo.InvariantCulture, out afterSeq), cursor is null ? "after" : "cursor",
            "must be a log sequence number");
        v.Check(limit is null || (int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out take) && take is >= 1 and <= MaxLimit),
            "limit", $"must be an integer between 1 and {MaxLimit}");
        v.Check(stream is null or "system" or "build" or "stdout" or "stderr" or "runtime", "stream", "must be system, build, stdout, stderr or runtime");
        v.Check(level is null or "debug" or "info" or "warn" or "error", "level", "must be debug, info, warn or error");
        v.ThrowIfInvalid();
        var deployment = await deployments.FindAsync(caller, deploymentId, Workspaces.Need.Read, ct);

        var query = db.LogLines.Where(l => l.DeploymentId == deployment.Id && l.Seq > afterSeq);
        if (stream is not null) query = query.Where(l => l.Stream == stream);
        if (level is not null) query = query.Where(l => l.Level == level);
        var rows = await query.OrderBy(l => l.Seq).Take(take + 1).ToListAsync(ct);
        var more = rows.Count > take;
        if (more) rows.RemoveAt(rows.Count - 1);
        return new Page<LogLineResponse>(
            rows.Select(l => new LogLineResponse(l.Seq, l.DeploymentId, l.Timestamp, l.Level, l.Stream, l.Message)).ToList(),
            more ? rows[^1].Seq.ToString(CultureInfo.InvariantCulture) : null);
    }
}
