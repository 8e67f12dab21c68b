using System.Formats.Tar;
using System.IO.Compression;
using Slipway.Server.Builds;

namespace Slipway.Server.Uploads;

/// <summary>What validation found in an archive.</summary>
internal sealed record ArchiveSummary(int Entries, long UncompressedBytes);

/// <summary>
/// Checks an uploaded .zip or .tar.gz before anything of it runs. Every entry is enumerated first: absolute paths, <c>..</c>,
/// devices and fifos, links (symbolic or hard) that leave the tree, too many entries, too many bytes or a compression ratio
/// above the limit refuse the whole archive. Only then is it extracted, into an empty staging directory, where the same
/// limits are enforced again on the bytes actually written (a zip's declared sizes may lie).
/// </summary>
internal sealed class ArchiveValidator(UploadOptions options)
{
    private const long RatioFloor = 1 << 20;
    private const int MaxLinkTarget = 4096;
    private const UnixFileMode PermissionBits = (UnixFileMode)0x1FF;

    private sealed record Entry(string Name, EntryKind Kind, long Size, string? LinkTarget);

    private enum EntryKind
    {
        Directory,
        File,
        SymbolicLink,
        HardLink,
    }

    /// <summary>Validates <paramref name="archive"/> and extracts it into <paramref name="staging"/>, which must not exist.</summary>
    public async Task<ArchiveSummary> ExtractAsync(string archive, ArchiveFormat format, string staging, CancellationToken ct)
    {
        var archiveSize = new FileInfo(archive).Length;
        var entries = format == ArchiveFormat.Zip ? EnumerateZip(archive, archiveSize) : await EnumerateTarAsync(archive, archiveSize, ct);
        var summary = Check(entries, archiveSize);
        Directory.CreateDirectory(staging);
        if (format == ArchiveFormat.Zip) await ExtractZipAsync(archive, staging, entries, ct);
        else await ExtractTarAsync(archive, staging, entries, ct);
        return summary;
    }

    private List<Entry> EnumerateZip(string archive, long archiveSize)
    {
        var entries = new List<Entry>();
        try
        {
            using var zip = ZipFile.OpenRead(archive);
            foreach (var entry in zip.Entries)
            {
                if (entries.Count >= options.MaxEntries) throw TooMany();
                var name = ArtifactStore.SafeName(entry.FullName);
                var type = (entry.ExternalAttributes >> 16) & 0xF000;
                var kind = entry.FullName.EndsWith('/') || type == 0x4000 ? EntryKind.Directory
                    : type == 0xA000 ? EntryKind.SymbolicLink
                    : type is 0 or 0x8000 ? EntryKind.File
                    : throw new UnsafeArchiveException($"The entry '{entry.FullName}' is a device, fifo or socket.");
                if (entry.Length > RatioFloor && entry.Length > entry.CompressedLength * options.MaxCompressionRatio)
                    throw Bomb($"the entry '{entry.FullName}' expands {entry.Length / Math.Max(1, entry.CompressedLength):N0} times");
                string? target = null;
                if (kind == EntryKind.SymbolicLink)
                {
                    if (entry.Length > MaxLinkTarget) throw new UnsafeArchiveException($"The link '{entry.FullName}' has an overlong target.");
                    using var reader = new StreamReader(entry.Open());
                    target = reader.ReadToEnd();
                }
                if (name.Length == 0) continue;
                entries.Add(new Entry(name, kind, kind == EntryKind.File ? entry.Length : 0, target));
            }
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException)
        {
            throw new UnsafeArchiveException($"The archive is not a readable .zip: {e.Message}");
        }
        return entries;
    }

