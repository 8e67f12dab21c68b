using Slipway.Server.Builds;
using Slipway.Server.Hosting;
using Slipway.Server.Projects;
using Slipway.Server.Security;
using Slipway.Server.Uploads;

namespace Slipway.Server.Deployments;

/// <summary>The tree a deployment builds from, in its work directory.</summary>
internal sealed record SourceTree(string Directory, string Root);

/// <summary>
/// Source: a git commit (checked out, SHA and subject recorded, then the security gate scans it before anything of it
/// runs) or an uploaded archive that validation already extracted (copied, so a build never changes the upload).
/// </summary>
internal sealed class SourcePhase(GitSource git, UploadFiles uploads, ReleaseFiles files, TimeProvider time)
{
    public async Task<SourceTree> FetchAsync(DeploymentRun run, CancellationToken ct)
    {
        var deployment = run.Deployment;
        deployment.BuildStartedAt = time.UtcNowMs();
        await run.Db.SaveChangesAsync(ct);
        var phase = System.Diagnostics.Stopwatch.StartNew();
        string directory;
        if (deployment.UploadId is { } uploadId)
        {
            directory = run.WorkDirectory;
            run.Log("system", $"Source: upload {uploadId}.");
            await uploads.CopyTreeAsync(uploadId, directory, ct);
            await run.RecordAsync("source_ms", phase, ct);
        }
        else
        {
            var cloneUrl = run.Services.GetRequiredService<RepoCredentials>().CloneUrl(run.Project);
            var checkout = await git.CheckoutAsync(cloneUrl, deployment.Branch, deployment.RequestedCommitSha, run.WorkDirectory,
                (stream, line) => run.Log("system", line), ct);
            deployment.CommitSha = checkout.CommitSha;
            deployment.CommitMessage = checkout.CommitMessage;
            if (deployment.Branch.Length == 0) deployment.Branch = checkout.Branch;
            await run.RecordAsync("clone_ms", phase, ct);
            directory = checkout.Directory;
            phase.Restart();
            try
            {
                await run.Services.GetRequiredService<DeploymentGate>().CheckAsync(run.Project.WorkspaceId, run.Project.Id, run.Id, checkout.CommitSha,
                    deployment.Branch, directory, run.WorkDirectory + ".scan", (stream, line) => run.Log(stream == "scan" ? "build" : "system", line), ct);
            }
            finally
            {
                files.DeleteDirectory(run.WorkDirectory + ".scan");
            }
            await run.RecordAsync("gate_ms", phase, ct);
        }

        var root = run.Project.RootDirectory is { } relative ? Path.GetFullPath(Path.Combine(directory, relative)) : directory;
        if (!root.StartsWith(directory, StringComparison.Ordinal) || !System.IO.Directory.Exists(root))
        {
            throw new DeploymentFailedException($"root_directory '{run.Project.RootDirectory}' does not exist in the source.");
        }
        if (ThroughALink(directory, root))
        {
            throw new DeploymentFailedException($"root_directory '{run.Project.RootDirectory}' is a link; it must be a directory of the source.");
        }
        return new SourceTree(directory, root);
    }

    /// <summary>True when a directory on the way from <paramref name="root"/> down to <paramref name="path"/> is a link.</summary>
    public static bool ThroughALink(string root, string path)
    {
        for (var current = path; current.Length > root.Length; current = Path.GetDirectoryName(current)!)
        {
            if (new DirectoryInfo(current).LinkTarget is not null) return true;
        }
        return false;
    }
}
