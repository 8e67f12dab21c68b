using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Slipway.Server.Builds;

namespace Slipway.Server.Tests.Builds;

public sealed class CheckingOutSourceTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly TestRepository repo = new();
    private readonly TempDirectory work = new();
    private readonly CapturedLines log = new();
    private readonly string firstSha;
    private readonly string tipSha;
    private readonly string featureSha;

    public CheckingOutSourceTests()
    {
        firstSha = repo.Commit("First version", files: ("app.txt", "one"));
        tipSha = repo.Commit("Second version", files: ("app.txt", "two"));
        featureSha = repo.Commit("Feature work", branch: "feature", files: ("app.txt", "feature"));
    }

    private static GitSource Source(TimeSpan? timeout = null) =>
        new(new BuildOptions { CloneTimeout = timeout ?? TimeSpan.FromMinutes(1) }, TimeProvider.System, NullLogger<GitSource>.Instance);

    private string Target(string name = "checkout") => work.Combine(name);

    [Fact]
    public async Task Checkout_Branch_ClonesItsTipAndRecordsShaAndSubject()
    {
        var checkout = await Source().CheckoutAsync(repo.FileUrl, "main", null, Target(), log.Add, CancellationToken.None).WaitAsync(Patience);

        Assert.Equal(tipSha, checkout.CommitSha);
        Assert.Equal("Second version", checkout.CommitMessage);
        Assert.Equal("two", File.ReadAllText(Path.Combine(checkout.Directory, "app.txt")));
        Assert.Equal("1", TestRepository.Git(checkout.Directory, "rev-list", "--count", "HEAD").Trim());
        Assert.Contains($"Cloning {repo.FileUrl} at main", log.Of("system"));
        Assert.Contains($"Checked out {tipSha[..7]}: Second version", log.Of("system"));
    }

    [Fact]
    public async Task Checkout_OtherBranch_ClonesThatBranch()
    {
        var checkout = await Source().CheckoutAsync(repo.BarePath, "feature", null, Target(), log.Add, CancellationToken.None).WaitAsync(Patience);

        Assert.Equal(featureSha, checkout.CommitSha);
        Assert.Equal("feature", File.ReadAllText(Path.Combine(checkout.Directory, "app.txt")));
    }

    [Fact]
    public async Task Checkout_OlderCommitThatIsNotTheTip_ChecksOutThatCommit()
    {
        var checkout = await Source().CheckoutAsync(repo.FileUrl, "main", firstSha, Target(), log.Add, CancellationToken.None).WaitAsync(Patience);

        Assert.Equal(firstSha, checkout.CommitSha);
        Assert.Equal("First version", checkout.CommitMessage);
        Assert.Equal("one", File.ReadAllText(Path.Combine(checkout.Directory, "app.txt")));
    }

    [Fact]
    public async Task Checkout_AbbreviatedOlderCommit_ResolvesTheFullSha()
    {
        var checkout = await Source().CheckoutAsync(repo.FileUrl, "main", firstSha[..10].ToUpperInvariant(), Target(), log.Add, CancellationToken.None)
            .WaitAsync(Patience);

        Assert.Equal(firstSha, checkout.CommitSha);
    }

    [Fact]
    public async Task Checkout_OlderCommitFromAServerThatCannotFetchBySha_FallsBackToAFullClone()
    {
        // A "dumb" HTTP server (plain static files) supports neither shallow fetches nor fetching a commit by its SHA.
        TestRepository.Git(repo.BarePath, "update-server-info");
        await using var server = await StaticServer.StartAsync(repo.BarePath);

        var checkout = await Source().CheckoutAsync(server.Url + "/", "main", firstSha, Target(), log.Add, CancellationToken.None)
            .WaitAsync(Patience);

        Assert.Equal(firstSha, checkout.CommitSha);
        Assert.Equal("one", File.ReadAllText(Path.Combine(checkout.Directory, "app.txt")));
        Assert.Contains(log.Of("system"), l => l.Contains("full history", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Checkout_UnknownBranch_FailsWithAClearError()
    {
        var error = await Assert.ThrowsAsync<GitSourceException>(() =>
            Source().CheckoutAsync(repo.FileUrl, "no-such-branch", null, Target(), log.Add, CancellationToken.None).WaitAsync(Patience));

        Assert.Equal(SourceFailure.UnknownBranch, error.Failure);
        Assert.Contains("'no-such-branch' does not exist", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Checkout_UnknownCommit_FailsWithAClearError()
    {
        const string missing = "0123456789abcdef0123456789abcdef01234567";

        var error = await Assert.ThrowsAsync<GitSourceException>(() =>
            Source().CheckoutAsync(repo.FileUrl, "main", missing, Target(), log.Add, CancellationToken.None).WaitAsync(Patience));

        Assert.Equal(SourceFailure.UnknownCommit, error.Failure);
        Assert.Contains(missing, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Checkout_MissingRepository_FailsAsUnreachable()
    {
        var error = await Assert.ThrowsAsync<GitSourceException>(() =>
            Source().CheckoutAsync(work.Combine("nothing-here.git"), "main", null, Target(), log.Add, CancellationToken.None).WaitAsync(Patience));

        Assert.Equal(SourceFailure.Unreachable, error.Failure);
        Assert.StartsWith("Could not read the repository", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("0123456789abcdef0123456789abcdef01234567")]
    public async Task Checkout_UrlThatLooksLikeAnOption_IsNeverTakenAsOne(string? commit)
    {
        var marker = work.Combine("pwned");
        var url = $"--upload-pack=touch {marker}";

        var error = await Assert.ThrowsAsync<GitSourceException>(() =>
            Source().CheckoutAsync(url, "main", commit, Target(), log.Add, CancellationToken.None).WaitAsync(Patience));

        Assert.Equal(SourceFailure.Unreachable, error.Failure);
        Assert.False(File.Exists(marker), "git ran the command smuggled in the URL");
    }

    [Fact]
    public async Task Checkout_BranchThatLooksLikeAnOption_IsRefused()
    {
        var error = await Assert.ThrowsAsync<GitSourceException>(() =>
            Source().CheckoutAsync(repo.FileUrl, "--upload-pack=true", null, Target(), log.Add, CancellationToken.None).WaitAsync(Patience));

        Assert.Equal(SourceFailure.InvalidInput, error.Failure);
    }

    [Fact]
    public async Task Checkout_ExtTransport_IsRefused()
    {
        var marker = work.Combine("ext-ran");

        var error = await Assert.ThrowsAsync<GitSourceException>(() =>
            Source().CheckoutAsync($"ext::sh -c touch% {marker}", "main", null, Target(), log.Add, CancellationToken.None).WaitAsync(Patience));

        Assert.Equal(SourceFailure.Unreachable, error.Failure);
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public async Task Checkout_CredentialsInTheUrl_NeverAppearInLogsOrErrors()
    {
        using var refusing = new TcpListener(IPAddress.Loopback, 0);
        refusing.Start();
        var port = ((IPEndPoint)refusing.LocalEndpoint).Port;
        refusing.Stop();
        var url = $"http://deploy-bot:s3cr3t-t0ken@127.0.0.1:{port}/team/app.git";

        var error = await Assert.ThrowsAsync<GitSourceException>(() =>
            Source().CheckoutAsync(url, "main", null, Target(), log.Add, CancellationToken.None).WaitAsync(Patience));

        Assert.Equal(SourceFailure.Unreachable, error.Failure);
        Assert.DoesNotContain("s3cr3t", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("deploy-bot", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", log.Text, StringComparison.Ordinal);
        Assert.Contains($"Cloning http://****@127.0.0.1:{port}/team/app.git at main", log.Of("system"));
    }

    [Fact]
    public async Task Checkout_ServerThatNeverAnswers_TimesOutAndStopsGit()
    {
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;
        var started = DateTime.UtcNow;

        var error = await Assert.ThrowsAsync<GitSourceException>(() =>
            Source(TimeSpan.FromSeconds(2)).CheckoutAsync($"git://127.0.0.1:{port}/app.git", "main", null, Target(), log.Add, CancellationToken.None)
                .WaitAsync(Patience));

        Assert.Equal(SourceFailure.TimedOut, error.Failure);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10), "the timeout did not stop git promptly");
    }

    [Fact]
    public async Task Checkout_Canceled_StopsGitAndThrowsCanceled()
    {
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(1));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            Source().CheckoutAsync($"git://127.0.0.1:{port}/app.git", "main", null, Target(), log.Add, cancel.Token).WaitAsync(Patience));
    }

    [Fact]
    public async Task AddBuilds_RegistersTheServices()
    {
        await using var server = await Support.SlipwayServer.StartAsync();

        Assert.NotNull(server.Service<GitSource>());
        Assert.NotNull(server.Service<ShellRunner>());
        Assert.Equal(Path.Combine(server.DataDirectory, "artifacts"), server.Service<ArtifactStore>().Directory);
    }

    public void Dispose()
    {
        work.Dispose();
        repo.Dispose();
    }

    /// <summary>Plain static files over HTTP: what git calls a "dumb" server.</summary>
    private sealed class StaticServer(WebApplication app, string url) : IAsyncDisposable
    {
        public string Url { get; } = url;

        public static async Task<StaticServer> StartAsync(string root)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            var app = builder.Build();
            app.UseStaticFiles(new StaticFileOptions { FileProvider = new PhysicalFileProvider(root), ServeUnknownFileTypes = true });
            await app.StartAsync();
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new StaticServer(app, address);
        }

        public async ValueTask DisposeAsync()
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}
