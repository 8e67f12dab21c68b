using Microsoft.AspNetCore.Mvc;
using Slipway.Server.Auth;
using Slipway.Server.Data;
using Slipway.Server.Deployments;
using Slipway.Server.Hosting;
using Slipway.Server.Projects;
using Slipway.Server.Workspaces;

namespace Slipway.Server.Domains;

internal sealed record CreateDomainRequest(string? ProjectId, string? Domain, string? Environment);

internal sealed record DomainResponse(string Id, string ProjectId, string Environment, string Domain, DateTime CreatedAt)
{
    public static DomainResponse From(Domain d, string environment) => new(d.Id, d.ProjectId, environment, d.Hostname, d.CreatedAt);
}

internal static class DomainEndpoints
{
    public static IEndpointRouteBuilder MapDomainEndpoints(this IEndpointRouteBuilder app)
    {
        var domains = app.MapGroup("/api/v1/domains").WithTags("Domains");
        domains.MapPost("/", CreateAsync).RequireScope(Scopes.DomainsWrite);
        domains.MapGet("/", ListAsync).RequireScope(Scopes.DomainsRead);
        domains.MapDelete("/{id}", DeleteAsync).RequireScope(Scopes.DomainsWrite);
        return app;
    }

    private static async Task<Created<DomainResponse>> CreateAsync(CreateDomainRequest body, Caller caller, Access access, SlipwayDb db,
        ProjectReadCache cache, RouteSync routes, Routing.RouterOptions router, TimeProvider time, CancellationToken ct)
    {
        var v = new Validator().Required(body.ProjectId, "project_id").Required(body.Domain, "domain");
        if (body.Domain is { Length: > 0 } && Hostnames.Problem(body.Domain) is { } problem) v.Check(false, "domain", problem);
        // Names under the router's own base domain belong to projects and environments: a custom domain there could
        // take over another tenant's URL.
        v.Check(body.Domain is null || (body.Domain != router.BaseDomain && !body.Domain.EndsWith("." + router.BaseDomain, StringComparison.Ordinal)),
            "domain", $"must not be under the router's base domain '{router.BaseDomain}'");
        v.ThrowIfInvalid();
        var (project, _) = await access.ProjectAsync(caller, body.ProjectId, Need.Write, ct);
        var environment = await EnvironmentEndpoints.ByNameAsync(db, project.Id, body.Environment, ct);
        var hostname = body.Domain!;
        // Instance-wide, whoever holds it: the router maps one hostname to one project. Saying so leaks only that the
        // name is in use somewhere, which DNS already tells anyone.
        if (await db.Domains.AnyAsync(d => d.Hostname == hostname, ct)) throw Taken(hostname);
        var domain = new Domain
        {
            Id = Ids.New(time), ProjectId = project.Id, EnvironmentId = environment.Id, Hostname = hostname, CreatedAt = time.UtcNowMs(),
        };
        db.Domains.Add(domain);
        await db.SaveUniqueAsync(Taken(hostname).Message, ct);
        cache.Invalidate(project.Id);
        await routes.RebuildAsync(ct);
        return TypedResults.Created($"/api/v1/domains/{domain.Id}", DomainResponse.From(domain, environment.Name));
    }

    /// <summary>One project's domains, or without <c>project_id</c> those of every project the caller can see.</summary>
    private static async Task<Page<DomainResponse>> ListAsync([FromQuery(Name = "project_id")] string? projectId, Caller caller, Access access,
        SlipwayDb db, PageQuery page, CancellationToken ct)
    {
        IQueryable<Domain> query;
        if (projectId is not null)
        {
            var (project, _) = await access.ProjectAsync(caller, projectId, Need.Read, ct);
            query = db.Domains.Where(d => d.ProjectId == project.Id);
        }
        else
        {
            var visible = access.VisibleProjects(caller).Select(p => p.Id);
            query = db.Domains.Where(d => visible.Contains(d.ProjectId));
        }
        var rows = await query.ToPageAsync(page, d => d, ct);
        var environmentIds = rows.Data.Select(d => d.EnvironmentId).Distinct().ToList();
        var names = await db.Environments.Where(e => environmentIds.Contains(e.Id)).ToDictionaryAsync(e => e.Id, e => e.Name, ct);
        return new Page<DomainResponse>(rows.Data.Select(d => DomainResponse.From(d, names[d.EnvironmentId])).ToList(), rows.NextCursor);
    }

    private static async Task<NoContent> DeleteAsync(string id, Caller caller, Access access, SlipwayDb db, ProjectReadCache cache, RouteSync routes, CancellationToken ct)
    {
        // Looked up among visible projects first, so a domain of another workspace is a plain 404 that names no project.
        var domain = await access.VisibleAsync(db.Domains, caller, id, "Domain", ct);
        await access.ProjectAsync(caller, domain.ProjectId, Need.Write, ct);
        await db.Domains.Where(d => d.Id == domain.Id).ExecuteDeleteAsync(ct);
        cache.Invalidate(domain.ProjectId);
        await routes.RebuildAsync(ct);
        return TypedResults.NoContent();
    }

    private static ApiException Taken(string hostname) => ApiException.Conflict($"The domain '{hostname}' is already in use.");
}
