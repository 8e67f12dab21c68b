using System.Buffers;
using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace Slipway.Server.Routing;

/// <summary>
/// Relays one HTTP request to an upstream over a shared, pooled <see cref="SocketsHttpHandler"/>: bodies stream both ways
/// without buffering, hop-by-hop headers stay on their hop, <c>X-Forwarded-*</c> tell the app who asked. Upgrades
/// (WebSocket and others) go through the same handler: on a 101 its response stream is the raw duplex connection, which
/// is then pumped against Kestrel's upgraded stream until either side closes.
/// </summary>
internal sealed class Forwarder : IDisposable
{
    private const int BufferSize = 64 * 1024;

    // RFC 9110 §7.6.1 plus the legacy Proxy-* family; Connection's own tokens are added per message.
    private static readonly FrozenSet<string> HopByHop = new[]
    {
        "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "TE", "Trailer",
        "Transfer-Encoding", "Upgrade",
    }.ToFrozenSet(StringComparer.OrdinalIgnoreCase);

    // Set from the connection, not copied: the router is the edge. Content-Length goes with the body it describes.
    private static readonly FrozenSet<string> Replaced = new[]
    {
        "Host", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Content-Length",
    }.ToFrozenSet(StringComparer.OrdinalIgnoreCase);

    private readonly HttpMessageInvoker invoker;
    private readonly RouterOptions options;
    private readonly ILogger<Forwarder> logger;
    private readonly CancellationToken stopping;

    public Forwarder(RouterOptions options, ILogger<Forwarder> logger, IHostApplicationLifetime lifetime)
    {
        this.options = options;
        this.logger = logger;
        stopping = lifetime.ApplicationStopping;
        invoker = new HttpMessageInvoker(new SocketsHttpHandler
        {
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseProxy = false,
            ConnectTimeout = options.ConnectTimeout,
            PooledConnectionIdleTimeout = options.UpstreamIdleTimeout,
            // No traceparent injected behind the app's back; what the client sent is copied as it is.
            ActivityHeadersPropagator = null,
        }, disposeHandler: true);
    }

    public void Dispose() => invoker.Dispose();

