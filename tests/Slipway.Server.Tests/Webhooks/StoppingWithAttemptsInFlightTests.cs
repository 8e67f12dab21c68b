using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Slipway.Server.Tests.Support;
using Slipway.Server.Webhooks;

namespace Slipway.Server.Tests.Webhooks;

public sealed class StoppingWithAttemptsInFlightTests
{
    [Fact]
    public async Task Stop_WhileAReceiverNeverAnswers_EndsWithinTheShutdownTimeout_AndTheDeliveryIsSentAfterRestart()
    {
        await using var receiver = await SilentReceiver.StartAsync();
        // An attempt timeout far beyond the host's shutdown timeout: only the stop's own deadline can end the attempt.
        var settings = WebhookIntents.Settings(("Timeout", "00:05:00"));
        settings["shutdownTimeoutSeconds"] = "4";
        var first = await SlipwayServer.StartAsync(settings);
        Assert.Equal(TimeSpan.FromSeconds(4), first.Service<IOptions<HostOptions>>().Value.ShutdownTimeout);
        var user = await first.RegisterUserAsync();
        var hookId = (await first.CreateWebhookAsync(user.Token, receiver.Url))["id"]!.GetValue<string>();
        var eventId = (await first.InsertEventsAsync(user.WorkspaceId, 1)).Single();
        await receiver.Arrived.Task.WaitAsync(TimeSpan.FromSeconds(20));
        var worker = first.Service<WebhookWorker>();

        var watch = Stopwatch.StartNew();
        await first.StopKeepingDataAsync();

        Assert.True(worker.ExecuteTask!.IsCompletedSuccessfully, $"the webhook worker was still stopping when the host gave up ({watch.Elapsed})");
        await receiver.Aborted.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Contains(first.Logs.Lines, l => l.Contains("were cancelled at the shutdown deadline", StringComparison.Ordinal));

        receiver.Answer = true;
        await using var second = await SlipwayServer.StartAsync(settings, restartOf: first);
        var delivery = await second.WaitForDeliveryAsync(user.Token, hookId, d => d["status"]!.GetValue<string>() == "succeeded");
        // The cancelled attempt left no record: the delivery was pending, as after a crash, and went out once more.
        Assert.Single(delivery["attempts"]!.AsArray());
        Assert.Equal([eventId, eventId], receiver.WebhookIds);
    }

    /// <summary>A receiver that reads the request and never answers, until told to; it notes when a request is cut off.</summary>
    private sealed class SilentReceiver : IAsyncDisposable
    {
        private readonly WebApplication app;
        private readonly ConcurrentQueue<string> ids = new();

        private SilentReceiver(WebApplication app)
        {
            this.app = app;
            Url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/hooks";
        }

        public string Url { get; }

        public TaskCompletionSource Arrived { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Aborted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public volatile bool Answer;

        public IReadOnlyList<string> WebhookIds => ids.ToList();

        public static async Task<SilentReceiver> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            var app = builder.Build();
            SilentReceiver? receiver = null;
            app.MapPost("/hooks", async (HttpContext context) =>
            {
                receiver!.ids.Enqueue(context.Request.Headers["webhook-id"].ToString());
                if (receiver.Answer) return Results.Ok();
                receiver.Arrived.TrySetResult();
                try
                {
                    await Task.Delay(Timeout.Infinite, context.RequestAborted);
                }
                catch (OperationCanceledException)
                {
                    receiver.Aborted.TrySetResult();
                }
                return Results.Ok();
            });
            await app.StartAsync();
            receiver = new SilentReceiver(app);
            return receiver;
        }

        public async ValueTask DisposeAsync()
        {
            await app.StopAsync(TimeSpan.FromSeconds(1));
            await app.DisposeAsync();
        }
    }
}
