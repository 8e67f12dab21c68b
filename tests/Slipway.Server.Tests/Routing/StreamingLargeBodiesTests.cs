using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Slipway.Server.Tests.Support;
using static Slipway.Server.Tests.Routing.RouterTesting;

namespace Slipway.Server.Tests.Routing;

public sealed class StreamingLargeBodiesTests : IAsyncLifetime
{
    private const int Megabytes = 50;

    private SlipwayServer server = null!;
    private TestBackend backend = null!;
    private HttpClient client = null!;

    public async Task InitializeAsync()
    {
        backend = await TestBackend.StartAsync("big");
        server = await SlipwayServer.StartAsync();
        client = server.RouterClient();
        server.SetRoutes(("big.localhost", To(backend)));
    }

    public async Task DisposeAsync()
    {
        client.Dispose();
        await server.DisposeAsync();
        await backend.DisposeAsync();
    }

    [Fact]
    public async Task Upload_Of50MB_ReachesBackendByteExactWhileStillSending()
    {
        var content = new HandshakeUpload(backend.UploadStarted.Task);
        using var request = For("big.localhost", HttpMethod.Post, "/upload");
        request.Content = content;
        request.Content.Headers.ContentLength = (long)Megabytes * content.Chunk.Length;

        using var response = await client.SendAsync(request).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var received = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal((long)Megabytes * content.Chunk.Length, received["bytes"]!.GetValue<long>());
        Assert.Equal(content.Sha256(), received["sha256"]!.GetValue<string>());
    }

    [Fact]
    public async Task Upload_Chunked_ReachesBackendByteExact()
    {
        var content = new HandshakeUpload(backend.UploadStarted.Task, megabytes: 3);
        using var request = For("big.localhost", HttpMethod.Post, "/upload");
        request.Content = content;
        request.Headers.TransferEncodingChunked = true;

        using var response = await client.SendAsync(request).WaitAsync(TimeSpan.FromSeconds(60));

        var received = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(3L * content.Chunk.Length, received["bytes"]!.GetValue<long>());
        Assert.Equal(content.Sha256(), received["sha256"]!.GetValue<string>());
    }

    [Fact]
    public async Task Download_Of50MB_ArrivesByteExactWhileBackendStillWriting()
    {
        using var request = For("big.localhost", HttpMethod.Get, $"/download?mb={Megabytes}&handshake=1");
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await using var body = await response.Content.ReadAsStreamAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var buffer = new byte[64 * 1024];
        long total = 0;
        int read;
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var peak = before;
        while ((read = await body.ReadAsync(buffer, timeout.Token)) > 0)
        {
            hash.AppendData(buffer, 0, read);
            total += read;
            // The backend holds the rest back until we have seen bytes: a buffering router would never deliver any.
            backend.DownloadReceived.TrySetResult();
            if (total % (8 << 20) < read) peak = Math.Max(peak, GC.GetTotalMemory(false));
        }

        Assert.Equal((long)Megabytes << 20, total);
        using var expected = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var chunk = TestBackend.DownloadChunk();
        for (var i = 0; i < Megabytes; i++) expected.AppendData(chunk);
        Assert.Equal(expected.GetHashAndReset(), hash.GetHashAndReset());
        // Loose: the whole body never sat in memory (router, backend and client share this process).
        Assert.True(peak - before < 40L << 20, $"Managed memory grew by {(peak - before) >> 20} MB while streaming");
    }

    /// <summary>
    /// Sends N deterministic megabytes, but after the first one waits until the backend reports bytes received: that
    /// only happens if the router streams the body instead of buffering it whole.
    /// </summary>
    private sealed class HandshakeUpload(Task backendStarted, int megabytes = Megabytes) : HttpContent
    {
        public byte[] Chunk { get; } = RandomNumberGenerator.GetBytes(1 << 20);

        public string Sha256()
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            for (var i = 0; i < megabytes; i++) hash.AppendData(Chunk);
            return Convert.ToHexStringLower(hash.GetHashAndReset());
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            for (var i = 0; i < megabytes; i++)
            {
                await stream.WriteAsync(Chunk);
                if (i == 0)
                {
                    await stream.FlushAsync();
                    await backendStarted.WaitAsync(TimeSpan.FromSeconds(20));
                }
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = -1;
            return false;
        }
    }
}
