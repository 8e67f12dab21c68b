using Slipway.Server.Auth;
using Slipway.Server.Builds;
using Slipway.Server.Data;
using Slipway.Server.Hosting;
using Slipway.Server.Projects;
using Slipway.Server.Workspaces;

namespace Slipway.Server.Security;

internal static class FixEndpoints
{
    public static IEndpointRouteBuilder MapFixEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/repositories/{id}/fixes", ListAsync).WithTags("Security").RequireScope(Scopes.SecurityRead)
            .WithSummary("List a repository's fixes");
        var fixes = app.MapGroup("/api/v1/fixes").WithTags("Security");
        fixes.MapGet("/{id}", GetAsync).RequireScope(Scopes.SecurityRead).WithSummary("Get a fix with its diff and rationale");
        fixes.MapPost("/{id}/apply", ApplyAsync).RequireScope(Scopes.SecurityWrite)
            .WithSummary("Commit the fix on a new branch slipway/fix-{id} and push it to the repository");
        return app;
    }

    private static async Task<Page<FixResponse>> ListAsync(string id, Caller caller, Access access, SlipwayDb db, PageQuery page, CancellationToken ct)
    {
        var (project, _) = await access.ProjectAsync(caller, id, Need.Read, ct, "id");
        return await db.Fixes.Where(f => f.ProjectId == project.Id).ToPageAsync(page, FixResponse.From, ct);
    }

    private static async Task<FixResponse> GetAsync(string id, Caller caller, Access access, SlipwayDb db, CancellationToken ct) =>
        FixResponse.From(await VisibleAsync(id, caller, access, db, ct));

    /// <summary>
    /// Clones the repository at the fix's base commit, applies the diff, commits it and pushes the branch; 409 with
    /// git's reason when the diff no longer applies or the repository refuses the push (the fix stays available).
    /// </summary>
    private static async Task<FixResponse> ApplyAsync(string id, Caller caller, Access access, SlipwayDb db, GitSource git, RepoCredentials credentials,
        IConfiguration configuration, TimeProvider time, CancellationToken ct)
    {
        var visible = await VisibleAsync(id, caller, access, db, ct);
        var (project, _) = await access.ProjectAsync(caller, visible.ProjectId, Need.Write, ct);
        if (visible.Status == FixStatus.Applied) throw ApiException.InvalidState($"Fix '{visible.Id}' was already applied as {visible.CommitSha} on {visible.Branch}.");
        var finding = await db.Findings.FirstAsync(f => f.Id == visible.FindingId, ct);
        var work = Path.Combine(configuration.DataDirectory(), "work", $"fix-{visible.Id}-{Guid.NewGuid():N}");
        var branch = $"slipway/fix-{visible.Id}";
        var fix = await db.Fixes.AsTracking().FirstAsync(f => f.Id == visible.Id, ct);
        try
        {
            Directory.CreateDirectory(work);
            var patch = Path.Combine(work, "fix.diff");
            await File.WriteAllTextAsync(patch, fix.Diff, ct);
            var message = $"Fix {finding.RuleId} in {finding.Path}\n\n{fix.Rationale}\n\nFinding {finding.Id}, fix {fix.Id} ({fix.Codemod}), proposed by Slipway.";
            fix.CommitSha = await git.PushPatchAsync(credentials.CloneUrl(project), fix.BaseCommit, branch, patch, message, Path.Combine(work, "src"), ct);
            fix.Branch = branch;
            fix.Status = FixStatus.Applied;
            fix.AppliedAt = time.UtcNowMs();
            fix.Error = null;
        }
        catch (GitSourceException e)
        {
            fix.Error = e.Message;
            fix.UpdatedAt = time.UtcNowMs();
            await db.SaveChangesAsync(CancellationToken.None);
            throw ApiException.Conflict($"The fix could not be applied: {e.Message}");
        }
        finally
        {
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (DirectoryNotFoundException)
            {
            }
        }
        fix.UpdatedAt = time.UtcNowMs();
        await db.SaveChangesAsync(ct);
        return FixResponse.From(fix);
    }

    private static async Task<Fix> VisibleAsync(string id, Caller caller, Access access, SlipwayDb db, CancellationToken ct)
    {
        return await access.VisibleAsync(db.Fixes, caller, id, "Fix", ct);
    }
}