    public async Task ForwardAsync(HttpContext context, Uri upstream)
    {
        var aborted = context.RequestAborted;
        var upgrade = context.Features.Get<IHttpUpgradeFeature>();
        var isUpgrade = upgrade is { IsUpgradableRequest: true };
        var headersTimeout = RequestCancellation.Rent(aborted);
        HttpResponseMessage response;
        var pooled = true;
        try
        {
            using var request = CreateRequest(context, upstream, isUpgrade, headersTimeout);
            // With a body, the clock starts once the body is sent (see StreamingBody): a slow upload is not a slow app.
            if (request.Content is StreamingBody) pooled = false;
            else headersTimeout.CancelAfter(options.ResponseHeadersTimeout);
            response = await invoker.SendAsync(request, headersTimeout.Token);
        }
        catch (Exception e)
        {
            await FailAsync(context, upstream, e);
            return;
        }
        finally
        {
            // A body copy may still touch its source after the response: only body-less requests hand theirs back.
            headersTimeout.Return(pooled);
        }

        using (response)
        {
            if (isUpgrade && response.StatusCode == HttpStatusCode.SwitchingProtocols)
            {
                await TunnelAsync(context, upgrade!, response, upstream);
                return;
            }

            context.Response.StatusCode = (int)response.StatusCode;
            CopyResponseHeaders(response, context.Response.Headers, keepUpgrade: false);
            context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
            var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
            try
            {
                await using var body = await response.Content.ReadAsStreamAsync(aborted);
                int read;
                while ((read = await body.ReadAsync(buffer, aborted)) > 0)
                {
                    // Kestrel flushes on every write, so each chunk reaches the client as soon as it arrives.
                    await context.Response.Body.WriteAsync(buffer.AsMemory(0, read), aborted);
                }
            }
            catch (Exception e)
            {
                if (!aborted.IsCancellationRequested) RouterLog.ResponseBrokeOff(logger, upstream, context.Request.Host.Value ?? "", e.Message);
                // Headers are gone already: cutting the connection is the only honest way to say the body is incomplete.
                context.Abort();
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    private HttpRequestMessage CreateRequest(HttpContext context, Uri upstream, bool isUpgrade, RequestCancellation headersTimeout)
    {
        var incoming = context.Request;
        var rawTarget = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (string.IsNullOrEmpty(rawTarget) || rawTarget[0] != '/')
        {
            rawTarget = (incoming.PathBase + incoming.Path).ToUriComponent() + incoming.QueryString.ToUriComponent();
        }
        // Concatenated, never resolved against the base: a target such as //other.host/x must stay a path on the upstream.
        var request = new HttpRequestMessage(HttpMethod.Parse(incoming.Method), new Uri(upstream.GetLeftPart(UriPartial.Authority) + rawTarget))
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
        };

        if (!isUpgrade)
        {
            if (context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody == true)
            {
                request.Content = new StreamingBody(incoming.Body, headersTimeout, options.ResponseHeadersTimeout);
                if (incoming.ContentLength is { } length) request.Content.Headers.ContentLength = length;
            }
            else if (incoming.ContentLength == 0)
            {
                // An explicit empty body (POST with Content-Length: 0) stays explicit; some apps insist on it.
                request.Content = new ByteArrayContent([]);
            }
        }

        var connectionTokens = ConnectionTokens(incoming.Headers.Connection);
        foreach (var (name, values) in incoming.Headers)
        {
            if (HopByHop.Contains(name) || Replaced.Contains(name) || name.StartsWith(':') || connectionTokens?.Contains(name) == true) continue;
            if (values.Count == 1 ? request.Headers.TryAddWithoutValidation(name, values.ToString())
                : request.Headers.TryAddWithoutValidation(name, values.ToArray()))
            {
                continue;
            }
            // Not a request header, so a content header: it goes with the body (and is meaningless without one).
            if (values.Count == 1) request.Content?.Headers.TryAddWithoutValidation(name, values.ToString());
            else request.Content?.Headers.TryAddWithoutValidation(name, values.ToArray());
        }

        if (isUpgrade)
        {
            request.Headers.TryAddWithoutValidation(HeaderNames.Connection, "Upgrade");
            request.Headers.TryAddWithoutValidation(HeaderNames.Upgrade, incoming.Headers.Upgrade.ToArray());
        }

        var host = incoming.Headers.Host.ToString();
        request.Headers.TryAddWithoutValidation(HeaderNames.Host, host);
        var clientIp = context.Connection.RemoteIpAddress;
        var forwardedFor = incoming.Headers["X-Forwarded-For"];
        var clientAddress = clientIp is null ? "unknown" : clientIp.IsIPv4MappedToIPv6 ? clientIp.MapToIPv4().ToString() : clientIp.ToString();
        request.Headers.TryAddWithoutValidation("X-Forwarded-For",
            StringValues.IsNullOrEmpty(forwardedFor) || !options.TrustForwardedFor
                ? clientAddress
                : string.Join(", ", forwardedFor.ToArray()) + ", " + clientAddress);
        request.Headers.TryAddWithoutValidation("X-Forwarded-Proto", incoming.Scheme);
        request.Headers.TryAddWithoutValidation("X-Forwarded-Host", host);
        return request;
    }

    /// <summary>Header names listed in a Connection header (beyond the ones always dropped), or null when none.</summary>
    private static HashSet<string>? ConnectionTokens(StringValues connection)
    {
        HashSet<string>? tokens = null;
        foreach (var value in connection)
        {
            foreach (var part in (value ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (part.Equals("close", StringComparison.OrdinalIgnoreCase) || HopByHop.Contains(part)) continue;
                (tokens ??= new HashSet<string>(StringComparer.OrdinalIgnoreCase)).Add(part);
            }
        }
        return tokens;
    }

    private static void CopyResponseHeaders(HttpResponseMessage response, IHeaderDictionary target, bool keepUpgrade)
    {
        HashSet<string>? connectionTokens = null;
        if (response.Headers.NonValidated.TryGetValues(HeaderNames.Connection, out var connection))
        {
            connectionTokens = ConnectionTokens(new StringValues(connection.ToArray()));
        }
        Copy(response.Headers.NonValidated);
        Copy(response.Content.Headers.NonValidated);

        void Copy(HttpHeadersNonValidated headers)
        {
            foreach (var (name, values) in headers)
            {
                if ((HopByHop.Contains(name) && !(keepUpgrade && name.Equals(HeaderNames.Upgrade, StringComparison.OrdinalIgnoreCase)))
                    || connectionTokens?.Contains(name) == true)
                {
                    continue;
                }
                target[name] = values.Count == 1 ? new StringValues(values.ToString()) : new StringValues(values.ToArray());
            }
        }
    }

    private async Task TunnelAsync(HttpContext context, IHttpUpgradeFeature upgrade, HttpResponseMessage response, Uri upstream)
    {
        CopyResponseHeaders(response, context.Response.Headers, keepUpgrade: true);
        await using var upstreamStream = await response.Content.ReadAsStreamAsync(context.RequestAborted);
        await using var clientStream = await upgrade.UpgradeAsync();
        using var done = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, stopping);
        var toUpstream = PumpAsync(clientStream, upstreamStream, done.Token);
        var toClient = PumpAsync(upstreamStream, clientStream, done.Token);
        var first = await Task.WhenAny(toUpstream, toClient);
        // One side closed (or failed): the conversation is over, so the other direction is torn down too.
        await done.CancelAsync();
        try
        {
            await Task.WhenAll(toUpstream, toClient);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ConnectionAbortedException or ObjectDisposedException)
        {
            // Expected: the direction still reading was cut when the other one ended.
        }
        RouterLog.TunnelEnded(logger, upstream, first == toClient ? "upstream closed" : "client closed");
    }

    private static async Task PumpAsync(Stream from, Stream to, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            int read;
            while ((read = await from.ReadAsync(buffer, ct)) > 0)
            {
                await to.WriteAsync(buffer.AsMemory(0, read), ct);
                await to.FlushAsync(ct);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task FailAsync(HttpContext context, Uri upstream, Exception e)
    {
        // The client left: nobody to answer, and nothing the app did wrong.
        if (context.RequestAborted.IsCancellationRequested) return;
        var host = context.Request.Host.Value ?? "";
        if (Find<BadHttpRequestException>(e) is { } bad)
        {
            // The client's own request was at fault (body over the limit, malformed chunking): say so, not 502.
            if (!context.Response.HasStarted)
            {
                await ErrorPages.WriteAsync(context, bad.StatusCode, "Bad request", bad.Message);
            }
            return;
        }
        var timedOut = e is OperationCanceledException || Find<TimeoutException>(e) is not null;
        var status = timedOut ? StatusCodes.Status504GatewayTimeout : StatusCodes.Status502BadGateway;
        RouterLog.UpstreamFailed(logger, upstream, host, status, Innermost(e).Message);
        if (context.Response.HasStarted)
        {
            context.Abort();
            return;
        }
        await (timedOut ? ErrorPages.GatewayTimeoutAsync(context) : ErrorPages.BadGatewayAsync(context));
    }

    private static T? Find<T>(Exception? e) where T : Exception
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is T match) return match;
        }
        return null;
    }

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e;
    }

