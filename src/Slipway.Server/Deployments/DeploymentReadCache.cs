using Slipway.Server.Data;
using Slipway.Server.Hosting;

namespace Slipway.Server.Deployments;

/// <summary>
/// Finished deployments (ready, failed, canceled) in memory for the pages of <c>GET /deployments</c>: a page is then one
/// index walk for its ids. A finished row changes only when retention collects its artifact, which calls
/// <see cref="Forget"/>; a deployment still running is read from the database every time.
/// </summary>
internal sealed class DeploymentReadCache(TimeProvider time)
{
    private readonly GenerationCache<string, Deployment> finished = new(time, maxEntries: 50_000);

    /// <summary>The deployments with those ids, in that order; one deleted since its id was read is left out.</summary>
    public async Task<IReadOnlyList<Deployment>> GetManyAsync(SlipwayDb db, IReadOnlyList<string> ids, CancellationToken ct)
    {
        var found = await finished.GetManyAsync(ids,
            async missing => (await db.Deployments.Where(d => missing.Contains(d.Id)).ToListAsync(ct)).Select(d => (d.Id, d)),
            keep: d => Deployment.IsTerminal(d.Status));
        return ids.Where(found.ContainsKey).Select(id => found[id]).ToList();
    }

    /// <summary>Called after any write to a finished deployment.</summary>
    public void Forget(string deploymentId) => finished.Forget(deploymentId);
}
