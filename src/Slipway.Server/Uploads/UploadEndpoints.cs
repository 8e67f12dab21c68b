using Microsoft.OpenApi;
using Slipway.Server.Auth;
using Slipway.Server.Data;
using Slipway.Server.Hosting;
using Slipway.Server.OpenApi;
using Slipway.Server.Projects;
using Slipway.Server.RateLimiting;
using Slipway.Server.Workspaces;

namespace Slipway.Server.Uploads;

internal sealed record RejectUploadRequest(string? Reason);

internal static partial class UploadEndpoints
{
    public static WebApplicationBuilder AddUploads(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton(builder.Configuration.GetSection(UploadOptions.SectionName).Get<UploadOptions>() ?? new UploadOptions());
        builder.Services.AddSingleton<UploadFiles>();
        builder.Services.AddSingleton<UploadQueue>();
        builder.Services.AddSingleton<ArchiveValidator>();
        builder.Services.AddSingleton<UploadReceiver>();
        builder.Services.AddScoped<UploadStates>();
        builder.Services.AddScoped<UploadIntake>();
        builder.Services.AddScoped<UploadDistribution>();
        builder.Services.AddHostedService<UploadWorker>();
        return builder;
    }

    public static IEndpointRouteBuilder MapUploadEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/v1/projects/{id}/uploads", CreateAsync).WithTags("Uploads").RequireScope(Scopes.ArtifactsWrite).WithMetadata(new StreamedBody())
            .WithSummary("Upload a packaged build (.zip or .tar.gz, multipart/form-data); validated, approved and distributed in the background")
            .RequestBody("multipart/form-data", ("file", UploadDocs.File, "the archive, .zip or .tar.gz"),
                ("environment", JsonSchemaType.String, "default production"), ("auto_release", JsonSchemaType.Boolean, "default true"),
                ("version", JsonSchemaType.String, "a label"), ("notes", JsonSchemaType.String, "free text"),
                ("sha256", JsonSchemaType.String, "checked when given"))
            .ProducesErrors(413, 415, 422);
        app.MapGet("/api/v1/projects/{id}/uploads", ListAsync).WithTags("Uploads").RequireScope(Scopes.ArtifactsRead)
            .WithSummary("List a project's uploads, newest first");
        var uploads = app.MapGroup("/api/v1/uploads/{id}").WithTags("Uploads");
        uploads.MapGet("/", GetAsync).RequireScope(Scopes.ArtifactsRead).WithSummary("Get an upload");
        uploads.MapGet("/history", HistoryAsync).RequireScope(Scopes.ArtifactsRead).WithSummary("Every status change of an upload, newest first");
        uploads.MapDelete("/", DeleteAsync).RequireScope(Scopes.ArtifactsWrite).ProducesErrors(409)
            .WithSummary("Delete an upload and its files (not while it validates, distributes or is live)");
        uploads.MapPost("/approve", ApproveAsync).RequireScope(Scopes.DeploymentsWrite).ProducesErrors(409)
            .WithSummary("Approve an upload waiting for approval (owners and admins)");
        uploads.MapPost("/reject", RejectAsync).RequireScope(Scopes.DeploymentsWrite).ProducesErrors(409)
            .WithSummary("Reject an upload waiting for approval (owners and admins)");
        uploads.MapPost("/distribute", DistributeAsync).RequireScope(Scopes.DeploymentsWrite).RequireRateLimit(RateLimitPolicies.Distribution)
            .ProducesErrors(409, 429).WithSummary("Distribute an approved upload, or an earlier one again (a rollback without a new upload)");
        app.MapUploadCompatibilityEndpoints();
        return app;
    }

    private static async Task<Created<UploadResponse>> CreateAsync(string id, HttpContext context, Caller caller, Access access, UploadIntake intake,
        CancellationToken ct)
    {
        var (project, _) = await access.ProjectAsync(caller, id, Need.Write, ct, "id");
        var upload = await intake.ReceiveAsync(context, caller, project, "auto_release", ct);
        return TypedResults.Created($"/api/v1/uploads/{upload.Id}", upload);
    }

    private static async Task<Page<UploadResponse>> ListAsync(string id, Caller caller, Access access, SlipwayDb db, PageQuery page, CancellationToken ct)
    {
        var (project, _) = await access.ProjectAsync(caller, id, Need.Read, ct, "id");
        var environments = await db.Environments.Where(e => e.ProjectId == project.Id).ToDictionaryAsync(e => e.Id, e => e.Name, ct);
        return await db.Uploads.Where(u => u.ProjectId == project.Id).ToPageAsync(page, u => UploadResponse.From(u, environments[u.EnvironmentId]), ct);
    }

    private static async Task<UploadResponse> GetAsync(string id, Caller caller, Access access, SlipwayDb db, UploadStates states, CancellationToken ct)
    {
        var (upload, _) = await FindAsync(id, caller, access, db, Need.Read, ct);
        return await states.ResponseAsync(upload.Id, ct);
    }

    private static async Task<Page<UploadChangeResponse>> HistoryAsync(string id, Caller caller, Access access, SlipwayDb db, PageQuery page,
        CancellationToken ct)
    {
        var (upload, _) = await FindAsync(id, caller, access, db, Need.Read, ct);
        return await db.UploadHistory.Where(h => h.UploadId == upload.Id)
            .ToPageAsync(page, h => new UploadChangeResponse(h.FromStatus, h.ToStatus, h.Actor, h.Reason, h.At), ct);
    }

    private static async Task<NoContent> DeleteAsync(string id, Caller caller, Access access, SlipwayDb db, UploadFiles files, CancellationToken ct)
    {
        var (upload, _) = await FindAsync(id, caller, access, db, Need.Write, ct);
        var live = await db.Environments.AnyAsync(e => e.Id == upload.EnvironmentId && e.LiveDeploymentId != null
                                                       && db.Deployments.Any(d => d.Id == e.LiveDeploymentId && d.UploadId == upload.Id), ct);
        if (live) throw ApiException.InvalidState("This upload is live; distribute another one first.");
        var deleted = await db.Uploads.Where(u => u.Id == upload.Id && u.Status != UploadStatus.Uploaded && u.Status != UploadStatus.Validating
                                                   && u.Status != UploadStatus.Distributing).ExecuteDeleteAsync(ct);
        if (deleted == 0) throw ApiException.InvalidState("This upload is being validated or distributed; try again when it is done.");
        files.DeleteAll(upload.Id);
        return TypedResults.NoContent();
    }

    private static async Task<UploadResponse> ApproveAsync(string id, Caller caller, Access access, SlipwayDb db, UploadDistribution distribution,
        UploadStates states, CancellationToken ct)
    {
        var (upload, _) = await ReviewableAsync(id, caller, access, db, ct);
        if (!await distribution.ApproveAsync(upload.Id, [UploadStatus.PendingApproval], caller, ct)) throw NotPending(upload);
        return await states.ResponseAsync(upload.Id, ct);
    }

    private static async Task<UploadResponse> RejectAsync(string id, RejectUploadRequest? body, Caller caller, Access access, SlipwayDb db,
        UploadStates states, UploadFiles files, CancellationToken ct)
    {
        var reason = body?.Reason?.Trim();
        new Validator().Check(reason is null || (reason.Length <= 1000 && !Validator.HasControlChars(reason)), "reason",
            "must be at most 1000 characters without control characters").ThrowIfInvalid();
        var (upload, _) = await ReviewableAsync(id, caller, access, db, ct);
        var rejected = await states.TransitionAsync(upload.Id, [UploadStatus.PendingApproval], UploadStatus.Rejected, caller.UserId,
            string.IsNullOrEmpty(reason) ? "Rejected by a reviewer." : reason, ct,
            alsoInTransaction: () => db.Uploads.Where(u => u.Id == upload.Id).ExecuteUpdateAsync(s => s.SetProperty(u => u.FilesCollected, true), ct));
        if (!rejected) throw NotPending(upload);
        files.DeleteAll(upload.Id);
        return await states.ResponseAsync(upload.Id, ct);
    }

    private static async Task<Accepted<UploadResponse>> DistributeAsync(string id, Caller caller, Access access, SlipwayDb db,
        UploadDistribution distribution, UploadStates states, CancellationToken ct)
    {
        var (upload, _) = await FindAsync(id, caller, access, db, Need.Write, ct);
        await distribution.DistributeAsync(upload, caller, ct);
        var response = await states.ResponseAsync(upload.Id, ct);
        return TypedResults.Accepted($"/api/v1/uploads/{upload.Id}", response);
    }

    /// <summary>Owners and admins review; with <c>prevent_self_review</c>, never the uploader.</summary>
    private static async Task<(Upload Upload, Project Project)> ReviewableAsync(string id, Caller caller, Access access, SlipwayDb db, CancellationToken ct)
    {
        var (upload, project) = await FindAsync(id, caller, access, db, Need.Manage, ct);
        if (project.PreventSelfReview && upload.CreatedBy == caller.UserId)
        {
            throw ApiException.Forbidden("This project prevents self-review: someone other than the uploader must review this upload.");
        }
        return (upload, project);
    }

    internal static async Task<(Upload Upload, Project Project)> FindAsync(string id, Caller caller, Access access, SlipwayDb db, Need need, CancellationToken ct)
    {
        var upload = await access.VisibleAsync(db.Uploads, caller, id, "Upload", ct);
        var (project, role) = await access.ProjectAsync(caller, upload.ProjectId, Need.Read, ct);
        Access.Demand(role, need);
        return (upload, project);
    }

    private static ApiException NotPending(Upload upload) => ApiException.InvalidState($"Upload {upload.Id} is not waiting for approval.");
}
