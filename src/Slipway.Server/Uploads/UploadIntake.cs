using System.Text.RegularExpressions;
using Slipway.Server.Auth;
using Slipway.Server.Data;
using Slipway.Server.Hosting;
using Slipway.Server.Projects;

namespace Slipway.Server.Uploads;

/// <summary>
/// Turns a received form into an upload row: the fields checked, the archive's format told by its first bytes, the checksum
/// compared; then the row, its history and <c>build.uploaded</c>, and the validation worker woken. A refused request leaves
/// nothing on disk.
/// </summary>
internal sealed partial class UploadIntake(SlipwayDb db, UploadReceiver receiver, UploadFiles files, UploadStates states, UploadQueue queue,
    TimeProvider time)
{
    /// <summary>Receives the form and creates the upload (<paramref name="autoReleaseField"/>: its name in this route's form).</summary>
    public async Task<UploadResponse> ReceiveAsync(HttpContext context, Caller caller, Project project, string autoReleaseField, CancellationToken ct)
    {
        var id = Ids.New(time);
        var form = await receiver.ReceiveAsync(context, id, null, ct);
        return await CreateAsync(id, form, caller, project, autoReleaseField, ct);
    }

    /// <summary>The receiving half alone, for the compatibility route that learns its caller and project from the form.</summary>
    public async Task<(string Id, ReceivedForm Form)> ReceiveFormAsync(HttpContext context, Func<string, string, Task> fieldRead, CancellationToken ct)
    {
        var id = Ids.New(time);
        return (id, await receiver.ReceiveAsync(context, id, fieldRead, ct));
    }

    public async Task<UploadResponse> CreateAsync(string id, ReceivedForm form, Caller caller, Project project, string autoReleaseField, CancellationToken ct)
    {
        try
        {
            var environmentName = form.Field("environment");
            var autoRelease = form.Field(autoReleaseField);
            var (version, notes, sha256) = (Blank(form.Field("version")), Blank(form.Field("notes")), Blank(form.Field("sha256"))?.ToLowerInvariant());
            new Validator()
                .Check(form.File is not null, "file", "is required: the archive as a part named 'file'")
                .Check(autoRelease is null || bool.TryParse(autoRelease, out _), autoReleaseField, "must be true or false")
                .Check(version is null || (version.Length <= 100 && !Validator.HasControlChars(version)), "version", "must be at most 100 characters")
                .Check(notes is null || notes.Length <= 4000, "notes", "must be at most 4000 characters")
                .Check(sha256 is null || Sha256().IsMatch(sha256), "sha256", "must be 64 hexadecimal characters")
                .ThrowIfInvalid();
            var environment = await Projects.EnvironmentEndpoints.ByNameAsync(db, project.Id, environmentName, ct);
            var file = form.File!;
            if (sha256 is not null && sha256 != file.Sha256)
            {
                throw new ApiException(422, "rejected", $"The archive's sha256 is {file.Sha256}, not the {sha256} that was sent; it was not stored.");
            }
            var format = await FormatAsync(files.ArchivePath(id), ct)
                         ?? throw new ApiException(422, "rejected", "The file is neither a .zip nor a .tar.gz archive.");
            var now = time.UtcNowMs();
            var upload = new Upload
            {
                Id = id, WorkspaceId = project.WorkspaceId, ProjectId = project.Id, EnvironmentId = environment.Id, Status = UploadStatus.Uploaded,
                FileName = SafeFileName(form.FileName, format), Format = format, Size = file.Size, Sha256 = file.Sha256, Version = version, Notes = notes,
                AutoRelease = autoRelease is null || bool.Parse(autoRelease), CreatedBy = caller.UserId, CreatedAt = now, UpdatedAt = now,
            };
            await using (var tx = await db.Database.BeginTransactionAsync(ct))
            {
                await states.AddAsync(upload, ct);
                await tx.CommitAsync(ct);
            }
            queue.Wake();
            return UploadResponse.From(upload, environment.Name);
        }
        catch
        {
            files.DeleteAll(id);
            throw;
        }
    }

    /// <summary>By content, not by name: a zip starts with a local file header (or is empty), a gzip stream with 1f 8b.</summary>
    private static async Task<ArchiveFormat?> FormatAsync(string path, CancellationToken ct)
    {
        var head = new byte[4];
        await using var file = File.OpenRead(path);
        var read = await file.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, ct);
        if (read >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] is 3 or 5 && head[3] is 4 or 6) return ArchiveFormat.Zip;
        if (read >= 2 && head[0] == 0x1f && head[1] == 0x8b) return ArchiveFormat.TarGz;
        return null;
    }

    private static string SafeFileName(string? name, ArchiveFormat format)
    {
        var baseName = Path.GetFileName(name ?? "");
        if (baseName.Length is 0 or > 255 || Validator.HasControlChars(baseName)) return format == ArchiveFormat.Zip ? "upload.zip" : "upload.tar.gz";
        return baseName;
    }

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    [GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial Regex Sha256();
}
