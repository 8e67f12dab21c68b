using Slipway.Server.Builds;
using Slipway.Server.Data;
using Slipway.Server.Hosting;

namespace Slipway.Server.Deployments;

/// <summary>
/// Frees what deployments leave on disk: unpacked releases, work directories and, once no deployment can still start
/// from it, an artifact. Callers run this after their database change has committed, so a failed delete neither
/// undoes nor fails that change: the file stays behind, and the next collection of the same artifact tries again.
/// </summary>
internal sealed partial class ReleaseFiles(ArtifactStore artifacts, IConfiguration configuration, ILogger<ReleaseFiles> logger)
{
    private readonly string releases = configuration.ReleasesDirectory();

    public void DeleteRelease(string deploymentId) => DeleteDirectory(Path.Combine(releases, deploymentId));

    /// <summary>
    /// Deletes the artifact unless a deployment still holds it uncollected (queued, building, retained or live).
    /// Rows marked collected do not keep it, and neither do rows already deleted with their project.
    /// </summary>
    public async Task DeleteArtifactIfUnusedAsync(SlipwayDb db, string sha256, CancellationToken ct)
    {
        if (await db.Deployments.AnyAsync(d => d.ArtifactSha256 == sha256 && !d.ArtifactCollected, ct)) return;
        try
        {
            artifacts.Delete(sha256);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            DeleteFailed(logger, ex, artifacts.PathOf(sha256));
        }
    }

    public void DeleteDirectory(string directory)
    {
        try
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            DeleteFailed(logger, ex, directory);
        }
    }

    [LoggerMessage(EventId = 3004, Level = LogLevel.Warning, Message = "Could not delete {Path}; it stays on disk")]
    private static partial void DeleteFailed(ILogger logger, Exception ex, string path);
}
