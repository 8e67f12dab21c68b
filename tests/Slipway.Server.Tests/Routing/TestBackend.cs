using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace Slipway.Server.Tests.Routing;

/// <summary>
/// A small Kestrel app on 127.0.0.1 for the router to forward to. <c>/echo</c> describes the request as JSON,
/// <c>/upload</c> hashes the body as it streams in, <c>/download</c> streams bytes out, <c>/slow</c> answers late,
/// <c>/hop</c> answers with hop-by-hop headers and <c>/ws</c> echoes WebSocket messages.
/// </summary>
public sealed class TestBackend : IAsyncDisposable
{
    private readonly WebApplication app;

    /// <summary>Completed when /upload has received its first bytes (while the client may still be sending).</summary>
    public TaskCompletionSource UploadStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>/download waits for this after its first megabyte when the request asks for <c>?handshake=1</c>.</summary>
    public TaskCompletionSource DownloadReceived { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string Name { get; }
    public Uri Address { get; }

    private TestBackend(string name, WebApplication app)
    {
        Name = name;
        this.app = app;
        Address = new Uri(app.Urls.First());
    }

    public static async Task<TestBackend> StartAsync(string name)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = null);
        var app = builder.Build();
        TestBackend? backend = null;
        app.UseWebSockets();
        app.Map("/ws", async context =>
        {
            if (!context.WebSockets.IsWebSocketRequest)
            {
                context.Response.StatusCode = 426;
                return;
            }
            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            var buffer = new byte[64 * 1024];
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer, context.RequestAborted);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", context.RequestAborted);
                    return;
                }
                await socket.SendAsync(buffer.AsMemory(0, result.Count), result.MessageType, result.EndOfMessage, context.RequestAborted);
            }
        });
        app.Map("/upload", async context =>
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[64 * 1024];
            long total = 0;
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer, context.RequestAborted)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                total += read;
                backend!.UploadStarted.TrySetResult();
            }
            await context.Response.WriteAsJsonAsync(new { bytes = total, sha256 = Convert.ToHexStringLower(hash.GetHashAndReset()) });
        });
        app.Map("/download", async context =>
        {
            var megabytes = int.Parse(context.Request.Query["mb"].ToString() ?? "1", System.Globalization.CultureInfo.InvariantCulture);
            var handshake = context.Request.Query["handshake"] == "1";
            context.Response.ContentType = "application/octet-stream";
            var chunk = DownloadChunk();
            for (var i = 0; i < megabytes; i++)
            {
                await context.Response.Body.WriteAsync(chunk, context.RequestAborted);
                if (i == 0 && handshake) await backend!.DownloadReceived.Task.WaitAsync(TimeSpan.FromSeconds(20), context.RequestAborted);
            }
        });
        app.Map("/slow", async context =>
        {
            await Task.Delay(TimeSpan.FromSeconds(10), context.RequestAborted);
            await context.Response.WriteAsync("late");
        });
        app.Map("/hop", async context =>
        {
            context.Response.Headers["X-Hop-Out"] = "secret";
            context.Response.Headers.Connection = "X-Hop-Out";
            context.Response.Headers["Keep-Alive"] = "timeout=5";
            context.Response.Headers["X-Kept"] = "yes";
            await context.Response.WriteAsync("hop");
        });
        app.MapFallback(async context =>
        {
            var request = context.Request;
            await context.Response.WriteAsJsonAsync(new
            {
                backend = backend!.Name,
                method = request.Method,
                target = context.Features.Get<IHttpRequestFeature>()!.RawTarget,
                headers = request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString()),
            });
        });
        await app.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
        backend = new TestBackend(name, app);
        return backend;
    }

    /// <summary>One deterministic megabyte, so both ends can compute the expected hash of N of them.</summary>
    public static byte[] DownloadChunk()
    {
        var chunk = new byte[1024 * 1024];
        for (var i = 0; i < chunk.Length; i++) chunk[i] = (byte)(i * 31 + 7);
        return chunk;
    }

    /// <summary>A loopback port that nothing listens on (bound, then released).</summary>
    public static Uri DeadAddress()
    {
        var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return new Uri($"http://127.0.0.1:{port}");
    }

    public async ValueTask DisposeAsync()
    {
        using (var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(10))) await app.StopAsync(stopping.Token);
        await app.DisposeAsync();
    }
}