    private async Task<List<Entry>> EnumerateTarAsync(string archive, long archiveSize, CancellationToken ct)
    {
        var entries = new List<Entry>();
        // The whole stream is decompressed to enumerate it, so the byte and ratio limits stop a bomb while reading.
        var limit = Math.Min(options.MaxUncompressedBytes, (long)Math.Max(RatioFloor, archiveSize * options.MaxCompressionRatio));
        try
        {
            await using var file = File.OpenRead(archive);
            await using var gzip = new GZipStream(file, CompressionMode.Decompress);
            await using var counted = new LimitedStream(gzip, limit + (64 << 10), () => Bomb("it expands beyond its limits"));
            await using var tar = new TarReader(counted);
            while (await tar.GetNextEntryAsync(copyData: false, ct) is { } entry)
            {
                // A pax global header (git archive writes one) describes the archive, not a file.
                if (entry.EntryType == TarEntryType.GlobalExtendedAttributes) continue;
                if (entries.Count >= options.MaxEntries) throw TooMany();
                var name = ArtifactStore.SafeName(entry.Name);
                var kind = entry.EntryType switch
                {
                    TarEntryType.Directory => EntryKind.Directory,
                    TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile => EntryKind.File,
                    TarEntryType.SymbolicLink => EntryKind.SymbolicLink,
                    TarEntryType.HardLink => EntryKind.HardLink,
                    _ => throw new UnsafeArchiveException($"The entry '{entry.Name}' is a {entry.EntryType}; only files, directories and links are allowed."),
                };
                if (entry.DataStream is { } data) await data.CopyToAsync(Stream.Null, ct);
                if (name.Length == 0) continue;
                entries.Add(new Entry(name, kind, kind == EntryKind.File ? entry.Length : 0,
                    kind is EntryKind.SymbolicLink or EntryKind.HardLink ? entry.LinkName : null));
            }
            // Trailing bytes after the end-of-archive blocks are read too: a truncated gzip stream fails here.
            await counted.CopyToAsync(Stream.Null, ct);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException)
        {
            throw new UnsafeArchiveException($"The archive is not a readable .tar.gz: {e.Message}");
        }
        return entries;
    }

