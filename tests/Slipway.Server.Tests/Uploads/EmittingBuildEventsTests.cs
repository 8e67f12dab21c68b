using Slipway.Server.Tests.Support;
using Slipway.Server.Tests.Webhooks;

namespace Slipway.Server.Tests.Uploads;

/// <summary>Every <c>build.*</c> event reaches an off-the-shelf Standard Webhooks verifier.</summary>
public sealed class EmittingBuildEventsTests : IAsyncLifetime
{
    private SlipwayServer server = null!;
    private TestUser user = null!;

    public async Task InitializeAsync()
    {
        var settings = WebhookIntents.Settings();
        foreach (var (key, value) in EngineSettings.Fast) settings[key] = value;
        server = await SlipwayServer.StartAsync(settings);
        user = await server.RegisterUserAsync();
    }

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task UploadedApprovedRejectedDistributed_AllReachTheReceiver_Verified()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var hook = await server.CreateWebhookAsync(user.Token, receiver.Url, ["build.*"]);
        await receiver.UseSecretsAsync(hook["secret"]!.GetValue<string>());
        var site = await server.UploadProjectAsync(user.Token, "evented", new { framework = "static", upload_approval = "manual" });

        var good = (await server.UploadAsync(user.Token, site, UploadIntents.Zip(UploadIntents.Site("Good")), "good.zip")).AssertStatus(201).Json;
        await server.WaitForUploadAsync(user.Token, good["id"]!.GetValue<string>(), "pending_approval");
        (await server.PostAsync($"/api/v1/uploads/{good["id"]}/approve", null, user.Token)).AssertStatus(200);
        await server.WaitForUploadAsync(user.Token, good["id"]!.GetValue<string>(), "distributed");
        var bad = (await server.UploadAsync(user.Token, site, UploadIntents.Zip(UploadIntents.Site("Bad")), "bad.zip")).AssertStatus(201).Json;
        await server.WaitForUploadAsync(user.Token, bad["id"]!.GetValue<string>(), "pending_approval");
        (await server.PostAsync($"/api/v1/uploads/{bad["id"]}/reject", new { reason = "no" }, user.Token)).AssertStatus(200);

        string[] expected = ["build.uploaded", "build.approved", "build.distributed", "build.rejected"];
        var received = await receiver.WaitForAsync(r => expected.All(t => r.Any(w => w.Type == t)));
        Assert.All(received, r => Assert.True(r.Verified, r.VerifyError));
        Assert.All(received, r => Assert.Equal("build", r.SlipwayEvent));
        var distributed = received.First(r => r.Type == "build.distributed").Body!["data"]!;
        Assert.Equal(good["id"]!.GetValue<string>(), distributed["upload"]!["id"]!.GetValue<string>());
        Assert.Equal("ready", distributed["deployment"]!["status"]!.GetValue<string>());
        Assert.True(distributed["deployment"]!["is_live"]!.GetValue<bool>());
        Assert.Equal("no", received.First(r => r.Type == "build.rejected").Body!["data"]!["upload"]!["reason"]!.GetValue<string>());
        Assert.Equal(2, received.Count(r => r.Type == "build.uploaded"));
    }
}