    /// <summary>
    /// The client's request body, copied to the upstream as it arrives (read, write, flush), never held whole. When it
    /// is all sent, the response-headers clock starts.
    /// </summary>
    private sealed class StreamingBody(Stream source, RequestCancellation headersTimeout, TimeSpan timeout) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, headersTimeout.Token);

        // The token is the send's own (linked to the client's RequestAborted), so a client leaving stops the copy.
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
            try
            {
                int read;
                while ((read = await source.ReadAsync(buffer, cancellationToken)) > 0)
                {
                    await stream.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                    await stream.FlushAsync(cancellationToken);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
            try
            {
                headersTimeout.CancelAfter(timeout);
            }
            catch (ObjectDisposedException)
            {
                // The exchange already ended (the upstream answered before reading the whole body).
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = -1;
            return false;
        }
    }

    /// <summary>
    /// One request's cancellation (client gone, or the response-headers deadline), pooled: on a busy router a linked
    /// source and its timer per request are measurable garbage.
    /// </summary>
    private sealed class RequestCancellation : CancellationTokenSource
    {
        private static readonly ConcurrentQueue<RequestCancellation> Pool = new();
        private CancellationTokenRegistration clientAborted;

        public static RequestCancellation Rent(CancellationToken aborted)
        {
            if (!Pool.TryDequeue(out var source)) source = new RequestCancellation();
            source.clientAborted = aborted.UnsafeRegister(static state => ((RequestCancellation)state!).Cancel(), source);
            return source;
        }

        public void Return(bool reuse)
        {
            // Dispose waits for a running callback, so nothing cancels this source once it is back in the pool.
            clientAborted.Dispose();
            if (reuse && Pool.Count < 1024 && TryReset()) Pool.Enqueue(this);
            else Dispose();
        }
    }
}
