using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace Slipway.Server.Builds;

/// <summary>
/// Build outputs as gzipped tarballs named by their sha256, in <c>&lt;data&gt;/artifacts</c>. Packing is deterministic
/// (sorted entries, fixed times and owners), so the same tree always gives the same address and is stored once.
/// Unpacking trusts nothing: every entry must land inside the target, links included.
/// </summary>
internal sealed partial class ArtifactStore(string directory, ILogger<ArtifactStore> logger)
{
    private static readonly DateTimeOffset FixedTime = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private const UnixFileMode PermissionBits = (UnixFileMode)0x1FF; // 0777: no setuid/setgid/sticky from an archive

    public string Directory { get; } = Path.GetFullPath(directory);

    public string PathOf(string sha256) => Path.Combine(Directory, CheckSha(sha256) + ".tar.gz");

    public bool Exists(string sha256) => File.Exists(PathOf(sha256));

    public void Delete(string sha256) => File.Delete(PathOf(sha256));

    /// <summary>
    /// <paramref name="level"/>: <see cref="CompressionLevel.Fastest"/> for build output; an uploaded build was compressed
    /// by its sender already and is stored (<see cref="CompressionLevel.NoCompression"/>): compressing it again costs
    /// seconds of CPU on the way to serving for little gain.
    /// </summary>
    public async Task<Artifact> PackAsync(string sourceDirectory, CancellationToken ct, CompressionLevel level = CompressionLevel.Fastest)
    {
        var root = Path.GetFullPath(sourceDirectory);
        if (!System.IO.Directory.Exists(root)) throw new DirectoryNotFoundException($"Nothing to pack: {root} does not exist.");
        System.IO.Directory.CreateDirectory(Directory);
        var temp = Path.Combine(Directory, $".pack-{Guid.NewGuid():N}.tmp");
        string sha256;
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Options = FileOptions.Asynchronous };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            await using (var file = new FileStream(temp, options))
            {
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                await using (var hashing = new HashingStream(file, hash))
                await using (var gzip = new GZipStream(hashing, level, leaveOpen: true))
                await using (var tar = new TarWriter(gzip, TarEntryFormat.Pax, leaveOpen: true))
                {
                    foreach (var entry in Walk(root, ""))
                    {
                        ct.ThrowIfCancellationRequested();
                        await WriteEntryAsync(tar, root, entry, ct);
                    }
                }
                sha256 = Convert.ToHexStringLower(hash.GetHashAndReset());
            }

