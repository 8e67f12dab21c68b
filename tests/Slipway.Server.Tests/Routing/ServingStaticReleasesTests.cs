using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using Slipway.Server.Routing;
using Slipway.Server.Tests.Support;
using static Slipway.Server.Tests.Routing.RouterTesting;

namespace Slipway.Server.Tests.Routing;

public sealed class ServingStaticReleasesTests : IAsyncLifetime
{
    private const string Index = "<!doctype html><title>home</title><p>Welcome home</p>";
    private static readonly string Css = string.Concat(Enumerable.Repeat("body { color: #333; margin: 0 auto; }\n", 200));

    private SlipwayServer server = null!;
    private HttpClient client = null!;
    private string site = null!;
    private string bare = null!;
    private string outside = null!;

    public async Task InitializeAsync()
    {
        var root = Directory.CreateTempSubdirectory("slipway-static-").FullName;
        site = Path.Combine(root, "release");
        bare = Path.Combine(root, "bare");
        outside = Path.Combine(root, "outside");
        Directory.CreateDirectory(Path.Combine(site, "docs"));
        Directory.CreateDirectory(bare);
        Directory.CreateDirectory(outside);
        await File.WriteAllTextAsync(Path.Combine(site, "index.html"), Index);
        await File.WriteAllTextAsync(Path.Combine(site, "style.css"), Css);
        await File.WriteAllTextAsync(Path.Combine(site, "about.html"), "<p>About us</p>");
        await File.WriteAllTextAsync(Path.Combine(site, "docs", "index.html"), "<p>Docs</p>");
        await File.WriteAllTextAsync(Path.Combine(site, "404.html"), "<p>Custom not found</p>");
        await File.WriteAllBytesAsync(Path.Combine(site, "logo.png"), [0x89, 0x50, 0x4e, 0x47]);
        await File.WriteAllTextAsync(Path.Combine(bare, "index.html"), "bare");
        await File.WriteAllTextAsync(Path.Combine(outside, "secret.txt"), "TOP SECRET");
        await File.WriteAllTextAsync(Path.Combine(root, "secret.txt"), "TOP SECRET");
        File.CreateSymbolicLink(Path.Combine(site, "leak.txt"), Path.Combine(outside, "secret.txt"));
        Directory.CreateSymbolicLink(Path.Combine(site, "leakdir"), outside);

        server = await SlipwayServer.StartAsync();
        client = server.RouterClient();
        server.SetRoutes(
            ("site.localhost", new RouteTarget("dep-site", null, site)),
            ("bare.localhost", new RouteTarget("dep-bare", null, bare)),
            ("gone.localhost", new RouteTarget("dep-gone", null, Path.Combine(root, "missing"))));
    }

    public async Task DisposeAsync()
    {
        client.Dispose();
        await server.DisposeAsync();
        Directory.Delete(Path.GetDirectoryName(site)!, recursive: true);
    }

    private async Task<HttpResponseMessage> GetAsync(string path, string host = "site.localhost", Action<HttpRequestMessage>? configure = null)
    {
        using var request = For(host, HttpMethod.Get, path);
        configure?.Invoke(request);
        return await client.SendAsync(request);
    }

    [Fact]
    public async Task Root_ServesIndexHtml_AsHtml()
    {
        using var response = await GetAsync("/");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal(Index, await response.Content.ReadAsStringAsync());
        Assert.Equal("no-cache", response.Headers.CacheControl!.ToString());
    }

    [Fact]
    public async Task Files_HaveContentTypesFromTheirExtension()
    {
        using var css = await GetAsync("/style.css");
        using var png = await GetAsync("/logo.png");

        Assert.Equal("text/css", css.Content.Headers.ContentType!.MediaType);
        Assert.Equal(Css, await css.Content.ReadAsStringAsync());
        Assert.Equal("image/png", png.Content.Headers.ContentType!.MediaType);
        Assert.Equal(4, (await png.Content.ReadAsByteArrayAsync()).Length);
    }

