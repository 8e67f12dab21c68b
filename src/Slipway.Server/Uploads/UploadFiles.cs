using System.Security.Cryptography;
using Slipway.Server.Hosting;

namespace Slipway.Server.Uploads;

/// <summary>What an upload received: its size and sha256, computed while it streamed to disk.</summary>
internal sealed record ReceivedFile(long Size, string Sha256);

/// <summary>
/// An upload's files under <c>&lt;data&gt;/uploads</c>: <c>&lt;id&gt;.archive</c> while it waits for validation,
/// <c>&lt;id&gt;.staging</c> while it is extracted, and <c>&lt;id&gt;/</c>, the validated tree its deployments copy.
/// </summary>
internal sealed partial class UploadFiles(IConfiguration configuration, Deployments.ReleaseFiles files, ILogger<UploadFiles> logger)
{
    private const int ChunkSize = 1 << 20;

    public string Directory { get; } = Path.Combine(configuration.DataDirectory(), "uploads");

    public string ArchivePath(string id) => Path.Combine(Directory, id + ".archive");
    public string StagingPath(string id) => Path.Combine(Directory, id + ".staging");
    public string TreePath(string id) => Path.Combine(Directory, id);

    /// <summary>
    /// Streams <paramref name="body"/> to the upload's archive file, hashing as it goes; never more than
    /// <paramref name="limit"/> bytes (<see cref="UploadTooLargeException"/>, and the partial file is gone).
    /// A pipeline of three stages over two buffers: while one chunk is hashed (on a pool thread) and written (a positional
    /// write, also on a pool thread), the next is read from the request. Done one after the other, reading, SHA-256 and the
    /// write into the page cache held a 1 GiB upload at about half the speed of an endpoint that discards the body.
    /// </summary>
    public async Task<ReceivedFile> ReceiveAsync(string id, Stream body, long limit, CancellationToken ct)
    {
        System.IO.Directory.CreateDirectory(Directory);
        var path = ArchivePath(id);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, BufferSize = 0 };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        var pending = Task.CompletedTask;
        try
        {
            await using var file = new FileStream(path, options);
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            byte[][] buffers = [new byte[ChunkSize], new byte[ChunkSize]];
            long size = 0;
            try
            {
                for (var turn = 0; ; turn ^= 1)
                {
                    // The other buffer is still being hashed and written; this one is free since the last turn's wait.
                    var buffer = buffers[turn];
                    var read = await body.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, ct);
                    await pending;
                    if (read == 0) break;
                    size += read;
                    if (size > limit) throw new UploadTooLargeException();
                    var chunk = new ReadOnlyMemory<byte>(buffer, 0, read);
                    pending = Task.WhenAll(
                        Task.Run(() => hash.AppendData(chunk.Span), ct),
                        RandomAccess.WriteAsync(file.SafeFileHandle, chunk, size - read, ct).AsTask());
                }
            }
            finally
            {
                // Never leave a hash or a write running on a disposed hash or file.
                await pending.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
            return new ReceivedFile(size, Convert.ToHexStringLower(hash.GetHashAndReset()));
        }
        catch
        {
            DeleteFile(path);
            throw;
        }
    }

    /// <summary>The validated tree into a deployment's work directory: files, directories and (already checked) links, with their modes.</summary>
    public Task CopyTreeAsync(string id, string target, CancellationToken ct) => Task.Run(() =>
    {
        var source = TreePath(id);
        if (!System.IO.Directory.Exists(source)) throw new Deployments.DeploymentFailedException($"The files of upload {id} are no longer kept.");
        Copy(new DirectoryInfo(source), target, ct);
    }, ct);

    private static void Copy(DirectoryInfo source, string target, CancellationToken ct)
    {
        System.IO.Directory.CreateDirectory(target);
        foreach (var info in source.EnumerateFileSystemInfos())
        {
            ct.ThrowIfCancellationRequested();
            var path = Path.Combine(target, info.Name);
            if (info.LinkTarget is { } link) File.CreateSymbolicLink(path, link);
            else if (info is DirectoryInfo directory) Copy(directory, path, ct);
            else File.Copy(info.FullName, path);
        }
    }

    /// <summary>
    /// Retention: the newest <paramref name="keep"/> distributed uploads of the environment keep their files, and the live
    /// one always; older ones are marked collected (they can no longer be distributed) and their tree is deleted.
    /// </summary>
    public async Task CollectAsync(Data.SlipwayDb db, string environmentId, string? liveDeploymentId, int keep, CancellationToken ct)
    {
        var live = await db.Deployments.Where(d => d.Id == liveDeploymentId).Select(d => d.UploadId).FirstOrDefaultAsync(ct);
        var distributed = await db.Uploads
            .Where(u => u.EnvironmentId == environmentId && u.DistributedAt != null && !u.FilesCollected && u.Status != UploadStatus.Distributing)
            .OrderByDescending(u => u.DistributedAt).ThenByDescending(u => u.Id).Select(u => u.Id).ToListAsync(ct);
        var kept = distributed.Take(Math.Max(1, keep)).Append(live).ToHashSet();
        foreach (var id in distributed.Where(id => !kept.Contains(id)))
        {
            await db.Uploads.Where(u => u.Id == id).ExecuteUpdateAsync(s => s.SetProperty(u => u.FilesCollected, true), ct);
            DeleteAll(id);
        }
    }

    /// <summary>Everything an upload has on disk.</summary>
    public void DeleteAll(string id)
    {
        DeleteFile(ArchivePath(id));
        DeleteDirectory(StagingPath(id));
        DeleteDirectory(TreePath(id));
    }

    public void DeleteFile(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            DeleteFailed(logger, ex, path);
        }
    }

    public void DeleteDirectory(string path) => files.DeleteDirectory(path);

    [LoggerMessage(EventId = 14001, Level = LogLevel.Warning, Message = "Could not delete upload file {Path}; it stays on disk")]
    private static partial void DeleteFailed(ILogger logger, Exception ex, string path);
}

internal sealed class UploadTooLargeException() : Exception("The upload is larger than the configured limit.");
