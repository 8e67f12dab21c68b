using System.Globalization;
using System.IO.Compression;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Net.Http.Headers;

namespace Slipway.Server.Routing;

/// <summary>
/// Serves a static release from its directory: <c>index.html</c> for directories, <c>404.html</c> (status 404) for
/// anything missing, ETag/Last-Modified with 304s, gzip or brotli for text when the client accepts it. Every path is
/// resolved to its real location (symlinks followed) and must stay inside the release's real directory.
/// </summary>
internal sealed partial class StaticSite(RouterOptions options, ILogger<StaticSite> logger)
{
    private static readonly FileExtensionContentTypeProvider ContentTypes = new();

    public async Task ServeAsync(HttpContext context, string directory)
    {
        var request = context.Request;
        var response = context.Response;
        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method))
        {
            response.Headers.Allow = "GET, HEAD";
            await ErrorPages.WriteAsync(context, StatusCodes.Status405MethodNotAllowed, "Method not allowed", "A static site only answers GET and HEAD.");
            return;
        }
        if (RealPath(directory) is not { } root || !Directory.Exists(root))
        {
            RouterLog.StaticDirectoryMissing(logger, directory, request.Host.Value ?? "");
            await ErrorPages.NoLiveReleaseAsync(context);
            return;
        }

        var path = request.Path.Value ?? "/";
        if (RelativePath(path) is not { } relative)
        {
            RouterLog.StaticPathRefused(logger, path, request.Host.Value ?? "");
            await NotFoundAsync(context, root);
            return;
        }

        string? file = null;
        var real = Inside(root, relative);
        if (real is not null && Directory.Exists(real))
        {
            if (!path.EndsWith('/'))
            {
                // Relative links in the directory's index.html only resolve against a URL that ends with '/'.
                response.StatusCode = StatusCodes.Status301MovedPermanently;
                response.Headers.Location = request.PathBase + path + "/" + request.QueryString;
                return;
            }
            file = RegularFile(Inside(root, Path.Join(relative, "index.html")));
        }
        else if (real is not null)
        {
            file = RegularFile(real);
        }
        else if (relative.Length > 0 && !Path.HasExtension(relative))
        {
            // Clean URLs: /about serves about.html, as static site generators lay pages out.
            file = RegularFile(Inside(root, relative + ".html"));
        }

        if (file is null)
        {
            await NotFoundAsync(context, root);
            return;
        }
        await SendFileAsync(context, file, StatusCodes.Status200OK, conditional: true);
    }

    private Task NotFoundAsync(HttpContext context, string root) =>
        RegularFile(Inside(root, "404.html")) is { } page
            ? SendFileAsync(context, page, StatusCodes.Status404NotFound, conditional: false)
            : ErrorPages.NotFoundAsync(context);

    private async Task SendFileAsync(HttpContext context, string file, int status, bool conditional)
    {
        var request = context.Request;
        var response = context.Response;
        var info = new FileInfo(file);
        var contentType = ContentTypes.TryGetContentType(file, out var known) ? known : "application/octet-stream";
        var compressible = IsCompressible(contentType) && info.Length >= options.CompressMinBytes;
        var encoding = compressible ? ChooseEncoding(request) : null;
        // HTTP dates have whole seconds; comparing at that precision keeps If-Modified-Since exact.
        var lastModified = DateTimeOffset.FromUnixTimeSeconds(new DateTimeOffset(info.LastWriteTimeUtc).ToUnixTimeSeconds());
        var etag = new EntityTagHeaderValue(string.Create(CultureInfo.InvariantCulture,
            $"\"{info.LastWriteTimeUtc.Ticks:x}-{info.Length:x}{(encoding is null ? "" : "-" + encoding)}\""));

        response.StatusCode = status;
        var headers = response.GetTypedHeaders();
        headers.ETag = etag;
        headers.LastModified = lastModified;
        if (compressible) response.Headers.Vary = HeaderNames.AcceptEncoding;
        // HTML names stay the same across deploys, so browsers must revalidate them; assets keep heuristic caching.
        if (contentType.StartsWith("text/html", StringComparison.Ordinal) || status != StatusCodes.Status200OK) response.Headers.CacheControl = "no-cache";

        if (conditional && NotModified(request, etag, lastModified))
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return;
        }

        response.ContentType = contentType;
        if (encoding is null) response.ContentLength = info.Length;
        else response.Headers.ContentEncoding = encoding;
        if (HttpMethods.IsHead(request.Method)) return;

        if (encoding is null)
        {
            await response.SendFileAsync(file, context.RequestAborted);
            return;
        }
        await using var source = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
        await using Stream compressor = encoding == "br"
            ? new BrotliStream(response.Body, CompressionLevel.Fastest, leaveOpen: true)
            : new GZipStream(response.Body, CompressionLevel.Fastest, leaveOpen: true);
        await source.CopyToAsync(compressor, context.RequestAborted);
    }

    private static bool NotModified(HttpRequest request, EntityTagHeaderValue etag, DateTimeOffset lastModified)
    {
        var headers = request.GetTypedHeaders();
        var ifNoneMatch = headers.IfNoneMatch;
        if (ifNoneMatch is { Count: > 0 })
        {
            // If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2); weak comparison, as for GET.
            return ifNoneMatch.Any(tag => tag.Equals(EntityTagHeaderValue.Any) || tag.Compare(etag, useStrongComparison: false));
        }
        return headers.IfModifiedSince is { } since && lastModified <= since;
    }

    private static string? ChooseEncoding(HttpRequest request)
    {
        var accepted = request.GetTypedHeaders().AcceptEncoding;
        if (accepted is not { Count: > 0 }) return null;
        double Quality(string name) => accepted
            .Where(v => v.Value.Equals(name, StringComparison.OrdinalIgnoreCase) || v.Value.Equals("*", StringComparison.Ordinal))
            .Select(v => v.Quality ?? 1).DefaultIfEmpty(0).Max();
        var br = Quality("br");
        var gzip = Quality("gzip");
        return br > 0 && br >= gzip ? "br" : gzip > 0 ? "gzip" : null;
    }

    private static bool IsCompressible(string contentType) =>
        contentType.StartsWith("text/", StringComparison.Ordinal)
        || contentType.Contains("json", StringComparison.Ordinal)
        || contentType.Contains("xml", StringComparison.Ordinal)
        || contentType.Contains("javascript", StringComparison.Ordinal)
        || contentType is "application/wasm" or "font/ttf" or "font/otf" or "application/vnd.ms-fontobject";

    /// <summary>
    /// The request path as a relative file path, or null when it could step outside: Kestrel has already decoded
    /// <c>%2e</c> and removed dot segments, but an encoded slash (<c>%2F</c>), a backslash or a NUL is refused here
    /// rather than interpreted.
    /// </summary>
    private static string? RelativePath(string path)
    {
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        foreach (var segment in segments)
        {
            if (segment is "." or ".." || segment.IndexOfAny(['\\', '\0']) >= 0 || segment.Contains("%2f", StringComparison.OrdinalIgnoreCase))
            {
                return null;
            }
        }
        return string.Join('/', segments);
    }

    /// <summary>The real path of <paramref name="relative"/> under <paramref name="root"/>, or null when missing or outside.</summary>
    private static string? Inside(string root, string? relative)
    {
        if (relative is null) return null;
        var real = RealPath(relative.Length == 0 ? root : Path.Join(root, relative));
        return real is not null && (real == root || real.StartsWith(root + "/", StringComparison.Ordinal)) ? real : null;
    }

    private static string? RegularFile(string? path) => path is not null && File.Exists(path) ? path : null;

    /// <summary>realpath(3): every symlink and dot segment resolved, so containment is checked on where bytes really live.</summary>
    private static string? RealPath(string path)
    {
        var resolved = NativeRealPath(path, 0);
        if (resolved == 0) return null;
        try
        {
            return Marshal.PtrToStringUTF8(resolved);
        }
        finally
        {
            NativeFree(resolved);
        }
    }

    [LibraryImport("libc", EntryPoint = "realpath", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint NativeRealPath(string path, nint resolved);

    [LibraryImport("libc", EntryPoint = "free")]
    private static partial void NativeFree(nint pointer);
}