    [Fact]
    public async Task Directory_WithSlashServesItsIndex_WithoutSlashRedirects()
    {
        using var docs = await GetAsync("/docs/");
        using var redirect = await GetAsync("/docs?x=1");

        Assert.Equal("<p>Docs</p>", await docs.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.MovedPermanently, redirect.StatusCode);
        Assert.Equal("/docs/?x=1", redirect.Headers.Location!.OriginalString);
    }

    [Fact]
    public async Task CleanUrl_ServesTheHtmlFile()
    {
        using var response = await GetAsync("/about");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("<p>About us</p>", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Missing_Serves404Html_WithStatus404()
    {
        using var response = await GetAsync("/nope/nothing.js");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("<p>Custom not found</p>", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Missing_WithoutA404Html_ServesTheRoutersPage()
    {
        using var response = await GetAsync("/nope", host: "bare.localhost");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("404 Not found", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task MissingReleaseDirectory_Is503()
    {
        using var response = await GetAsync("/", host: "gone.localhost");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
    }

    [Fact]
    public async Task Revalidation_WithETagOrDate_Is304()
    {
        using var first = await GetAsync("/style.css");
        var etag = first.Headers.ETag!;
        var lastModified = first.Content.Headers.LastModified!.Value;

        using var byTag = await GetAsync("/style.css", configure: r => r.Headers.IfNoneMatch.Add(etag));
        using var byDate = await GetAsync("/style.css", configure: r => r.Headers.IfModifiedSince = lastModified);
        using var stale = await GetAsync("/style.css", configure: r => r.Headers.IfNoneMatch.Add(new EntityTagHeaderValue("\"other\"")));

        Assert.Equal(HttpStatusCode.NotModified, byTag.StatusCode);
        Assert.Empty(await byTag.Content.ReadAsByteArrayAsync());
        Assert.Equal(etag, byTag.Headers.ETag);
        Assert.Equal(HttpStatusCode.NotModified, byDate.StatusCode);
        Assert.Equal(HttpStatusCode.OK, stale.StatusCode);
    }

    [Theory]
    [InlineData("gzip")]
    [InlineData("br")]
    public async Task Text_WhenClientAcceptsCompression_IsCompressed(string encoding)
    {
        using var response = await GetAsync("/style.css", configure: r => r.Headers.AcceptEncoding.ParseAdd(encoding));

        Assert.Equal(encoding, response.Content.Headers.ContentEncoding.Single());
        Assert.Contains("Accept-Encoding", response.Headers.Vary);
        var compressed = await response.Content.ReadAsByteArrayAsync();
        Assert.True(compressed.Length < Css.Length / 4, $"{compressed.Length} bytes for {Css.Length}");
        using Stream decompressor = encoding == "br"
            ? new BrotliStream(new MemoryStream(compressed), CompressionMode.Decompress)
            : new GZipStream(new MemoryStream(compressed), CompressionMode.Decompress);
        Assert.Equal(Css, await new StreamReader(decompressor).ReadToEndAsync());
    }

    [Fact]
    public async Task Images_AreNeverCompressed()
    {
        using var response = await GetAsync("/logo.png", configure: r => r.Headers.AcceptEncoding.ParseAdd("gzip"));

        Assert.Empty(response.Content.Headers.ContentEncoding);
    }

    [Fact]
    public async Task Post_ToStaticSite_Is405()
    {
        using var request = For("site.localhost", HttpMethod.Post, "/");
        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal("GET, HEAD", string.Join(", ", response.Content.Headers.Allow));
    }

    [Theory]
    [InlineData("/../secret.txt")]
    [InlineData("/%2e%2e/secret.txt")]
    [InlineData("/docs/..%2f..%2fsecret.txt")]
    [InlineData("/..%5csecret.txt")]
    [InlineData("/leak.txt")]
    [InlineData("/leakdir/secret.txt")]
    public async Task Traversal_OutOfTheRelease_IsRefused(string path)
    {
        var response = await server.RawAsync($"GET {path} HTTP/1.1\nHost: site.localhost\nConnection: close\n");

        Assert.DoesNotContain("TOP SECRET", response);
        Assert.True(RawStatus(response) is 400 or 404, response);
    }
}
