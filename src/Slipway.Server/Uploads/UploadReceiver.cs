using System.Text;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;
using Slipway.Server.Hosting;

namespace Slipway.Server.Uploads;

/// <summary>A multipart upload as received: its text fields and its file, already on disk.</summary>
internal sealed record ReceivedForm(IReadOnlyDictionary<string, string> Fields, string? FileName, ReceivedFile? File)
{
    public string? Field(string name) => Fields.TryGetValue(name, out var value) ? value : null;
}

/// <summary>
/// Reads <c>multipart/form-data</c> part by part (<see cref="MultipartBody"/>): the <c>file</c> part streams straight to the upload's archive file
/// (never buffered; over the limit → 413 and the partial file removed), the other parts are small text fields.
/// </summary>
internal sealed class UploadReceiver(UploadFiles files, UploadOptions options)
{
    private const int MaxFields = 32;
    private const int MaxFieldBytes = 16 * 1024;
    // Part headers and text fields on top of the file itself.
    private const long Overhead = 1 << 20;

    /// <summary>Receives the form; <paramref name="fieldRead"/> sees each text field as soon as it is read, before any part after it.</summary>
    public async Task<ReceivedForm> ReceiveAsync(HttpContext context, string uploadId, Func<string, string, Task>? fieldRead, CancellationToken ct)
    {
        var request = context.Request;
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var mediaType) || !mediaType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
        {
            throw new ApiException(415, "unsupported_media_type", "Send the upload as multipart/form-data with the archive in the 'file' part.");
        }
        var boundary = HeaderUtilities.RemoveQuotes(mediaType.Boundary).Value;
        if (string.IsNullOrEmpty(boundary) || boundary.Length > 200) throw ApiException.Validation("Content-Type", "must carry a multipart boundary");
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size) size.MaxRequestBodySize = options.MaxUploadBytes + Overhead;
        if (request.ContentLength > options.MaxUploadBytes + Overhead) throw TooLarge();

        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        string? fileName = null;
        ReceivedFile? file = null;
        var reader = new MultipartBody(request.Body, boundary);
        try
        {
            while (await reader.NextPartAsync(ct) is { } headers)
            {
                if (!ContentDispositionHeaderValue.TryParse(headers.GetValueOrDefault("Content-Disposition"), out var disposition)
                    || !disposition.DispositionType.Equals("form-data", StringComparison.OrdinalIgnoreCase))
                {
                    throw ApiException.Validation("body", "every part needs a 'Content-Disposition: form-data' header with a name");
                }
                var name = HeaderUtilities.RemoveQuotes(disposition.Name).Value ?? "";
                if (disposition.IsFileDisposition() || name == "file")
                {
                    if (name != "file" || file is not null) throw ApiException.Validation(name, "only one file part, named 'file', is accepted");
                    fileName = HeaderUtilities.RemoveQuotes(disposition.FileNameStar.HasValue ? disposition.FileNameStar : disposition.FileName).Value;
                    file = await files.ReceiveAsync(uploadId, reader.PartStream(), options.MaxUploadBytes, ct);
                    continue;
                }
                if (fields.Count >= MaxFields) throw ApiException.Validation("body", $"at most {MaxFields} form fields are accepted");
                var value = fields[name] = await ReadFieldAsync(reader.PartStream(), name, ct);
                if (fieldRead is not null) await fieldRead(name, value);
            }
        }
        catch (UploadTooLargeException)
        {
            throw TooLarge();
        }
        catch (Exception e) when (e is InvalidDataException or IOException && e is not BadHttpRequestException)
        {
            files.DeleteFile(files.ArchivePath(uploadId));
            throw ApiException.Validation("body", "is not a complete multipart/form-data body");
        }
        catch
        {
            files.DeleteFile(files.ArchivePath(uploadId));
            throw;
        }
        return new ReceivedForm(fields, fileName, file);
    }

    private static async Task<string> ReadFieldAsync(Stream body, string name, CancellationToken ct)
    {
        var buffer = new byte[MaxFieldBytes + 1];
        var length = 0;
        int read;
        while ((read = await body.ReadAsync(buffer.AsMemory(length), ct)) > 0)
        {
            length += read;
            if (length > MaxFieldBytes) throw ApiException.Validation(name, $"must be at most {MaxFieldBytes} bytes");
        }
        return Encoding.UTF8.GetString(buffer, 0, length);
    }

    private ApiException TooLarge() =>
        new(413, "payload_too_large", $"The upload is larger than the limit of {options.MaxUploadBytes / (1024 * 1024):N0} MB.");
}
