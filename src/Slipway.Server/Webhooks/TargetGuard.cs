using System.Net;
using System.Net.Sockets;

namespace Slipway.Server.Webhooks;

/// <summary>Raised when a webhook target resolves only to addresses Slipway must not call.</summary>
internal sealed class TargetRefusedException(string message) : Exception(message);

/// <summary>
/// SSRF rules for webhook targets. URLs are checked when registered (IP literals and <c>localhost</c>), and every
/// connection is checked again on the address actually dialled, so DNS that changes after registration (rebinding)
/// cannot reach loopback, private, link-local or metadata addresses. Redirects are never followed.
/// </summary>
internal sealed class TargetGuard(WebhookOptions options)
{
    /// <summary>The problem with a target URL, or null when it may be registered.</summary>
    public string? Problem(string url)
    {
        if (url.Length > 2048) return "must be at most 2048 characters";
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            return "must be an absolute http or https URL";
        if (uri.UserInfo.Length > 0) return "must not carry credentials; the signature authenticates Slipway";
        if (uri.Fragment.Length > 0) return "must not have a fragment";
        var host = uri.IdnHost.TrimEnd('.');
        if (IsAllowedHost(host)) return null;
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase))
            return options.AllowLoopback ? null : "points at this machine (loopback), which is not allowed";
        if (IPAddress.TryParse(host.Trim('[', ']'), out var address) && Refusal(address) is { } reason) return $"points at {reason}, which is not allowed";
        return null;
    }

    /// <summary>Why an address is refused, or null. IPv6 forms that carry an IPv4 address are judged by that address.</summary>
    public string? Refusal(IPAddress address)
    {
        if (address.AddressFamily == AddressFamily.InterNetwork) return RefusalIPv4(address.GetAddressBytes());
        if (address.AddressFamily != AddressFamily.InterNetworkV6) return "an address of an unknown family";
        if (IPAddress.IPv6Loopback.Equals(address)) return options.AllowLoopback ? null : "a loopback address";
        if (IPAddress.IPv6Any.Equals(address)) return "an unspecified address";
        if (address.IsIPv6LinkLocal || address.IsIPv6SiteLocal) return "a link-local address";
        if (address.IsIPv6Multicast) return "a multicast address";
        var b = address.GetAddressBytes();
        foreach (var embedded in EmbeddedIPv4(b))
        {
            if (RefusalIPv4(embedded) is { } reason) return reason;
        }
        return (b[0] & 0xFE) == 0xFC && !options.AllowPrivateNetworks ? "a private network address" : null;
    }

    private string? RefusalIPv4(byte[] b)
    {
        if (b[0] == 127) return options.AllowLoopback ? null : "a loopback address";
        if (b[0] == 0) return "an unspecified address";
        if (b[0] == 169 && b[1] == 254) return "a link-local or cloud metadata address";
        if (b[0] >= 224) return "a multicast or reserved address";
        // Documentation, benchmarking and IETF protocol ranges never host a legitimate receiver.
        if ((b[0] == 192 && b[1] == 0 && b[2] is 0 or 2) || (b[0] == 198 && b[1] is 18 or 19) || (b[0] == 198 && b[1] == 51 && b[2] == 100)
            || (b[0] == 203 && b[1] == 0 && b[2] == 113)) return "a reserved address";
        var isPrivate = b[0] == 10 || (b[0] == 172 && b[1] >= 16 && b[1] <= 31) || (b[0] == 192 && b[1] == 168) || (b[0] == 100 && b[1] >= 64 && b[1] <= 127);
        return isPrivate && !options.AllowPrivateNetworks ? "a private network address" : null;
    }

    /// <summary>
    /// The IPv4 addresses an IPv6 address reaches through the stack or a translator: mapped (<c>::ffff:a.b.c.d</c>),
    /// compatible (<c>::a.b.c.d</c>), SIIT (<c>::ffff:0:a.b.c.d</c>), NAT64 (<c>64:ff9b::/96</c>; the local-use
    /// <c>64:ff9b:1::/48</c> at every RFC 6052 prefix length, since the operator's is unknown), 6to4 (<c>2002::/16</c>)
    /// and Teredo (<c>2001::/32</c>, the client's address inverted).
    /// </summary>
    private static IEnumerable<byte[]> EmbeddedIPv4(byte[] b)
    {
        static bool Zero(ReadOnlySpan<byte> span) => !span.ContainsAnyExcept((byte)0);
        if (Zero(b.AsSpan(0, 10)) && ((b[10] == 0 && b[11] == 0) || (b[10] == 0xFF && b[11] == 0xFF))) yield return b[12..16];
        if (Zero(b.AsSpan(0, 8)) && b[8] == 0xFF && b[9] == 0xFF && b[10] == 0 && b[11] == 0) yield return b[12..16];
        if (b[0] == 0 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B)
        {
            if (Zero(b.AsSpan(4, 8))) yield return b[12..16];
            if (b[4] == 0 && b[5] == 1)
            {
                // Every prefix length is judged; those not starting with a zero first, as zeros are what the other
                // lengths' encodings leave behind (and would name the wrong reason).
                byte[][] candidates = [b[12..16], [b[6], b[7], b[9], b[10]], [b[7], b[9], b[10], b[11]], b[9..13]];
                foreach (var candidate in candidates.OrderBy(c => c[0] == 0)) yield return candidate;
            }
        }
        if (b[0] == 0x20 && b[1] == 0x02) yield return b[2..6];
        if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0) yield return [(byte)~b[12], (byte)~b[13], (byte)~b[14], (byte)~b[15]];
    }

    public bool IsAllowedHost(string host) => options.AllowedHosts.Any(h => string.Equals(h, host, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// The HTTP handler deliveries go through: every connection dials only an address that passes <see cref="Refusal"/>,
    /// redirects and cookies are off. Connections are pooled per host with no cap: the worker's lanes bound concurrency
    /// per endpoint, and a per-host cap would let one slow endpoint starve another on the same host.
    /// </summary>
    public SocketsHttpHandler CreateHandler() => new()
    {
        AllowAutoRedirect = false,
        UseCookies = false,
        UseProxy = false,
        AutomaticDecompression = DecompressionMethods.None,
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        ConnectTimeout = options.Timeout,
        ConnectCallback = async (context, ct) =>
        {
            var host = context.DnsEndPoint.Host;
            IPAddress[] addresses = IPAddress.TryParse(host.Trim('[', ']'), out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, ct);
            var allowed = IsAllowedHost(host) ? addresses : addresses.Where(a => Refusal(a) is null).ToArray();
            if (allowed.Length == 0)
            {
                var reason = addresses.Length == 0 ? "no address" : Refusal(addresses[0]);
                throw new TargetRefusedException($"The target {host} resolves to {reason}, which webhooks may not call.");
            }
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(allowed, context.DnsEndPoint.Port, ct);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };
}
