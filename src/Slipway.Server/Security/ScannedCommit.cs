using Slipway.Server.Builds;
using Slipway.Server.Hosting;
using Slipway.Server.Projects;

namespace Slipway.Server.Security;

/// <summary>
/// The commit an uploaded SARIF file says it scanned (<c>commit_sha</c>), checked out so that every location's snippet
/// (and the line hash of a result that brings no fingerprint) comes from the files of that commit, as for Slipway's own
/// scans. A commit that cannot be fetched (no repository, an unreachable one, an unknown commit) leaves the upload to
/// the snippets the SARIF file carries; the reason is logged.
/// </summary>
internal sealed class ScannedCommit(GitSource git, RepoCredentials credentials, IConfiguration configuration, ILogger<ScannedCommit> logger)
{
    public async Task<CommitCheckout?> CheckoutAsync(Project project, string? commitSha, string scanId, CancellationToken ct)
    {
        if (commitSha is null || project.RepoUrl is not { Length: > 0 }) return null;
        var directory = Path.Combine(configuration.DataDirectory(), "work", $"upload-{scanId}");
        try
        {
            var checkout = await git.CheckoutAsync(credentials.CloneUrl(project), project.Branch, commitSha, directory, (_, _) => { }, ct);
            return new CommitCheckout(directory, new SourceTree(checkout.Directory));
        }
        catch (BuildException e)
        {
            SecurityLog.CommitUnavailable(logger, scanId, commitSha, e.Message);
            WorkDirectories.DeleteQuietly(directory);
            return null;
        }
    }
}

/// <summary>A checked-out commit, deleted when disposed.</summary>
internal sealed class CommitCheckout(string directory, SourceTree tree) : IDisposable
{
    public SourceTree Tree => tree;

    public void Dispose() => WorkDirectories.DeleteQuietly(directory);
}

/// <summary>Scratch directories under the data directory's <c>work/</c>: removed after use, and leftovers at start-up.</summary>
internal static class WorkDirectories
{
    public static void DeleteQuietly(string directory)
    {
        try
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A leftover work directory is removed on the next start.
        }
    }
}
