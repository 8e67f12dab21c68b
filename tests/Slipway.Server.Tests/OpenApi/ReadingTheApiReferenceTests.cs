using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.OpenApi;

/// <summary>The OpenAPI document under the API's base path too, and the Scalar reference page over it, served offline.</summary>
public sealed class ReadingTheApiReferenceTests : IAsyncLifetime
{
    private SlipwayServer server = null!;

    public async Task InitializeAsync() => server = await SlipwayServer.StartAsync();

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task Document_IsServedUnderTheApiBasePath_TheSameAsAtTheRoot()
    {
        var root = (await server.GetAsync("/openapi.json")).AssertStatus(200);
        var underApi = (await server.GetAsync("/api/v1/openapi.json")).AssertStatus(200);

        Assert.Equal(root.Body, underApi.Body);
        Assert.Equal("3.1.1", underApi.Json["openapi"]!.GetValue<string>()[..5]);
    }

    [Fact]
    public async Task DocsPage_LoadsScalarFromThisServer_OverTheDocument()
    {
        var page = (await server.GetAsync("/docs/")).AssertStatus(200);
        Assert.StartsWith("text/html", page.Header("Content-Type"));
        // Scalar resolves a relative source against the origin (the page's path less /docs/): /openapi.json.
        Assert.Contains("\"url\":\"openapi.json\"", page.Body);

        var scripts = System.Text.RegularExpressions.Regex.Matches(page.Body, "<script[^>]+src=\"([^\"]+)\"").Select(m => m.Groups[1].Value).ToList();
        Assert.Contains("scalar.js", scripts);
        Assert.True((await server.GetAsync("/docs/scalar.js")).AssertStatus(200).Body.Length > 1_000_000, "the whole Scalar bundle is served here");
        foreach (var script in scripts)
        {
            Assert.False(script.StartsWith("http", StringComparison.Ordinal), $"{script} would come from another server");
            var path = script.StartsWith('/') ? script : "/docs/" + script.TrimStart('.', '/');
            var js = (await server.GetAsync(path)).AssertStatus(200);
            Assert.Contains("javascript", js.Header("Content-Type"));
        }
    }
}
