using System.Net.Sockets;
using System.Text;
using Slipway.Server.Routing;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Routing;

/// <summary>Intent helpers for talking to the router a <see cref="SlipwayServer"/> runs on its own port.</summary>
internal static class RouterTesting
{
    public static Uri RouterAddress(this SlipwayServer server) => server.Service<RouterHost>().Addresses[0];

    public static void SetRoutes(this SlipwayServer server, params (string Host, RouteTarget Target)[] routes) =>
        server.Service<RouteTable>().Replace(routes.ToDictionary(r => r.Host, r => r.Target));

    public static RouteTarget To(TestBackend backend) => new("dep-" + backend.Name, backend.Address, null);

    public static HttpClient RouterClient(this SlipwayServer server) =>
        new(new SocketsHttpHandler { AutomaticDecompression = System.Net.DecompressionMethods.None, UseCookies = false, AllowAutoRedirect = false })
        {
            BaseAddress = server.RouterAddress(),
            Timeout = TimeSpan.FromSeconds(60),
        };

    public static HttpRequestMessage For(string host, HttpMethod method, string path)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Host = host;
        return request;
    }

    /// <summary>Sends bytes exactly as written (HttpClient would normalize <c>..</c> away) and returns the raw response.</summary>
    public static async Task<string> RawAsync(this SlipwayServer server, string requestHead)
    {
        var address = server.RouterAddress();
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await client.ConnectAsync(address.Host, address.Port, timeout.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(requestHead.Replace("\n", "\r\n", StringComparison.Ordinal) + "\r\n"), timeout.Token);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return await reader.ReadToEndAsync(timeout.Token);
    }

    public static int RawStatus(string response) => int.Parse(response.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
}
