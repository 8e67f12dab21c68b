using System.Runtime.CompilerServices;
using Slipway.Server.Data;
using Slipway.Server.Deployments;

namespace Slipway.Server.Logs;

/// <summary>
/// Backlog then live lines of one deployment, every line exactly once and in order, then <c>end</c> when it reaches
/// a terminal state. Registration comes before the snapshot (subscribe, flush the writer, read the stored lines), so
/// no line falls between backlog and live. A follower whose buffer overflowed is told (<c>gap</c>) and catches up
/// from the database before going live again: slow readers lose nothing and slow down no one.
/// </summary>
internal sealed class LogFollower(LogHub hub, LogWriter writer, IServiceScopeFactory scopes)
{
    private const int BacklogPage = 2_000;

    public async IAsyncEnumerable<LogEvent> FollowAsync(string deploymentId, long afterSeq, [EnumeratorCancellation] CancellationToken ct,
        bool endAtTerminal = true)
    {
        var last = afterSeq;
        while (true)
        {
            using var subscription = hub.Subscribe(deploymentId);
            await writer.FlushAsync(ct);
            await using (var scope = scopes.CreateAsyncScope())
            {
                var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
                // The status is read before the lines: a deployment already terminal stored its last line before it
                // became terminal, so the read below has them all. Read after, it could be terminal with lines stored
                // after the read, and those would be lost behind an early end.
                var status = await db.Deployments.Where(d => d.Id == deploymentId).Select(d => (DeploymentStatus?)d.Status).FirstOrDefaultAsync(ct);
                while (true)
                {
                    var from = last;
                    var page = await db.LogLines.Where(l => l.DeploymentId == deploymentId && l.Seq > from).OrderBy(l => l.Seq)
                        .Take(BacklogPage).ToListAsync(ct);
                    foreach (var line in page)
                    {
                        last = line.Seq;
                        yield return LogEvent.ForLine(line, inRing: false);
                    }
                    if (page.Count < BacklogPage) break;
                }
                if (status is null || (endAtTerminal && Deployment.IsTerminal(status.Value)))
                {
                    yield return LogEvent.End(status is null ? "deleted" : Hosting.ApiEnums.Text(status.Value));
                    yield break;
                }
            }

            await foreach (var evt in subscription.ReadAllAsync(ct))
            {
                if (evt.IsLine)
                {
                    if (evt.Seq <= last) continue;
                    last = evt.Seq;
                    yield return evt;
                }
                else if (evt.Status is { } status)
                {
                    yield return evt;
                    if (endAtTerminal && evt.IsTerminal)
                    {
                        yield return LogEvent.End(status);
                        yield break;
                    }
                }
            }
            // The reader completed: this follower fell behind. Say so, then catch up from the database.
            yield return LogEvent.Gap(last + 1);
        }
    }

    /// <summary>
    /// A live release's runtime output (<c>stream=runtime</c> lines, with statuses and gaps), never ending: the release's
    /// deployment is already terminal (ready). Both <c>GET /projects/{id}/logs?follow=true</c> and a Socket.IO project
    /// subscription follow this.
    /// </summary>
    public IAsyncEnumerable<LogEvent> FollowRuntimeAsync(string deploymentId, long afterSeq, CancellationToken ct) =>
        Filter(FollowAsync(deploymentId, afterSeq, ct, endAtTerminal: false), "runtime", null);

    /// <summary>Drops the lines of other streams or levels; status, gap and end events pass.</summary>
    public static async IAsyncEnumerable<LogEvent> Filter(IAsyncEnumerable<LogEvent> events, string? stream, string? level)
    {
        await foreach (var evt in events)
        {
            if (evt.IsLine && ((stream is not null && evt.Stream != stream) || (level is not null && evt.Level != level))) continue;
            yield return evt;
        }
    }
}
