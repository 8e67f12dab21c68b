using Slipway.Server.Security;

namespace Slipway.Server.Tests.Security;

public sealed class ReadingSourceTreesTests : IDisposable
{
    private readonly DirectoryInfo root = Directory.CreateTempSubdirectory("slipway-tree-");

    public void Dispose() => root.Delete(recursive: true);

    [Theory]
    [InlineData("src/app.js", "src/app.js")]
    [InlineData("./src/app.js", "src/app.js")]
    [InlineData("file:///app/src/src/app.js", "src/app.js")]
    [InlineData("src/a%20b.js", "src/a b.js")]
    // Decoded once: a file whose name holds "%25" stays that name whether or not the scanner ran in the sandbox.
    [InlineData("file:///app/src/lib/100%2525.js", "lib/100%25.js")]
    public void Relative_SandboxedScannersUri_IsTheRepositoryPathDecodedOnce(string uri, string expected)
    {
        var tree = new SourceTree(root.FullName, "/app/src");

        Assert.Equal(expected, tree.Relative(uri));
    }

    [Fact]
    public void Relative_UriUnderTheCheckout_IsCutAtTheCheckout()
    {
        var tree = new SourceTree(root.FullName);

        Assert.Equal("lib/100%25.js", tree.Relative($"file://{root.FullName}/lib/100%2525.js"));
    }

    [Fact]
    public void Snippet_OutsideTheTree_IsNull()
    {
        File.WriteAllText(Path.Combine(root.FullName, "a.js"), "one\ntwo\nthree\n");
        var tree = new SourceTree(root.FullName);

        Assert.Equal("two\nthree", tree.Snippet("a.js", 2, 3));
        Assert.Null(tree.Snippet("../a.js", 1, 1));
    }
}
