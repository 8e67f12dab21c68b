using System.Net;
using System.Net.Sockets;

namespace Slipway.Server.Runtime;

/// <summary>
/// Hands out free loopback ports for releases. The kernel picks the port (bind to 127.0.0.1:0); the port then stays
/// reserved here until <see cref="Release"/>, because between our probe socket closing and the app binding it (and
/// while a crashed release waits to restart on it) the kernel would happily give the same port to someone else.
/// </summary>
internal sealed class PortAllocator
{
    private const int MaxAttempts = 64;
    private readonly HashSet<int> reserved = [];

    public int Reserve()
    {
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            int port;
            using (var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
            {
                socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
                port = ((IPEndPoint)socket.LocalEndPoint!).Port;
            }
            lock (reserved)
            {
                if (reserved.Add(port)) return port;
            }
        }
        throw new InvalidOperationException("No free loopback port found.");
    }

    public void Release(int port)
    {
        lock (reserved) reserved.Remove(port);
    }

    public bool IsReserved(int port)
    {
        lock (reserved) return reserved.Contains(port);
    }

    /// <summary>
    /// Whether a server could listen on the port now. SO_REUSEADDR like Node and Kestrel set it, so connections of
    /// the previous process still in TIME_WAIT do not count as taken; a live listener does.
    /// </summary>
    public static bool IsFree(int port)
    {
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
            socket.Listen(1);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
