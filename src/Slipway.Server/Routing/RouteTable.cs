using System.Collections.Frozen;

namespace Slipway.Server.Routing;

/// <summary>
/// Host → target, as one immutable snapshot that <see cref="Replace"/> swaps atomically: a request sees either the old
/// map or the new one, never a half-built one, and lookups take no lock. Hosts match case-insensitively, without port
/// and without a trailing dot. Operator-fixed routes (<see cref="RouterOptions.FixedRoutes"/>) are kept across
/// replacements and win over computed ones.
/// </summary>
internal sealed class RouteTable
{
    private readonly FrozenDictionary<string, RouteTarget> fixedRoutes;
    private readonly ILogger<RouteTable> logger;
    private FrozenDictionary<string, RouteTarget> routes;

    public RouteTable(RouterOptions options, ILogger<RouteTable> logger)
    {
        this.logger = logger;
        fixedRoutes = ParseFixedRoutes(options.FixedRoutes).ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        routes = fixedRoutes;
    }

    /// <summary>Replaces every computed route at once with <paramref name="newRoutes"/> (keys are hostnames).</summary>
    public void Replace(IReadOnlyDictionary<string, RouteTarget> newRoutes)
    {
        var merged = new Dictionary<string, RouteTarget>(StringComparer.OrdinalIgnoreCase);
        foreach (var (host, target) in newRoutes) merged[Normalize(host)] = target;
        foreach (var (host, target) in fixedRoutes) merged[host] = target;
        Volatile.Write(ref routes, merged.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase));
        RouterLog.Replaced(logger, merged.Count);
    }

    /// <summary>The target for a Host header value (<c>App.Example.com:8000</c> finds <c>app.example.com</c>), or null.</summary>
    public RouteTarget? Lookup(string host)
    {
        var snapshot = Volatile.Read(ref routes);
        return snapshot.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(HostName(host), out var target) ? target : null;
    }

    /// <summary>The hostname part of a Host header: no port, no IPv6 brackets' port, no trailing dot.</summary>
    public static ReadOnlySpan<char> HostName(ReadOnlySpan<char> host)
    {
        if (host.StartsWith('['))
        {
            var close = host.IndexOf(']');
            host = close > 0 ? host[..(close + 1)] : host;
        }
        else
        {
            var colon = host.LastIndexOf(':');
            if (colon >= 0) host = host[..colon];
        }
        return host.TrimEnd('.');
    }

    private static string Normalize(string host) => HostName(host.Trim()).ToString().ToLowerInvariant();

    private static Dictionary<string, RouteTarget> ParseFixedRoutes(Dictionary<string, string> configured)
    {
        var parsed = new Dictionary<string, RouteTarget>(StringComparer.OrdinalIgnoreCase);
        foreach (var (host, value) in configured)
        {
            var target = value.StartsWith("http://", StringComparison.OrdinalIgnoreCase) && Uri.TryCreate(value, UriKind.Absolute, out var upstream)
                ? new RouteTarget("fixed", upstream, null)
                : Path.IsPathFullyQualified(value)
                    ? new RouteTarget("fixed", null, value)
                    : throw new InvalidOperationException(
                        $"{RouterOptions.SectionName}:FixedRoutes:{host} must be an http:// URL or an absolute directory, not '{value}'");
            parsed[Normalize(host)] = target;
        }
        return parsed;
    }
}