            var final = PathOf(sha256);
            try
            {
                File.Move(temp, final, overwrite: false);
            }
            catch (IOException) when (File.Exists(final))
            {
                // Same content already stored (an earlier build, or a concurrent one): its address proves it is identical.
                File.Delete(temp);
            }
            var artifact = new Artifact(sha256, new FileInfo(final).Length, final);
            BuildsLog.Packed(logger, sha256, artifact.Size, root);
            return artifact;
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>
    /// Unpacks into <paramref name="targetDirectory"/>, which must not exist yet or be empty (so nothing in it predates the
    /// archive). Links are created last, after all of them have been resolved inside the target.
    /// </summary>
    public async Task UnpackAsync(string sha256, string targetDirectory, CancellationToken ct)
    {
        var source = PathOf(sha256);
        if (!File.Exists(source)) throw new FileNotFoundException($"The artifact {sha256} is not in the store.", source);
        var target = Path.GetFullPath(targetDirectory);
        if (System.IO.Directory.Exists(target) && System.IO.Directory.EnumerateFileSystemEntries(target).Any())
            throw new InvalidOperationException($"The release directory {target} is not empty.");
        System.IO.Directory.CreateDirectory(target);

        var links = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            await using var file = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, FileOptions.Asynchronous);
            await using var gzip = new GZipStream(file, CompressionMode.Decompress);
            await using var tar = new TarReader(gzip);
            while (await tar.GetNextEntryAsync(copyData: false, ct) is { } entry)
            {
                var name = SafeName(entry.Name);
                if (name.Length == 0) continue;
                if (Prefixes(name).Any(links.ContainsKey)) throw new UnsafeArchiveException($"The entry '{entry.Name}' lies under a link.");
                var path = Path.Combine(target, name);
                switch (entry.EntryType)
                {
                    case TarEntryType.Directory:
                        System.IO.Directory.CreateDirectory(path);
                        break;
                    case TarEntryType.RegularFile or TarEntryType.V7RegularFile:
                        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                        await using (var output = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 81920, FileOptions.Asynchronous))
                        {
                            if (entry.DataStream is not null) await entry.DataStream.CopyToAsync(output, ct);
                        }
                        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, entry.Mode & PermissionBits);
                        break;
                    case TarEntryType.SymbolicLink:
                        if (!links.TryAdd(name, entry.LinkName)) throw new UnsafeArchiveException($"The link '{entry.Name}' appears twice.");
                        break;
                    default:
                        throw new UnsafeArchiveException($"The entry '{entry.Name}' is a {entry.EntryType}, which artifacts never contain.");
                }
            }

            foreach (var (name, linkTarget) in links.OrderBy(l => l.Key, StringComparer.Ordinal))
            {
                if (Prefixes(name).Any(links.ContainsKey)) throw new UnsafeArchiveException($"The link '{name}' lies under another link.");
                if (!StaysInside(name, linkTarget, links))
                    throw new UnsafeArchiveException($"The link '{name}' points outside the release ('{linkTarget}').");
                var path = Path.Combine(target, name);
                System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                File.CreateSymbolicLink(path, linkTarget);
            }
        }
        catch (Exception e)
        {
            // Half a release is worse than none: nothing may start from it.
            System.IO.Directory.Delete(target, recursive: true);
            if (e is UnsafeArchiveException) BuildsLog.UnpackRefused(logger, sha256, e.Message);
            if (e is InvalidDataException or IOException or FormatException)
                throw new UnsafeArchiveException($"The artifact {sha256} could not be unpacked: {e.Message}");
            throw;
        }
    }

    private sealed record WalkEntry(string RelativePath, FileSystemInfo Info);

    /// <summary>Depth-first in ordinal name order; never follows a link and never enters <c>.git</c>.</summary>
    private static IEnumerable<WalkEntry> Walk(string root, string relative)
    {
        var directory = new DirectoryInfo(relative.Length == 0 ? root : Path.Combine(root, relative));
        foreach (var info in directory.EnumerateFileSystemInfos().OrderBy(i => i.Name, StringComparer.Ordinal))
        {
            if (info.Name == ".git") continue;
            var path = relative.Length == 0 ? info.Name : relative + "/" + info.Name;
            yield return new WalkEntry(path, info);
            if (info is DirectoryInfo && info.LinkTarget is null)
            {
                foreach (var child in Walk(root, path)) yield return child;
            }
        }
    }

    private static async Task WriteEntryAsync(TarWriter tar, string root, WalkEntry item, CancellationToken ct)
    {
        var info = item.Info;
        PaxTarEntry entry;
        if (info.LinkTarget is { } linkTarget)
        {
            entry = new PaxTarEntry(TarEntryType.SymbolicLink, item.RelativePath) { LinkName = linkTarget };
        }
        else if (info is DirectoryInfo)
        {
            entry = new PaxTarEntry(TarEntryType.Directory, item.RelativePath + "/");
        }
        else if (info is FileInfo file && (file.Attributes & (FileAttributes.Device | FileAttributes.ReparsePoint)) == 0)
        {
            entry = new PaxTarEntry(TarEntryType.RegularFile, item.RelativePath);
        }
        else
        {
            return; // sockets, fifos, devices: not build output
        }
        entry.ModificationTime = FixedTime;
        entry.Uid = 0;
        entry.Gid = 0;
        entry.Mode = OperatingSystem.IsWindows() ? (UnixFileMode)0x1A4 : info.UnixFileMode & PermissionBits;
        if (entry.EntryType == TarEntryType.RegularFile)
        {
            await using var data = new FileStream(Path.Combine(root, item.RelativePath), FileMode.Open, FileAccess.Read, FileShare.Read, 81920,
                FileOptions.Asynchronous | FileOptions.SequentialScan);
            entry.DataStream = data;
            await tar.WriteEntryAsync(entry, ct);
        }
        else
        {
            await tar.WriteEntryAsync(entry, ct);
        }
    }

    /// <summary>A relative path with forward slashes; absolute names and <c>..</c> segments are refused.</summary>
    internal static string SafeName(string name)
    {
        if (name.StartsWith('/') || name.StartsWith('\\'))
            throw new UnsafeArchiveException($"The entry '{name}' has an absolute path.");
        var segments = name.Replace('\\', '/').Split('/', StringSplitOptions.RemoveEmptyEntries).Where(s => s != ".").ToArray();
        if (segments.Contains("..")) throw new UnsafeArchiveException($"The entry '{name}' climbs out of the release with '..'.");
        if (segments.Any(s => s.Contains('\0', StringComparison.Ordinal))) throw new UnsafeArchiveException($"The entry '{name}' holds a NUL character.");
        return string.Join('/', segments);
    }

    internal static IEnumerable<string> Prefixes(string name)
    {
        for (var i = name.IndexOf('/', StringComparison.Ordinal); i >= 0; i = name.IndexOf('/', i + 1)) yield return name[..i];
    }

    /// <summary>
    /// Resolves a link the way the kernel will, but against the archive's own links (the target starts empty, so they are
    /// all there is): each '..' pops a real directory, each link met on the way is expanded. Leaving the root fails.
    /// </summary>
    internal static bool StaysInside(string linkName, string linkTarget, Dictionary<string, string> links)
    {
        if (linkTarget.Length == 0 || linkTarget.StartsWith('/') || linkTarget.Contains('\0', StringComparison.Ordinal)) return false;
        var resolved = new List<string>(linkName.Split('/')[..^1]);
        var pending = new LinkedList<string>(linkTarget.Split('/'));
        var expansions = 0;
        while (pending.First is { } next)
        {
            pending.RemoveFirst();
            var segment = next.Value;
            if (segment is "" or ".") continue;
            if (segment == "..")
            {
                if (resolved.Count == 0) return false;
                resolved.RemoveAt(resolved.Count - 1);
                continue;
            }
            resolved.Add(segment);
            if (links.TryGetValue(string.Join('/', resolved), out var inner))
            {
                if (++expansions > 40 || inner.StartsWith('/')) return false;
                resolved.RemoveAt(resolved.Count - 1);
                foreach (var part in inner.Split('/').Reverse()) pending.AddFirst(part);
            }
        }
        return true;
    }

    private static string CheckSha(string sha256) =>
        Sha256Pattern().IsMatch(sha256) ? sha256 : throw new ArgumentException($"'{sha256}' is not a sha256 in lowercase hex.", nameof(sha256));

    [GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial Regex Sha256Pattern();

    /// <summary>Hashes exactly the bytes written to the file, so the address is computed in the same pass.</summary>
    private sealed class HashingStream(Stream inner, IncrementalHash hash) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            hash.AppendData(buffer);
            inner.Write(buffer);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            hash.AppendData(buffer.Span);
            return inner.WriteAsync(buffer, cancellationToken);
        }
    }
}
