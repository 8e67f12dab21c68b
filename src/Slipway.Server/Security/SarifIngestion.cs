using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Slipway.Server.Data;
using Slipway.Server.Events;
using Slipway.Server.Hosting;
using Slipway.Server.Security.Sarif;

namespace Slipway.Server.Security;

/// <summary>
/// Turns a SARIF document into findings of one repository, all or nothing. The document is first copied to a private
/// file (decompressed, bounded), read once to validate it and again to store its results in batches, so memory does not
/// grow with its size. A finding seen again keeps its row; a fixed one that comes back is reopened; an open one absent
/// from a complete analysis of the same tool and category becomes fixed. Dismissals survive every rescan.
/// </summary>
internal sealed class SarifIngestion(SlipwayDb db, FixFinder fixes, SecurityOptions options, IConfiguration configuration, TimeProvider time)
{
    private const int BatchSize = 500;

    /// <summary>Copies an upload to a private spool file, decompressing gzip, refusing what exceeds the limits (413).</summary>
    public async Task<SpooledSarif> SpoolAsync(Stream body, bool gzip, CancellationToken ct)
    {
        var directory = Path.Combine(configuration.DataDirectory(), "tmp");
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, $"sarif-{Guid.NewGuid():N}.json");
        var spooled = new SpooledSarif(path);
        try
        {
            var create = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows()) create.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            await using var file = new FileStream(path, create);
            var sent = new CountingStream(body, options.MaxUploadBytes, $"a SARIF upload may be at most {Megabytes(options.MaxUploadBytes)} as sent");
            await using var source = gzip ? new GZipStream(sent, CompressionMode.Decompress) : (Stream)sent;
            var document = new CountingStream(source, options.MaxDocumentBytes,
                $"the SARIF document decompresses to more than {Megabytes(options.MaxDocumentBytes)}");
            await document.CopyToAsync(file, ct);
            return spooled;
        }
        catch (InvalidDataException)
        {
            spooled.Dispose();
            throw new SarifRejectedException("the body is not valid gzip");
        }
        catch
        {
            spooled.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Stores the documents in one transaction as <paramref name="scan"/> (added, or updated when a worker queued it
    /// earlier), which ends <c>completed</c>. Each document is read once, its results stored as they come: a problem
    /// anywhere in it throws and rolls everything back, so nothing of a refused file is stored. A document whose runs
    /// name their tool after their results is read in two passes instead (validated whole first).
    /// </summary>
    public async Task<Scan> IngestAsync(Scan scan, IReadOnlyList<SpooledSarif> documents, SourceTree? source, CancellationToken ct)
    {
        try
        {
            return await StoreAsync(scan, documents, source, twoPasses: false, ct);
        }
        catch (SarifOutOfOrderException)
        {
            db.ChangeTracker.Clear();
            scan.Results = scan.NewCount = scan.FixedCount = scan.UnchangedCount = 0;
            return await StoreAsync(scan, documents, source, twoPasses: true, ct);
        }
    }

    private async Task<Scan> StoreAsync(Scan scan, IReadOnlyList<SpooledSarif> documents, SourceTree? source, bool twoPasses, CancellationToken ct)
    {
        var validated = new List<IReadOnlyList<SarifRun>>();
        foreach (var document in twoPasses ? documents : [])
        {
            await using var first = document.Open();
            validated.Add(SarifReader.Validate(first, options.Limits));
        }

        scan.Status = ScanStatus.Running;
        scan.StartedAt ??= time.UtcNowMs();
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        if (await db.Scans.AnyAsync(s => s.Id == scan.Id, ct)) db.Scans.Update(scan);
        else db.Scans.Add(scan);
        await db.SaveChangesAsync(ct);
        db.ChangeTracker.Clear();

        var candidates = new List<FixCandidate>();
        var runs = new List<SarifRun>();
        for (var i = 0; i < documents.Count; i++)
        {
            // A repository's first scan has nothing to look its results up against.
            var known = await db.Findings.AnyAsync(f => f.ProjectId == scan.ProjectId, ct);
            var store = new Batch(this, db, time, scan, source, candidates, known);
            await using var stream = documents[i].Open();
            var results = twoPasses ? SarifReader.Results(stream, validated[i], options.Limits) : SarifReader.ReadOnce(stream, options.Limits, runs);
            foreach (var chunk in results.Chunk(BatchSize)) await store.StoreAsync(chunk, ct);
            if (twoPasses) runs.AddRange(validated[i]);
        }
        scan.Tools = JsonSerializer.Serialize(runs.Select(r => r.ToolName).Distinct().ToList());
        var analyses = runs.Select(r => (r.ToolName, Category(scan.Category, r.AutomationId))).Distinct();
        foreach (var (tool, category) in analyses) await MarkFixedAsync(scan, tool, category, ct);
        // Before the scan reads completed, so whoever sees it completed also sees its fixes.
        if (source is not null && scan.CommitSha is { } commit && candidates.Count > 0) await fixes.CreateAsync(candidates, source, commit, ct);

        scan.Status = ScanStatus.Completed;
        scan.FinishedAt = time.UtcNowMs();
        db.Scans.Update(scan);
        AddEvent(scan.WorkspaceId, scan.ProjectId, "scan.completed", ScanResponse.From(scan));
        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
        db.ChangeTracker.Clear();
        return scan;
    }

    /// <summary>
    /// The category a run's results belong to: the caller's, else the run's <c>automationDetails.id</c> up to its last
    /// slash (GitHub's rule: what follows is a run id), else the default, empty, category.
    /// </summary>
    public static string Category(string? requested, string? automationId)
    {
        if (!string.IsNullOrEmpty(requested)) return requested;
        if (string.IsNullOrEmpty(automationId)) return "";
        var slash = automationId.LastIndexOf('/');
        return slash < 0 ? automationId : automationId[..(slash + 1)];
    }

    private async Task MarkFixedAsync(Scan scan, string tool, string category, CancellationToken ct)
    {
        while (true)
        {
            var gone = await db.Findings.AsTracking()
                .Where(f => f.ProjectId == scan.ProjectId && f.Tool == tool && f.Category == category && f.State == FindingState.Open && f.LastScanId != scan.Id)
                .OrderBy(f => f.Id).Take(BatchSize).ToListAsync(ct);
            if (gone.Count == 0) return;
            var now = time.UtcNowMs();
            foreach (var finding in gone)
            {
                ChangeState(finding, FindingState.Fixed, scan.Id, "scan", $"not reported by the complete {tool} analysis of scan {scan.Id}", now);
                finding.FixedAt = now;
                scan.FixedCount++;
            }
            await db.SaveChangesAsync(ct);
            db.ChangeTracker.Clear();
        }
    }

    /// <summary>Records a state change on a tracked finding: its history row and its <c>finding.state_changed</c> event.</summary>
    public void ChangeState(Finding finding, FindingState to, string? scanId, string actor, string? reason, DateTime now)
    {
        db.FindingHistory.Add(new FindingChange
        {
            Id = Ids.New(time), FindingId = finding.Id, ScanId = scanId, FromState = finding.State, ToState = to, Actor = actor, Reason = reason, At = now,
        });
        finding.State = to;
        finding.UpdatedAt = now;
        AddEvent(finding.WorkspaceId, finding.ProjectId, "finding.state_changed", FindingResponse.From(finding));
    }

    private void AddEvent<T>(string workspaceId, string projectId, string type, T data) =>
        db.Events.Add(Event.Of(time, workspaceId, projectId, type, data));

    /// <summary>Whether a tool reports secrets (its snippets are masked): a configured secret scanner, or a rule about secrets.</summary>
    private bool IsSecretScanner(string tool, string ruleId) =>
        options.SecretScanners.Contains(tool, StringComparer.OrdinalIgnoreCase) || ruleId.Contains("secret", StringComparison.OrdinalIgnoreCase);

    private static string Megabytes(long bytes) => $"{bytes / (1024 * 1024)} MB";

    /// <summary>One upload's results, stored a batch at a time; remembers identities so a repeated result counts once.</summary>
    private sealed class Batch(SarifIngestion owner, SlipwayDb db, TimeProvider time, Scan scan, SourceTree? source,
        List<FixCandidate> candidates, bool known)
    {
        private readonly HashSet<string> seen = new(StringComparer.Ordinal);
        private readonly Dictionary<SarifRule, string> tagsByRule = new(ReferenceEqualityComparer.Instance);
        // New rows go in through BulkInsert: at tens of thousands a scan, EF's change tracker costs more than the rows.
        private readonly List<Finding> created = [];
        private readonly List<FindingChange> opened = [];
        private readonly List<Event> announced = [];
        private readonly List<string> reportedAgain = [];
        private const long YoungGarbageBytes = 32L * 1024 * 1024;
        private long allocatedAtLastCollection = GC.GetTotalAllocatedBytes();

        public async Task StoreAsync((SarifResult Result, SarifRun Run)[] results, CancellationToken ct)
        {
            var keyed = results.Select(r => Key(r.Result, r.Run)).Where(k => seen.Add(k.Identity)).ToList();
            var identities = keyed.Select(k => k.Identity).ToList();
            var existing = known
                ? await db.Findings.Where(f => f.ProjectId == scan.ProjectId && identities.Contains(f.Identity))
                    .ToDictionaryAsync(f => f.Identity, StringComparer.Ordinal, ct)
                : [];
            var now = time.UtcNowMs();
            foreach (var (result, run, category, fingerprint, identity, locations, reported) in keyed)
            {
                scan.Results++;
                var finding = existing.TryGetValue(identity, out var found)
                    ? Update(found, result, run, locations, now)
                    : Create(result, run, category, fingerprint, identity, locations, reported, now);
                if (source is not null && finding.State != FindingState.Dismissed && !owner.IsSecretScanner(run.ToolName, result.RuleId)
                    && (result.Fixes.Count > 0 || Codemods.AnyFor(finding)))
                    candidates.Add(new FixCandidate(finding, result.Fixes));
            }
            await db.InsertAsync(created, ct);
            await db.InsertAsync(opened, ct);
            await db.InsertAsync(announced, ct);
            await db.Findings.Where(f => reportedAgain.Contains(f.Id)).ExecuteUpdateAsync(
                s => s.SetProperty(f => f.LastScanId, scan.Id).SetProperty(f => f.CommitSha, scan.CommitSha).SetProperty(f => f.UpdatedAt, now), ct);
            await db.SaveChangesAsync(ct);
            db.ChangeTracker.Clear();
            created.Clear();
            opened.Clear();
            announced.Clear();
            reportedAgain.Clear();
            CollectYoungGarbage();
        }

        /// <summary>
        /// An ingest allocates some 20 KB per result and keeps almost none of it. The server runs Server GC without DATAS
        /// (for log streaming, see Slipway.Server.csproj), whose young generation may grow to a few hundred MB before it
        /// is collected: a 25,000-result upload would raise resident memory by that much. Collecting the young garbage
        /// every 32 MB of allocation keeps an ingest's footprint flat for about a millisecond a time.
        /// </summary>
        private void CollectYoungGarbage()
        {
            var allocated = GC.GetTotalAllocatedBytes();
            if (allocated - allocatedAtLastCollection < YoungGarbageBytes) return;
            GC.Collect(0, GCCollectionMode.Forced, blocking: true);
            allocatedAtLastCollection = allocated;
        }

        private Finding Create(SarifResult result, SarifRun run, string category, string fingerprint, string identity, List<FindingLocation> locations,
            string? reported, DateTime now)
        {
            var primary = locations.FirstOrDefault();
            var (classification, rationale) = AutoTriage.Classify(primary?.Path, result.Message, reported);
            var finding = new Finding
            {
                Id = Ids.New(time), WorkspaceId = scan.WorkspaceId, ProjectId = scan.ProjectId, Identity = identity, Tool = run.ToolName,
                Category = category, RuleId = result.RuleId, Fingerprint = fingerprint, State = FindingState.Open, Level = "warning",
                Message = result.Message, FirstScanId = scan.Id, LastScanId = scan.Id, TriageClassification = classification,
                TriageSource = TriageSource.Auto, TriageRationale = rationale, TriageUpdatedAt = now, CreatedAt = now,
            };
            Describe(finding, result, run, locations, now);
            created.Add(finding);
            opened.Add(new FindingChange
            {
                Id = Ids.New(time), FindingId = finding.Id, ScanId = scan.Id, ToState = FindingState.Open, Actor = "scan",
                Reason = $"first reported by {run.ToolName} in scan {scan.Id}", At = now,
            });
            announced.Add(Event.Of(time, scan.WorkspaceId, scan.ProjectId, "finding.created", FindingResponse.From(finding, run.Rule(result.RuleId, null)?.Tags ?? [], locations)));
            scan.NewCount++;
            return finding;
        }

        /// <summary>
        /// A finding reported again. Most of a rescan is findings whose description did not change: those are only
        /// stamped with this scan, in one statement per batch (<see cref="reportedAgain"/>); a changed or reopened one is
        /// written whole.
        /// </summary>
        private Finding Update(Finding finding, SarifResult result, SarifRun run, List<FindingLocation> locations, DateTime now)
        {
            var changed = Describe(finding, result, run, locations, now);
            finding.LastScanId = scan.Id;
            if (finding.State == FindingState.Fixed)
            {
                finding.FixedAt = null;
                owner.ChangeState(finding, FindingState.Open, scan.Id, "scan", $"reported again by {run.ToolName} in scan {scan.Id}", now);
                scan.NewCount++;
                db.Findings.Update(finding);
            }
            else
            {
                scan.UnchangedCount++;
                if (changed) db.Findings.Update(finding);
                else reportedAgain.Add(finding.Id);
            }
            return finding;
        }

        /// <summary>
        /// What the latest report says: message, places, rule text and severity (the identity never changes). Returns
        /// whether any of it differs from what the finding held.
        /// </summary>
        private bool Describe(Finding finding, SarifResult result, SarifRun run, List<FindingLocation> locations, DateTime now)
        {
            var rule = run.Rule(result.RuleId, null);
            var level = result.Level ?? rule?.DefaultLevel ?? "warning";
            var score = result.SecuritySeverity ?? rule?.SecuritySeverity;
            var tags = rule is null ? "[]" : TagsOf(rule);
            var primary = locations.Count > 0 ? locations[0] : null;
            var placed = JsonSerializer.Serialize(locations, SlipwayJson.Options);
            var changed = finding.Level != level || finding.SecuritySeverity != score || finding.RuleName != rule?.Name
                || finding.RuleDescription != rule?.ShortDescription || finding.RuleHelp != rule?.Help || finding.Tags != tags
                || finding.Message != result.Message || finding.Path != primary?.Path || finding.StartLine != primary?.StartLine
                || finding.Locations != placed;
            finding.Level = level;
            finding.SecuritySeverity = score;
            finding.Severity = SeverityOf(score, level);
            finding.RuleName = rule?.Name;
            finding.RuleDescription = rule?.ShortDescription;
            finding.RuleHelp = rule?.Help;
            finding.Tags = tags;
            finding.Message = result.Message;
            finding.Path = primary?.Path;
            finding.StartLine = primary?.StartLine;
            finding.Locations = placed;
            finding.CommitSha = scan.CommitSha;
            finding.UpdatedAt = now;
            return changed;
        }

        private string TagsOf(SarifRule rule)
        {
            if (!tagsByRule.TryGetValue(rule, out var tags)) tagsByRule[rule] = tags = JsonSerializer.Serialize(rule.Tags);
            return tags;
        }

        private (SarifResult Result, SarifRun Run, string Category, string Fingerprint, string Identity, List<FindingLocation> Locations, string? Reported) Key(SarifResult result, SarifRun run)
        {
            var category = Category(scan.Category, run.AutomationId);
            var secret = owner.IsSecretScanner(run.ToolName, result.RuleId);
            var placed = result.Locations.Select(l => Place(l, secret)).ToList();
            var locations = placed.Select(p => p.Location).ToList();
            var fingerprint = Fingerprint(result, locations.FirstOrDefault());
            var identity = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{run.ToolName}\0{category}\0{result.RuleId}\0{fingerprint}")));
            return (result, run, category, fingerprint, identity, locations, placed.FirstOrDefault().Reported);
        }

        /// <summary>
        /// A location with its snippet. A secret scanner's snippet would hold the secret: it keeps only the first line
        /// with the reported span masked, so no credential reaches the database or a response.
        /// </summary>
        private (FindingLocation Location, string? Reported) Place(SarifLocation l, bool secret)
        {
            var path = source?.Relative(l.Uri) ?? RepoPaths.Normalize(l.Uri, null);
            var snippet = source?.Snippet(path, l.StartLine, l.EndLine) ?? l.Snippet;
            var reported = Reported(snippet, l);
            if (secret && snippet is not null) snippet = MaskSecret(snippet, l);
            return (new FindingLocation(path, l.StartLine, l.StartColumn, l.EndLine, l.EndColumn, snippet), reported);
        }

        /// <summary>The snippet's first line and the span of it the region covers (columns are 1-based, end exclusive).</summary>
        private static (string Line, int Start, int End) Span(string snippet, SarifLocation l)
        {
            var line = snippet.Split('\n')[0];
            var start = Math.Clamp((l.StartColumn ?? 1) - 1, 0, line.Length);
            var end = l.EndLine is { } endLine && endLine != l.StartLine ? line.Length : Math.Clamp((l.EndColumn ?? line.Length + 1) - 1, start, line.Length);
            return (line, start, end);
        }

        private static string? Reported(string? snippet, SarifLocation l) =>
            snippet is null ? null : Span(snippet, l) is var (line, start, end) ? line[start..end] : null;

        private static string MaskSecret(string snippet, SarifLocation l) =>
            Span(snippet, l) is var (line, start, end) && end > start ? line[..start] + "****" + line[end..] : "****";

        /// <summary>
        /// What makes this result the same one next time: the tool's own fingerprints; else the line hash of its primary
        /// location, computed from the scanned files; else its file and position (which moving the code changes). Line
        /// hashes are per file, so the file is part of them: two files with one identical line are two findings.
        /// </summary>
        private string Fingerprint(SarifResult result, FindingLocation? primary)
        {
            if (result.PartialFingerprints.TryGetValue("primaryLocationLineHash", out var lineHash)) return $"{primary?.Path}:{lineHash}";
            if (result.PartialFingerprints.Count > 0)
                return string.Join(",", result.PartialFingerprints.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"));
            if (primary is null) return $"message:{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(result.Message)))[..16]}";
            if (source?.LineHash(primary.Path, primary.StartLine ?? 1) is { } computed) return $"{primary.Path}:{computed}";
            return $"{primary.Path}@{primary.StartLine}:{primary.StartColumn}";
        }
    }

    /// <summary>
    /// GitHub's scale: a <c>security-severity</c> score above 9.0 is critical, 7.0 and up high, 4.0 and up medium, else
    /// low; without a score the SARIF level decides (error high, warning medium, note and none low).
    /// </summary>
    public static Severity SeverityOf(double? score, string level) => score switch
    {
        > 9.0 => Severity.Critical,
        >= 7.0 => Severity.High,
        >= 4.0 => Severity.Medium,
        not null => Severity.Low,
        null => level switch
        {
            "error" => Severity.High,
            "warning" => Severity.Medium,
            _ => Severity.Low,
        },
    };
}

/// <summary>A private copy of an upload, deleted when disposed.</summary>
internal sealed class SpooledSarif(string path) : IDisposable
{
    public Stream Open() => new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024);

    public void Dispose()
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Best effort: the tmp directory is emptied at start-up too.
        }
    }
}

/// <summary>Passes reads through and throws <see cref="SarifTooLargeException"/> once more than the limit went by.</summary>
internal sealed class CountingStream(Stream inner, long limit, string tooLarge) : Stream
{
    private long total;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => total; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Count(await inner.ReadAsync(buffer, cancellationToken));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private int Count(int read)
    {
        total += read;
        if (total > limit) throw new SarifTooLargeException(tooLarge);
        return read;
    }

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
