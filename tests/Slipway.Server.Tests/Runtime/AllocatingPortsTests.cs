using System.Net;
using System.Net.Sockets;
using Slipway.Server.Runtime;

namespace Slipway.Server.Tests.Runtime;

public sealed class AllocatingPortsTests
{
    [Fact]
    public void Reserve_ManyTimes_NeverHandsOutAReservedPortTwice()
    {
        var ports = new PortAllocator();

        var reserved = Enumerable.Range(0, 200).Select(_ => ports.Reserve()).ToList();

        Assert.Equal(reserved.Count, reserved.Distinct().Count());
        Assert.All(reserved, p => Assert.True(ports.IsReserved(p)));
    }

    [Fact]
    public void Release_ReservedPort_IsNoLongerReserved()
    {
        var ports = new PortAllocator();
        var port = ports.Reserve();

        ports.Release(port);

        Assert.False(ports.IsReserved(port));
    }

    [Fact]
    public void IsFree_PortWithAListener_False()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;

        Assert.False(PortAllocator.IsFree(port));
        listener.Stop();
        Assert.True(PortAllocator.IsFree(port));
    }
}
