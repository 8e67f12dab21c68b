using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Slipway.Server.Auth;
using Slipway.Server.Data;
using Slipway.Server.Hosting;
using Slipway.Server.Security.Sarif;
using Slipway.Server.Workspaces;

namespace Slipway.Server.Security;

/// <summary>A SARIF 2.1.0 log's outline, for the API description only: the body is streamed, never bound.</summary>
internal sealed record SarifLog(string Version, IReadOnlyList<System.Text.Json.JsonElement> Runs);

internal sealed record StartScanRequest(string? CommitSha, string? Branch);

internal sealed record ScannerResponse(string Name, string Description, bool BuiltIn, bool Installed, string? Install);

internal static partial class ScanEndpoints
{
    public static IEndpointRouteBuilder MapScanEndpoints(this IEndpointRouteBuilder app)
    {
        var repository = app.MapGroup("/api/v1/repositories/{id}").WithTags("Security");
        repository.MapPost("/sarif", UploadAsync).RequireScope(Scopes.SecurityWrite)
            .WithSummary("Upload SARIF 2.1.0 results (optionally gzipped); 202 with the scan that stored them")
            .Accepts<SarifLog>("application/sarif+json", "application/json");
        repository.MapPost("/scans", StartAsync).RequireScope(Scopes.SecurityWrite)
            .WithSummary("Scan a commit (default: the head of the default branch) with the repository's scanners");
        repository.MapGet("/scans", ListAsync).RequireScope(Scopes.SecurityRead).WithSummary("List a repository's scans, newest first");
        app.MapGet("/api/v1/scans/{id}", GetAsync).WithTags("Security").RequireScope(Scopes.SecurityRead).WithSummary("Get a scan");
        app.MapGet("/api/v1/security/scanners", Scanners).WithTags("Security").RequireScope(Scopes.SecurityRead)
            .WithSummary("List the scanners this server can run, and what to install for the missing ones");
        return app;
    }

