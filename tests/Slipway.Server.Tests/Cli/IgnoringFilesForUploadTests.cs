using Slipway.Cli;

namespace Slipway.Server.Tests.Cli;

/// <summary>The <c>.slipwayignore</c> patterns <c>deploy --upload</c> honours: the gitignore rules a deploy needs.</summary>
public sealed class IgnoringFilesForUploadTests
{
    private static readonly UploadArchive.IgnoreRules Rules = UploadArchive.IgnoreRules.Parse(
    [
        "# comment", "", "*.log", "/dist", "build/", "docs/**/*.md", "!docs/keep.md", "secret?.env",
    ]);

    [Theory]
    [InlineData("app.log", false, true)]
    [InlineData("deep/inside/app.log", false, true)]
    [InlineData("dist", true, true)]
    [InlineData("src/dist", true, false)]
    [InlineData("build", true, true)]
    [InlineData("build", false, false)]
    [InlineData("src/build", true, true)]
    [InlineData("docs/a/b/readme.md", false, true)]
    [InlineData("docs/readme.md", false, true)]
    [InlineData("docs/keep.md", false, false)]
    [InlineData("secret1.env", false, true)]
    [InlineData("secret12.env", false, false)]
    [InlineData("server.js", false, false)]
    public void Pattern_ExcludesWhatGitWould(string path, bool isDirectory, bool excluded) =>
        Assert.Equal(excluded, Rules.Excludes(path, isDirectory));
}
