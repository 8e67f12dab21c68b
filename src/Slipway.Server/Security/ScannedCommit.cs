using Slipway.Server.Builds;
using Slipway.Server.Deployments;
using Slipway.Server.Hosting;
using Slipway.Server.Projects;

namespace Slipway.Server.Security;

/// <summary>
/// The commit an uploaded SARIF file says it scanned (<c>commit_sha</c>), checked out so that every location's snippet
/// (and the line hash of a result that brings no fingerprint) comes from the files of that commit, as for Slipway's own
/// scans. A commit that cannot be fetched (no repository, an unreachable one, an unknown commit) leaves the upload to
/// the snippets the SARIF file carries; the reason is logged.
/// </summary>
internal sealed class ScannedCommit(GitSource git, RepoCredentials credentials, ReleaseFiles files, IConfiguration configuration,
    ILogger<ScannedCommit> logger)
{
    public async Task<CommitCheckout?> CheckoutAsync(Project project, string? commitSha, string scanId, CancellationToken ct)
    {
        if (commitSha is null || project.RepoUrl is not { Length: > 0 }) return null;
        var directory = Path.Combine(configuration.DataDirectory(), "work", $"upload-{scanId}");
        try
        {
            var checkout = await git.CheckoutAsync(credentials.CloneUrl(project), project.Branch, commitSha, directory, (_, _) => { }, ct);
            return new CommitCheckout(new SourceTree(checkout.Directory), () => files.DeleteDirectory(directory));
        }
        catch (BuildException e)
        {
            SecurityLog.CommitUnavailable(logger, scanId, commitSha, e.Message);
            files.DeleteDirectory(directory);
            return null;
        }
    }
}

/// <summary>A checked-out commit, deleted when disposed.</summary>
internal sealed class CommitCheckout(SourceTree tree, Action delete) : IDisposable
{
    public SourceTree Tree => tree;

    public void Dispose() => delete();
}