    /// <summary>
    /// Stores a SARIF file as a completed scan: validated whole first (422 <c>rejected</c> naming the problem, 413 over
    /// a limit; nothing is stored then), then every result becomes or updates a finding. With a <c>commit_sha</c> of the
    /// repository, snippets and missing line hashes come from that commit's files.
    /// </summary>
    private static async Task<Accepted<ScanResponse>> UploadAsync(string id, [FromQuery(Name = "commit_sha")] string? commitSha,
        [FromQuery(Name = "ref")] string? gitRef, [FromQuery] string? category, HttpContext context, Caller caller, Access access,
        SarifIngestion ingestion, ScannedCommit commits, SecurityOptions options, TimeProvider time, CancellationToken ct)
    {
        var v = new Validator();
        v.Check(commitSha is null || CommitSha().IsMatch(commitSha), "commit_sha", "must be a full 40-character hexadecimal commit SHA");
        v.Check(gitRef is null || (gitRef.Length is > 0 and <= 255 && !Validator.HasControlChars(gitRef)), "ref", "must be 1-255 characters without control characters");
        v.Check(category is null || (category.Length is > 0 and <= 255 && !Validator.HasControlChars(category)), "category", "must be 1-255 characters without control characters");
        v.ThrowIfInvalid();
        var mediaType = context.Request.ContentType?.Split(';')[0].Trim().ToLowerInvariant();
        if (mediaType is not ("application/sarif+json" or "application/json"))
            throw new ApiException(415, "unsupported_media_type", "Send the SARIF file as application/sarif+json or application/json.");
        var encoding = context.Request.Headers.ContentEncoding.ToString().Trim().ToLowerInvariant();
        if (encoding is not ("" or "identity" or "gzip"))
            throw new ApiException(415, "unsupported_media_type", "Content-Encoding must be gzip or absent.");
        var (project, _) = await access.ProjectAsync(caller, id, Need.Write, ct, "id");

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size) size.MaxRequestBodySize = options.MaxUploadBytes + 1;
        if (context.Request.ContentLength > options.MaxUploadBytes) throw TooLarge($"a SARIF upload may be at most {options.MaxUploadBytes / (1024 * 1024)} MB as sent");
        var scan = new Scan
        {
            Id = Ids.New(time), WorkspaceId = project.WorkspaceId, ProjectId = project.Id, Source = ScanSource.Upload, Status = ScanStatus.Queued,
            CommitSha = commitSha?.ToLowerInvariant(), Ref = gitRef, Category = category, CreatedAt = time.UtcNowMs(),
        };
        try
        {
            using var spooled = await ingestion.SpoolAsync(context.Request.Body, encoding == "gzip", ct);
            using var commit = await commits.CheckoutAsync(project, scan.CommitSha, scan.Id, ct);
            await ingestion.IngestAsync(scan, [spooled], commit?.Tree, ct);
        }
        catch (SarifRejectedException e)
        {
            throw new ApiException(422, "rejected", $"The SARIF file was rejected: {e.Message}.");
        }
        catch (SarifTooLargeException e)
        {
            throw TooLarge(e.Message);
        }
        return TypedResults.Accepted($"/api/v1/scans/{scan.Id}", ScanResponse.From(scan));
    }

    /// <summary>Queues a scan; the worker checks the commit out, runs the scanners and stores their findings.</summary>
    private static async Task<Created<ScanResponse>> StartAsync(string id, StartScanRequest? body, Caller caller, Access access, SlipwayDb db,
        ScannerCatalog catalog, ScanQueue queue, TimeProvider time, CancellationToken ct)
    {
        var v = new Validator();
        v.Check(body?.CommitSha is null || CommitSha().IsMatch(body.CommitSha), "commit_sha", "must be a full 40-character hexadecimal commit SHA");
        v.Check(body?.Branch is null || (body.Branch.Length is > 0 and <= 255 && !body.Branch.StartsWith('-') && !Validator.HasControlChars(body.Branch)),
            "branch", "must be a branch name of 1-255 characters");
        v.ThrowIfInvalid();
        var (project, _) = await access.ProjectAsync(caller, id, Need.Write, ct, "id");
        var settings = await db.RepositorySettings.FirstOrDefaultAsync(s => s.ProjectId == project.Id, ct);
        if (ScannerCatalog.Problem(catalog.For(settings)) is { } problem) throw ApiException.InvalidState(problem);
        var scan = new Scan
        {
            Id = Ids.New(time), WorkspaceId = project.WorkspaceId, ProjectId = project.Id, Source = ScanSource.Scanner, Status = ScanStatus.Queued,
            CommitSha = body?.CommitSha?.ToLowerInvariant(), Branch = body?.Branch ?? Projects.ProjectRules.Blank(project.Branch), CreatedAt = time.UtcNowMs(),
        };
        db.Scans.Add(scan);
        await db.SaveChangesAsync(ct);
        queue.Wake();
        return TypedResults.Created($"/api/v1/scans/{scan.Id}", ScanResponse.From(scan));
    }

    private static ScannerResponse[] Scanners(ScannerCatalog catalog) =>
        [.. catalog.All.Select(s => new ScannerResponse(s.Name, s.Description, s.BuiltIn, s.Installed, s.Missing is null ? null : $"Install: {s.Missing}"))];

    private static async Task<Page<ScanResponse>> ListAsync(string id, Caller caller, Access access, SlipwayDb db, PageQuery page, CancellationToken ct)
    {
        var (project, _) = await access.ProjectAsync(caller, id, Need.Read, ct, "id");
        return await db.Scans.Where(s => s.ProjectId == project.Id).ToPageAsync(page, ScanResponse.From, ct);
    }

    private static async Task<ScanResponse> GetAsync(string id, Caller caller, Access access, SlipwayDb db, CancellationToken ct)
    {
        return ScanResponse.From(await access.VisibleAsync(db.Scans, caller, id, "Scan", ct));
    }

    private static ApiException TooLarge(string reason) => new(413, "payload_too_large", $"The SARIF file is too large: {reason}.");

    [System.Text.RegularExpressions.GeneratedRegex("^[0-9a-fA-F]{40}$")]
    private static partial System.Text.RegularExpressions.Regex CommitSha();
}
