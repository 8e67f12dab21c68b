using System.Net;
using System.Net.Sockets;
using Slipway.Server.Routing;

namespace Slipway.Server.Hosting;

/// <summary>
/// Before anything starts: an address another process already listens on is one line that names the setting to change,
/// instead of Kestrel's bind failure surfacing as a stack trace after the workers have begun.
/// </summary>
internal static class ListenCheck
{
    public static string? Problem(WebApplication app)
    {
        var api = app.Configuration["urls"] is { Length: > 0 } urls ? urls
            : app.Configuration["ASPNETCORE_URLS"] is { Length: > 0 } fromEnvironment ? fromEnvironment
            : HostingSetup.DefaultUrl;
        return Taken(api, "--urls (or ASPNETCORE_URLS)")
               ?? Taken(app.Services.GetRequiredService<RouterOptions>().Urls, "Slipway__Router__Urls");
    }

    private static string? Taken(string urls, string setting)
    {
        foreach (var url in urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            // Wildcard hosts (*, +) and port 0 cannot collide in a way worth checking here; Kestrel reports anything else.
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Port <= 0) continue;
            var address = uri.IsLoopback && !IPAddress.TryParse(uri.Host.Trim('[', ']'), out _) ? IPAddress.Loopback
                : IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) ? ip : IPAddress.Any;
            using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            // As Kestrel binds: a port left in TIME_WAIT by a previous run is free, one that something listens on is not.
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            try
            {
                socket.Bind(new IPEndPoint(address, uri.Port));
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                return $"Cannot listen on {url}: another process is using port {uri.Port}. Stop it, or set {setting} to a free address.";
            }
            catch (SocketException)
            {
            }
        }
        return null;
    }
}
