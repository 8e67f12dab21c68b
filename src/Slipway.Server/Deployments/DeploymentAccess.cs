using Slipway.Server.Auth;
using Slipway.Server.Data;
using Slipway.Server.Hosting;
using Slipway.Server.Workspaces;

namespace Slipway.Server.Deployments;

/// <summary>Loads a deployment the caller may see through its project (404 otherwise), like every other resource.</summary>
internal sealed class DeploymentAccess(SlipwayDb db, Access access)
{
    public async Task<Deployment> FindAsync(Caller caller, string id, Need need, CancellationToken ct)
    {
        var deployment = Ids.IsValid(id) ? await db.Deployments.FirstOrDefaultAsync(d => d.Id == id, ct) : null;
        if (deployment is null) throw ApiException.NotFound("Deployment", id);
        try
        {
            await access.ProjectAsync(caller, deployment.ProjectId, need, ct);
        }
        catch (ApiException e) when (e.Status == 404)
        {
            throw ApiException.NotFound("Deployment", id);
        }
        return deployment;
    }

    public async Task<Deployment> FindBuildAsync(Caller caller, string buildId, CancellationToken ct)
    {
        var deployment = Ids.IsValid(buildId) ? await db.Deployments.FirstOrDefaultAsync(d => d.BuildId == buildId, ct) : null;
        if (deployment is null) throw ApiException.NotFound("Build", buildId);
        try
        {
            await access.ProjectAsync(caller, deployment.ProjectId, Need.Read, ct);
        }
        catch (ApiException e) when (e.Status == 404)
        {
            throw ApiException.NotFound("Build", buildId);
        }
        return deployment;
    }
}