    private ArchiveSummary Check(List<Entry> entries, long archiveSize)
    {
        var total = entries.Sum(e => e.Size);
        if (total > options.MaxUncompressedBytes)
            throw new UnsafeArchiveException($"The archive holds {total:N0} bytes uncompressed; the limit is {options.MaxUncompressedBytes:N0}.");
        if (total > RatioFloor && total > archiveSize * options.MaxCompressionRatio) throw Bomb($"it expands {total / Math.Max(1, archiveSize):N0} times");
        var names = new HashSet<string>(StringComparer.Ordinal);
        var links = new Dictionary<string, string>(StringComparer.Ordinal);
        var files = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            if (entry.Kind != EntryKind.Directory && !names.Add(entry.Name)) throw new UnsafeArchiveException($"The entry '{entry.Name}' appears twice.");
            if (entry.Kind == EntryKind.SymbolicLink) links[entry.Name] = entry.LinkTarget!;
            if (entry.Kind == EntryKind.File) files.Add(entry.Name);
            if (entry.Kind == EntryKind.HardLink && !files.Contains(SafeTarget(entry)))
                throw new UnsafeArchiveException($"The hard link '{entry.Name}' does not point to a file earlier in the archive ('{entry.LinkTarget}').");
        }
        foreach (var entry in entries)
        {
            if (ArtifactStore.Prefixes(entry.Name).Any(links.ContainsKey)) throw new UnsafeArchiveException($"The entry '{entry.Name}' lies under a link.");
            if (entry.Kind == EntryKind.SymbolicLink && !ArtifactStore.StaysInside(entry.Name, entry.LinkTarget!, links))
                throw new UnsafeArchiveException($"The link '{entry.Name}' points outside the archive ('{entry.LinkTarget}').");
        }
        return new ArchiveSummary(entries.Count, total);
    }

    private static string SafeTarget(Entry link)
    {
        try
        {
            return ArtifactStore.SafeName(link.LinkTarget ?? "");
        }
        catch (UnsafeArchiveException)
        {
            throw new UnsafeArchiveException($"The hard link '{link.Name}' points outside the archive ('{link.LinkTarget}').");
        }
    }

    private async Task ExtractZipAsync(string archive, string staging, List<Entry> checkedEntries, CancellationToken ct)
    {
        using var zip = ZipFile.OpenRead(archive);
        var byName = checkedEntries.ToDictionary(e => e.Name, StringComparer.Ordinal);
        var written = 0L;
        foreach (var zipEntry in zip.Entries)
        {
            var name = ArtifactStore.SafeName(zipEntry.FullName);
            if (name.Length == 0 || !byName.TryGetValue(name, out var entry)) continue;
            var path = Path.Combine(staging, name);
            if (entry.Kind == EntryKind.Directory)
            {
                Directory.CreateDirectory(path);
                continue;
            }
            if (entry.Kind != EntryKind.File) continue;
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            await using (var input = zipEntry.Open())
            {
                written += await WriteFileAsync(input, path, entry.Size, ct);
            }
            var mode = (UnixFileMode)((zipEntry.ExternalAttributes >> 16) & 0x1FF);
            SetMode(path, mode == 0 ? (UnixFileMode)0x1A4 : mode);
            if (written > options.MaxUncompressedBytes) throw Bomb("it expands beyond its limits");
        }
        CreateLinks(staging, checkedEntries);
    }

    private static async Task ExtractTarAsync(string archive, string staging, List<Entry> checkedEntries, CancellationToken ct)
    {
        await using var file = File.OpenRead(archive);
        await using var gzip = new GZipStream(file, CompressionMode.Decompress);
        await using var tar = new TarReader(gzip);
        var index = 0;
        while (await tar.GetNextEntryAsync(copyData: false, ct) is { } tarEntry)
        {
            if (tarEntry.EntryType == TarEntryType.GlobalExtendedAttributes) continue;
            var name = ArtifactStore.SafeName(tarEntry.Name);
            if (name.Length == 0) continue;
            var entry = checkedEntries[index++];
            if (entry.Name != name) throw new UnsafeArchiveException("The archive changed while it was being read.");
            var path = Path.Combine(staging, name);
            switch (entry.Kind)
            {
                case EntryKind.Directory:
                    Directory.CreateDirectory(path);
                    break;
                case EntryKind.File:
                    Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                    await WriteFileAsync(tarEntry.DataStream ?? Stream.Null, path, entry.Size, ct);
                    SetMode(path, tarEntry.Mode & PermissionBits);
                    break;
                case EntryKind.HardLink:
                    // A copy rather than a link: the release must not share an inode with anything the archive names twice.
                    Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                    File.Copy(Path.Combine(staging, ArtifactStore.SafeName(entry.LinkTarget!)), path);
                    break;
                case EntryKind.SymbolicLink:
                    break;
            }
        }
        CreateLinks(staging, checkedEntries);
    }

    /// <summary>Links last, once every one of them is known to resolve inside the tree.</summary>
    private static void CreateLinks(string staging, List<Entry> entries)
    {
        foreach (var link in entries.Where(e => e.Kind == EntryKind.SymbolicLink).OrderBy(e => e.Name, StringComparer.Ordinal))
        {
            var path = Path.Combine(staging, link.Name);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.CreateSymbolicLink(path, link.LinkTarget!);
        }
    }

    /// <summary>Copies at most the declared size: an entry that holds more than it declared is refused.</summary>
    private static async Task<long> WriteFileAsync(Stream input, string path, long declared, CancellationToken ct)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Options = FileOptions.Asynchronous };
        await using var output = new FileStream(path, options);
        await using var limited = new LimitedStream(input, declared, () => new UnsafeArchiveException($"The entry '{path}' holds more than it declares."));
        await limited.CopyToAsync(output, 81920, ct);
        return output.Length;
    }

    private static void SetMode(string path, UnixFileMode mode)
    {
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, (mode & PermissionBits) | UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    private UnsafeArchiveException TooMany() => new($"The archive holds more than {options.MaxEntries:N0} entries.");

    private static UnsafeArchiveException Bomb(string why) => new($"The archive looks like a decompression bomb: {why}.");

    /// <summary>Reads through, failing once more than <paramref name="limit"/> bytes came out.</summary>
    private sealed class LimitedStream(Stream inner, long limit, Func<Exception> tooMuch) : Stream
    {
        private long read;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => read; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await inner.ReadAsync(buffer, cancellationToken));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private int Count(int n)
        {
            read += n;
            if (read > limit) throw tooMuch();
            return n;
        }
    }
}
