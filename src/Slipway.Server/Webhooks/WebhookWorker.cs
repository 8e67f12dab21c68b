using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Slipway.Server.Data;
using Slipway.Server.Events;
using Slipway.Server.Hosting;

namespace Slipway.Server.Webhooks;

/// <summary>One attempt to make: the delivery, its endpoint, and the signed body (shared by every endpoint of the event).</summary>
internal sealed record DeliveryWork(string DeliveryId, string EndpointId, string EventId, string EventType, byte[] Body, int AttemptCount);

internal enum AttemptOutcome
{
    Succeeded,
    Retry,
    Permanent,
    Gone,
    EndpointDisabled,
}

internal sealed record AttemptResult(DeliveryWork Work, DateTime At, int? StatusCode, int LatencyMs, string? Error, AttemptOutcome Outcome,
    TimeSpan? RetryAfter);

/// <summary>
/// Outbox to receivers, at least once. Three loops: fan-out turns committed events into pending deliveries (one per
/// matching endpoint, in one transaction that marks the events dispatched); the scheduler hands due deliveries to
/// per-endpoint lanes, each with its own concurrency bound, so one slow or dead receiver never holds up another; and a
/// recorder persists attempts in batches. The database stays the truth: a delivery is pending until its outcome is
/// stored, so a crash anywhere means it is sent again after restart, never lost (receivers de-duplicate on webhook-id).
/// A stop is bounded within the host's shutdown timeout (see <see cref="StopAsync"/>).
/// </summary>
internal sealed partial class WebhookWorker(
    IServiceScopeFactory scopes, OutboxSignal signal, WebhookDirectory directory, TargetGuard guard, WebhookOptions options, WebhookMetrics metrics, TimeProvider time,
    IOptions<HostOptions> host, ILogger<WebhookWorker> logger) : BackgroundService
{
    private const int FanOutBatch = 500;
    private const int DueBatch = 2000;
    private const int RecordBatch = 1000;
    private readonly ConcurrentDictionary<string, Lane> lanes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> inFlight = new(StringComparer.Ordinal);
    // Outcomes stored while the scheduler's query may have read the row as still pending: id -> recording round.
    private readonly ConcurrentDictionary<string, long> recentlyRecorded = new(StringComparer.Ordinal);
    private long recordRound;
    private readonly Channel<AttemptResult> results = Channel.CreateUnbounded<AttemptResult>(new UnboundedChannelOptions { SingleReader = true });
    private HttpClient? http;
    // UTC ticks of the next look for due deliveries: the poll, or sooner when a retry falls due before it.
    private long nextDueScan;
    private CancellationToken stopping;
    // Cancelled at the stop's deadlines: the attempts still on the wire, then the storing of outcomes.
    private readonly CancellationTokenSource abandonAttempts = new();
    private readonly CancellationTokenSource abandonRecording = new();
    private int abandoned;

    /// <summary>Asks for an immediate look at the outbox and due deliveries (after a test send or a redelivery).</summary>
    public void Wake()
    {
        Volatile.Write(ref dueRequested, 1);
        signal.Notify();
    }

    // Set by Wake: look for due deliveries on the next round instead of waiting for the poll.
    private int dueRequested = 1;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        stopping = stoppingToken;
        using var client = new HttpClient(guard.CreateHandler()) { Timeout = Timeout.InfiniteTimeSpan };
        http = client;
        var recorder = RecordAsync();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    while (await FanOutAsync(stoppingToken))
                    {
                    }
                    // New events are handed to their lanes by the fan-out itself; the (heavier) look for due
                    // retries runs on the poll or when asked, not on every commit.
                    if (Interlocked.Exchange(ref dueRequested, 0) == 1 || time.GetUtcNow().UtcTicks >= Interlocked.Read(ref nextDueScan))
                    {
                        Interlocked.Exchange(ref nextDueScan, (time.GetUtcNow() + options.PollInterval).UtcTicks);
                        while (await ScheduleDueAsync(stoppingToken))
                        {
                        }
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // The database is briefly unavailable: nothing is lost (the rows stay), so try again on the next round.
                    LoopFailed(logger, ex.GetType().Name, ex.Message);
                }
                var wait = TimeSpan.FromTicks(Interlocked.Read(ref nextDueScan) - time.GetUtcNow().UtcTicks);
                await signal.WaitAsync(wait < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : wait > options.PollInterval ? options.PollInterval : wait,
                    stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        // Lanes take no new work now; the attempts already on the wire finish (within their timeout, or until the stop's
        // deadline cancels them) and are recorded before the recorder stops, so a clean stop sends nothing again after restart.
        while (lanes.Values.Any(l => Volatile.Read(ref l.Running) > 0) && !abandonRecording.IsCancellationRequested)
        {
            await Task.Delay(10, CancellationToken.None);
        }
        results.Writer.TryComplete();
        await recorder;
        if (Volatile.Read(ref abandoned) is > 0 and var count) AttemptsAbandoned(logger, count);
    }

    /// <summary>
    /// The host gives every service together its shutdown timeout (30 s by default), and the ones stopped after this one
    /// (the supervisor draining apps) need their share. Attempts on the wire get half of it and are then cancelled: nothing
    /// is recorded for them, so their deliveries stay pending and are sent again after restart, exactly as after a crash.
    /// Storing the outcomes that did arrive gets until three quarters of it. Wall-clock deadlines, like the host's own.
    /// </summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        var budget = host.Value.ShutdownTimeout;
        abandonAttempts.CancelAfter(budget / 2);
        abandonRecording.CancelAfter(budget * 3 / 4);
        await using var hostGivesUp = cancellationToken.Register(() =>
        {
            abandonAttempts.Cancel();
            abandonRecording.Cancel();
        });
        await base.StopAsync(cancellationToken);
    }

    public override void Dispose()
    {
        abandonAttempts.Dispose();
        abandonRecording.Dispose();
        base.Dispose();
    }

    /// <summary>Turns up to one batch of undispatched events into deliveries; true when there may be more.</summary>
    private async Task<bool> FanOutAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
        var events = await db.Events.Where(e => e.DispatchedAt == null).OrderBy(e => e.Id).Take(FanOutBatch).ToListAsync(ct);
        if (events.Count == 0) return false;
        var workspaceIds = events.Select(e => e.WorkspaceId).Distinct().ToList();
        var endpoints = await db.WebhookEndpoints.Where(w => w.Enabled && workspaceIds.Contains(w.WorkspaceId))
            .Select(w => new { w.Id, w.WorkspaceId, w.ProjectId, w.Events }).ToListAsync(ct);
        var now = time.UtcNowMs();
        // The schedule's first step is the wait before the first attempt: at once by default, straight to the lanes.
        var firstAttempt = now + options.Schedule[0];
        var work = new List<DeliveryWork>();
        var deliveries = new List<WebhookDelivery>();
        var wanted = endpoints.ToDictionary(e => e.Id, e => WebhookDirectory.Patterns(e.Events), StringComparer.Ordinal);
        foreach (var evt in events)
        {
            byte[]? body = null;
            foreach (var endpoint in endpoints)
            {
                if (endpoint.WorkspaceId != evt.WorkspaceId || (endpoint.ProjectId is not null && endpoint.ProjectId != evt.ProjectId)) continue;
                if (!WebhookDirectory.Wants(wanted[endpoint.Id], evt.Type)) continue;
                var delivery = new WebhookDelivery
                {
                    Id = Ids.New(time), EndpointId = endpoint.Id, EventId = evt.Id, WorkspaceId = evt.WorkspaceId, ProjectId = evt.ProjectId,
                    EventType = evt.Type, Status = DeliveryStatus.Pending, NextAttemptAt = firstAttempt, CreatedAt = now,
                };
                deliveries.Add(delivery);
                body ??= Body(evt);
                work.Add(new DeliveryWork(delivery.Id, endpoint.Id, evt.Id, evt.Type, body, 0));
            }
        }
        var ids = events.Select(e => e.Id).ToList();
        await using (var tx = await db.Database.BeginTransactionAsync(ct))
        {
            await DeliveryStore.InsertAsync(db, tx, deliveries, ct);
            await db.Events.Where(e => ids.Contains(e.Id) && e.DispatchedAt == null).ExecuteUpdateAsync(s => s.SetProperty(e => e.DispatchedAt, now), ct);
            await tx.CommitAsync(ct);
        }
        if (firstAttempt <= now)
        {
            foreach (var item in work) Enqueue(item);
        }
        else if (work.Count > 0)
        {
            ScanNoLaterThan(firstAttempt);
        }
        return events.Count == FanOutBatch;
    }

    /// <summary>Hands due deliveries (retries, redeliveries, and whatever a crash left pending) to their lanes.</summary>
    private async Task<bool> ScheduleDueAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
        var now = time.UtcNowMs();
        var round = Interlocked.Read(ref recordRound);
        var due = await db.WebhookDeliveries.Where(d => d.Status == DeliveryStatus.Pending && d.NextAttemptAt <= now).OrderBy(d => d.NextAttemptAt)
            .Select(d => new { d.Id, d.EndpointId, d.EventId, d.AttemptCount }).Take(DueBatch).ToListAsync(ct);
        // In flight, or its outcome was stored after this query's snapshot: sending it now would be a duplicate.
        var ready = due.Where(d => !inFlight.ContainsKey(d.Id) && !(recentlyRecorded.TryGetValue(d.Id, out var recorded) && recorded > round)).ToList();
        var eventIds = ready.Select(d => d.EventId).Distinct().ToList();
        var events = eventIds.Count == 0 ? [] : await db.Events.Where(e => eventIds.Contains(e.Id)).ToDictionaryAsync(e => e.Id, ct);
        var bodies = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var added = 0;
        foreach (var row in ready)
        {
            if (!events.TryGetValue(row.EventId, out var evt)) continue;
            if (!bodies.TryGetValue(evt.Id, out var body)) bodies[evt.Id] = body = Body(evt);
            Enqueue(new DeliveryWork(row.Id, row.EndpointId, evt.Id, evt.Type, body, row.AttemptCount));
            added++;
        }
        foreach (var (id, recorded) in recentlyRecorded)
        {
            if (recorded <= round) recentlyRecorded.TryRemove(id, out _);
        }
        return due.Count == DueBatch && added > 0;
    }

    /// <summary>The payload: the event as stored, <c>data</c> being the resource as the API returns it.</summary>
    public static byte[] Body(Event evt)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("id", evt.Id);
            json.WriteString("type", evt.Type);
            json.WriteString("created_at", evt.CreatedAt);
            json.WriteString("workspace_id", evt.WorkspaceId);
            if (evt.ProjectId is not null) json.WriteString("project_id", evt.ProjectId);
            json.WritePropertyName("data");
            json.WriteRawValue(evt.Data, skipInputValidation: true);
            json.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private void Enqueue(DeliveryWork work)
    {
        if (!inFlight.TryAdd(work.DeliveryId, 0)) return;
        var lane = lanes.GetOrAdd(work.EndpointId, _ => new Lane());
        lane.Queue.Enqueue(work);
        Pump(lane);
    }

    private void Pump(Lane lane)
    {
        while (true)
        {
            var running = Volatile.Read(ref lane.Running);
            if (running >= options.MaxConcurrencyPerEndpoint || lane.Queue.IsEmpty) return;
            if (Interlocked.CompareExchange(ref lane.Running, running + 1, running) == running) _ = Task.Run(() => DrainAsync(lane));
        }
    }

    private async Task DrainAsync(Lane lane)
    {
        try
        {
            while (!stopping.IsCancellationRequested && lane.Queue.TryDequeue(out var work))
            {
                var result = await AttemptAsync(work);
                if (result is null) inFlight.TryRemove(work.DeliveryId, out _);
                else results.Writer.TryWrite(result);
            }
        }
        finally
        {
            Interlocked.Decrement(ref lane.Running);
            if (!lane.Queue.IsEmpty && !stopping.IsCancellationRequested) Pump(lane);
        }
    }

    /// <summary>One HTTP attempt, classified. Null when there is nothing to record (endpoint deleted, or shutting down).</summary>
    private async Task<AttemptResult?> AttemptAsync(DeliveryWork work)
    {
        EndpointSnapshot? endpoint;
        try
        {
            endpoint = await directory.GetAsync(work.EndpointId, stopping);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return new AttemptResult(work, time.UtcNowMs(), null, 0, $"endpoint unavailable: {ex.Message}", AttemptOutcome.Retry, null);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
        if (endpoint is null) return null;
        var at = time.UtcNowMs();
        if (!endpoint.Enabled)
        {
            return new AttemptResult(work, at, null, 0, $"endpoint disabled: {endpoint.DisabledReason ?? "by a user"}", AttemptOutcome.EndpointDisabled, null);
        }

        var unixSeconds = time.GetUtcNow().ToUnixTimeSeconds();
        var timestamp = unixSeconds.ToString(CultureInfo.InvariantCulture);
        var signature = WebhookSigner.Sign(work.EventId, unixSeconds, work.Body, endpoint.SigningKeys(at));
        var dot = work.EventType.IndexOf('.', StringComparison.Ordinal);
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint.Url) { Content = new ByteArrayContent(work.Body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.TryAddWithoutValidation("webhook-id", work.EventId);
        request.Headers.TryAddWithoutValidation("webhook-timestamp", timestamp);
        request.Headers.TryAddWithoutValidation("webhook-signature", signature);
        request.Headers.TryAddWithoutValidation("X-Slipway-Event", dot < 0 ? work.EventType : work.EventType[..dot]);
        request.Headers.TryAddWithoutValidation("X-Slipway-Action-Type", dot < 0 ? work.EventType : work.EventType[(dot + 1)..]);
        request.Headers.TryAddWithoutValidation("X-Slipway-Timestamp", timestamp);
        request.Headers.TryAddWithoutValidation("X-Slipway-Signature", signature);
        request.Headers.TryAddWithoutValidation("X-Slipway-Delivery", work.DeliveryId);
        request.Headers.UserAgent.ParseAdd("Slipway-Webhooks/1.0");

        var started = Stopwatch.GetTimestamp();
        int Elapsed() => (int)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        // Not cut short when the stop begins: the receiver may act on a request it has begun to read, so its answer is
        // awaited and recorded, up to the stop's deadline (then it is sent again after restart; receivers de-duplicate).
        using var attemptTimeout = new CancellationTokenSource(options.Timeout, time);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(attemptTimeout.Token, abandonAttempts.Token);
        try
        {
            using var response = await http!.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            // The body is not needed, but reading a little of it lets the connection go back to the pool.
            await DrainBodyAsync(response, timeout.Token);
            var code = (int)response.StatusCode;
            var outcome = code switch
            {
                >= 200 and < 300 => AttemptOutcome.Succeeded,
                410 => AttemptOutcome.Gone,
                408 or 429 or >= 500 or (>= 300 and < 400) => AttemptOutcome.Retry,
                _ => AttemptOutcome.Permanent,
            };
            var error = outcome == AttemptOutcome.Succeeded ? null : $"receiver answered {code} {response.ReasonPhrase}";
            return new AttemptResult(work, at, code, Elapsed(), error, outcome, RetryAfter(response));
        }
        catch (OperationCanceledException) when (abandonAttempts.IsCancellationRequested)
        {
            Interlocked.Increment(ref abandoned);
            return null;
        }
        catch (OperationCanceledException)
        {
            return new AttemptResult(work, at, null, Elapsed(), $"timed out after {options.Timeout.TotalSeconds:0.###} s", AttemptOutcome.Retry, null);
        }
        catch (HttpRequestException ex) when (ex.InnerException is TargetRefusedException refused)
        {
            return new AttemptResult(work, at, null, Elapsed(), refused.Message, AttemptOutcome.Permanent, null);
        }
        catch (Exception ex)
        {
            return new AttemptResult(work, at, null, Elapsed(), $"request failed: {ex.GetBaseException().Message}", AttemptOutcome.Retry, null);
        }
    }

    private static async Task DrainBodyAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            await using var body = await response.Content.ReadAsStreamAsync(ct);
            var total = 0;
            int read;
            while (total < 64 * 1024 && (read = await body.ReadAsync(buffer, ct)) > 0) total += read;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        if (response.Headers.RetryAfter is not { } header) return null;
        var wait = header.Delta ?? (header.Date is { } date ? date - time.GetUtcNow() : null);
        if (wait is not { } value || value <= TimeSpan.Zero) return null;
        return value > options.MaxRetryAfter ? options.MaxRetryAfter : value;
    }

    /// <summary>
    /// Persists outcomes in batches: attempts, delivery states, and endpoint health (failing since, disabled). A batch
    /// that cannot be stored is tried again until it is (its deliveries stay in flight meanwhile, so none is sent
    /// twice); only when the database is still unavailable at shutdown are they left pending, to be sent after restart.
    /// </summary>
    private async Task RecordAsync()
    {
        var batch = new List<AttemptResult>(RecordBatch);
        while (await results.Reader.WaitToReadAsync(CancellationToken.None))
        {
            while (batch.Count < RecordBatch && results.Reader.TryRead(out var result)) batch.Add(result);
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await RecordBatchAsync(batch);
                    break;
                }
                catch (Exception ex)
                {
                    RecordFailed(logger, batch.Count, attempt, ex.GetType().Name, ex.Message);
                    if (abandonRecording.IsCancellationRequested || (stopping.IsCancellationRequested && attempt >= 5)) break;
                    try
                    {
                        await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(200 * attempt, 5000)), abandonRecording.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                }
            }
            var stored = Interlocked.Increment(ref recordRound);
            foreach (var result in batch)
            {
                recentlyRecorded[result.Work.DeliveryId] = stored;
                inFlight.TryRemove(result.Work.DeliveryId, out _);
            }
            batch.Clear();
        }
    }

    private async Task RecordBatchAsync(List<AttemptResult> batch)
    {
        // Never cancelled while running; at a stop, cut off at the deadline (the deliveries then stay pending).
        var ct = abandonRecording.Token;
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
        var now = time.UtcNowMs();
        var outcomes = new List<DeliveryOutcome>(batch.Count);
        foreach (var result in batch)
        {
            var number = result.Work.AttemptCount + 1;
            var (status, next) = result.Outcome switch
            {
                AttemptOutcome.Succeeded => (DeliveryStatus.Succeeded, (DateTime?)null),
                AttemptOutcome.Retry when number < options.Schedule.Length => (DeliveryStatus.Pending, result.At + Delay(number, result.RetryAfter)),
                _ => (DeliveryStatus.Dead, null),
            };
            var sent = result.Outcome != AttemptOutcome.EndpointDisabled;
            outcomes.Add(new DeliveryOutcome(result.Work.DeliveryId, status, sent ? number : result.Work.AttemptCount, next, result.StatusCode, result.Error,
                status == DeliveryStatus.Pending ? null : now,
                sent
                    ? new WebhookAttempt
                    {
                        Id = Ids.New(time), DeliveryId = result.Work.DeliveryId, Number = number, AttemptedAt = result.At, StatusCode = result.StatusCode,
                        LatencyMs = result.LatencyMs, Error = result.Error, NextAttemptAt = next,
                    }
                    : null));
        }

        await using var tx = await db.Database.BeginTransactionAsync(ct);
        await DeliveryStore.RecordAsync(db, tx, outcomes, ct);
        var changed = new List<string>();
        foreach (var group in batch.Where(r => r.Outcome != AttemptOutcome.EndpointDisabled).GroupBy(r => r.Work.EndpointId))
        {
            var endpointId = group.Key;
            var firstFailure = FailingSince(group);
            if (group.Any(r => r.Outcome == AttemptOutcome.Gone))
            {
                var gone = await db.WebhookEndpoints.Where(w => w.Id == endpointId && w.Enabled).ExecuteUpdateAsync(s => s
                    .SetProperty(w => w.Enabled, false).SetProperty(w => w.DisabledReason, "the receiver answered 410 Gone")
                    .SetProperty(w => w.UpdatedAt, now), ct);
                if (gone > 0) changed.Add(endpointId);
            }
            else if (firstFailure is null)
            {
                await db.WebhookEndpoints.Where(w => w.Id == endpointId && w.FailingSince != null)
                    .ExecuteUpdateAsync(s => s.SetProperty(w => w.FailingSince, (DateTime?)null), ct);
            }
            else
            {
                var anySuccess = group.Any(r => r.Outcome == AttemptOutcome.Succeeded);
                await db.WebhookEndpoints.Where(w => w.Id == endpointId && (anySuccess || w.FailingSince == null))
                    .ExecuteUpdateAsync(s => s.SetProperty(w => w.FailingSince, firstFailure), ct);
                var cutoff = now - options.DisableAfter;
                var disabled = await db.WebhookEndpoints.Where(w => w.Id == endpointId && w.Enabled && w.FailingSince <= cutoff).ExecuteUpdateAsync(s => s
                    .SetProperty(w => w.Enabled, false)
                    .SetProperty(w => w.DisabledReason, $"every attempt failed for {options.DisableAfter.TotalDays:0.##} days")
                    .SetProperty(w => w.UpdatedAt, now), ct);
                if (disabled > 0) changed.Add(endpointId);
            }
        }
        await tx.CommitAsync(ct);
        metrics.Recorded(outcomes);
        ScanNoLaterThan(outcomes.Where(o => o.NextAttemptAt is not null).Select(o => o.NextAttemptAt!.Value).DefaultIfEmpty(DateTime.MaxValue).Min());
        foreach (var endpointId in changed)
        {
            directory.Invalidate(endpointId);
            EndpointDisabled(logger, endpointId);
        }
    }

    /// <summary>
    /// When one endpoint's current run of failures began, from one batch of its outcomes: the first failure after the
    /// last success, or null when none follows it. A failure and a success in the same millisecond cannot be ordered:
    /// the success counts, the receiver answers.
    /// </summary>
    internal static DateTime? FailingSince(IEnumerable<AttemptResult> outcomes)
    {
        var lastSuccess = outcomes.Where(r => r.Outcome == AttemptOutcome.Succeeded).Select(r => (DateTime?)r.At).Max();
        return outcomes.Where(r => r.Outcome != AttemptOutcome.Succeeded && (lastSuccess is null || r.At > lastSuccess)).Select(r => (DateTime?)r.At).Min();
    }

    /// <summary>A delivery falls due before the next poll: look for due deliveries then, not a poll later.</summary>
    private void ScanNoLaterThan(DateTime due)
    {
        long current;
        while (due.Ticks < (current = Interlocked.Read(ref nextDueScan)))
        {
            if (Interlocked.CompareExchange(ref nextDueScan, due.Ticks, current) == current)
            {
                signal.Notify();
                return;
            }
        }
    }

    /// <summary>The wait before attempt <paramref name="number"/> + 1: the schedule's step stretched by jitter, or longer when the receiver asked.</summary>
    private TimeSpan Delay(int number, TimeSpan? retryAfter)
    {
        var step = options.Schedule[number];
        var delay = step + TimeSpan.FromTicks((long)(step.Ticks * options.Jitter * Random.Shared.NextDouble()));
        return retryAfter is { } asked && asked > delay ? asked : delay;
    }

    private sealed class Lane
    {
        public readonly ConcurrentQueue<DeliveryWork> Queue = new();
        public int Running;
    }

    [LoggerMessage(EventId = 7001, Level = LogLevel.Warning, Message = "Webhook worker round failed ({Type}): {Message}")]
    private static partial void LoopFailed(ILogger logger, string type, string message);

    [LoggerMessage(EventId = 7004, Level = LogLevel.Warning, Message = "Storing {Count} webhook attempts failed (try {Attempt}) ({Type}): {Message}")]
    private static partial void RecordFailed(ILogger logger, int count, int attempt, string type, string message);

    [LoggerMessage(EventId = 7005, Level = LogLevel.Warning,
        Message = "Stopping: {Count} webhook attempt(s) still waiting for an answer were cancelled at the shutdown deadline; their deliveries stay pending and are sent after restart")]
    private static partial void AttemptsAbandoned(ILogger logger, int count);

    [LoggerMessage(EventId = 7002, Level = LogLevel.Warning, Message = "Webhook endpoint {EndpointId} disabled")]
    private static partial void EndpointDisabled(ILogger logger, string endpointId);
}
