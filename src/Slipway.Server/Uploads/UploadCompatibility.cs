using Microsoft.OpenApi;
using System.Text.Json.Serialization;
using Slipway.Server.Auth;
using Slipway.Server.Data;
using Slipway.Server.Hosting;
using Slipway.Server.OpenApi;
using Slipway.Server.RateLimiting;
using Slipway.Server.Workspaces;

namespace Slipway.Server.Uploads;

internal sealed record DistributeFileRequest(
    [property: JsonPropertyName("projectId")] string? ProjectId, [property: JsonPropertyName("uploadId")] string? UploadId,
    [property: JsonPropertyName("apiKey")] string? ApiKey, [property: JsonPropertyName("userId")] string? UserId);

/// <summary><c>message</c> as the reference document answers, with our upload beside it.</summary>
internal sealed record UploadFileResponse(string Message, string UploadId, UploadResponse Upload);

/// <summary>
/// Compatibility routes for clients of the reference document (Streampixel): the API key may come in the body as
/// <c>apiKey</c> (on these two routes only, see <see cref="KeyInBody"/>); a <c>userId</c> must be the key's user. Literal
/// segments, so they win over <c>/projects/{id}</c> (which has no POST and made these answer 405 before they existed).
/// </summary>
internal static class UploadCompatibility
{
    public static IEndpointRouteBuilder MapUploadCompatibilityEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/v1/projects/upload-file", UploadFileAsync).WithTags("Uploads").RequireScope(Scopes.ArtifactsWrite).WithMetadata(new KeyInBody(), new StreamedBody())
            .WithSummary("Compatibility: upload a packaged build with projectId, file, autoRelease and the API key as apiKey in the form")
            .RequestBody("multipart/form-data", ("projectId", JsonSchemaType.String, "the project"), ("file", UploadDocs.File, "the archive"),
                ("autoRelease", JsonSchemaType.Boolean, "default true"), ("apiKey", JsonSchemaType.String, "the API key (or an Authorization header)"),
                ("userId", JsonSchemaType.String, "must be the key's user"))
            .ProducesErrors(413, 415, 422);
        app.MapPost("/api/v1/projects/distribute-file", DistributeFileAsync).WithTags("Uploads").RequireScope(Scopes.DeploymentsWrite)
            .WithMetadata(new KeyInBody()).RequireRateLimit(RateLimitPolicies.Distribution).ProducesErrors(409, 415, 429)
            .RequestBody("application/json", ("projectId", JsonSchemaType.String, "the project"), ("uploadId", JsonSchemaType.String, "the upload"),
                ("apiKey", JsonSchemaType.String, "the API key (or an Authorization header)"), ("userId", JsonSchemaType.String, "must be the key's user"))
            .WithSummary("Compatibility: distribute an uploaded build ({projectId, uploadId, apiKey}); 1 per 2 minutes per user");
        return app;
    }

    private static async Task<Created<UploadFileResponse>> UploadFileAsync(HttpContext context, Access access, UploadIntake intake, UploadFiles files,
        CancellationToken ct)
    {
        // A key in the form is checked and counted as soon as its part is read: before the file when it comes first.
        var caller = Caller.Find(context);
        var (id, form) = await intake.ReceiveFormAsync(context, async (name, value) =>
        {
            if (caller is null && name == "apiKey") caller = await KeyInBody.FromFormAsync(context, value, "apiKey");
        }, ct);
        try
        {
            caller ??= await KeyInBody.FromFormAsync(context, null, "apiKey");
            if (!caller.HasScope(Scopes.ArtifactsWrite)) throw ApiException.InsufficientScope(Scopes.ArtifactsWrite);
            CheckUser(caller, form.Field("userId"));
            var (project, _) = await access.ProjectAsync(caller, form.Field("projectId"), Need.Write, ct, "projectId");
            var upload = await intake.CreateAsync(id, form, caller, project, "autoRelease", ct);
            return TypedResults.Created($"/api/v1/uploads/{upload.Id}", new UploadFileResponse("File uploaded successfully.", upload.Id, upload));
        }
        catch
        {
            files.DeleteAll(id);
            throw;
        }
    }

    private static async Task<Accepted<UploadFileResponse>> DistributeFileAsync(HttpContext context, Caller caller, Access access, SlipwayDb db,
        UploadDistribution distribution, UploadStates states, CancellationToken ct)
    {
        // Read here, not bound: the reference document's names are camelCase.
        if (!context.Request.HasJsonContentType()) throw new ApiException(415, "unsupported_media_type", "Send the body as application/json.");
        DistributeFileRequest body;
        try
        {
            body = await System.Text.Json.JsonSerializer.DeserializeAsync<DistributeFileRequest>(context.Request.Body, cancellationToken: ct)
                   ?? throw ApiException.Validation("body", "must be a JSON object");
        }
        catch (System.Text.Json.JsonException)
        {
            throw new ApiException(400, "invalid_json", "The body is not valid JSON.");
        }
        CheckUser(caller, body.UserId);
        new Validator().Required(body.ProjectId, "projectId").Required(body.UploadId, "uploadId").ThrowIfInvalid();
        var (upload, project) = await UploadEndpoints.FindAsync(body.UploadId!, caller, access, db, Need.Write, ct);
        if (project.Id != body.ProjectId) throw ApiException.NotFound("Upload", body.UploadId!);
        await distribution.DistributeAsync(upload, caller, ct);
        var response = await states.ResponseAsync(upload.Id, ct);
        return TypedResults.Accepted($"/api/v1/uploads/{upload.Id}", new UploadFileResponse("Distribution started.", upload.Id, response));
    }

    private static void CheckUser(Caller caller, string? userId)
    {
        if (userId is not null && userId != caller.UserId) throw ApiException.Unauthenticated("The userId does not belong to this API key.");
    }
}
