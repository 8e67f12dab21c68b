using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Slipway.Server.Tests.Support;
using Slipway.Server.Webhooks;

namespace Slipway.Server.Tests.Webhooks;

public sealed class DeliveringWebhooksTests
{
    [Fact]
    public async Task Deploying_SignsEveryEvent_SoTheStandardWebhooksVerifierAcceptsIt()
    {
        var settings = WebhookIntents.Settings();
        foreach (var (key, value) in EngineSettings.Fast) settings[key] = value;
        await using var server = await SlipwayServer.StartAsync(settings);
        var user = await server.RegisterUserAsync();
        using var repo = GitRepo.Create();
        repo.Commit("first", SampleApps.Node("v1"));
        var project = await server.CreateProjectAsync(user.Token, extra: new { repo_url = repo.BarePath });
        await using var receiver = await WebhookReceiver.StartAsync();
        var hook = await server.CreateWebhookAsync(user.Token, receiver.Url, ["deployment.*"]);
        await receiver.UseSecretsAsync(hook["secret"]!.GetValue<string>());

        var deployment = await server.DeployAsync(user.Token, project["id"]!.GetValue<string>());
        var deploymentId = deployment["id"]!.GetValue<string>();
        await server.WaitForStatusAsync(user.Token, deploymentId, TimeSpan.FromSeconds(90), "ready");

        // Delivery order is not promised (attempts run concurrently); event ids are time-ordered.
        var received = (await receiver.WaitForAsync(r => r.Count >= 4 && r.Any(w => w.Body?["data"]?["status"]?.GetValue<string>() == "ready")))
            .OrderBy(r => r.Id, StringComparer.Ordinal).ToList();
        Assert.All(received, r => Assert.True(r.Verified, r.VerifyError));
        Assert.Equal("deployment.created", received[0].Type);
        var statuses = received.Where(r => r.Type == "deployment.status_changed").Select(r => r.Body!["data"]!["status"]!.GetValue<string>()).ToList();
        Assert.Equal(["building", "deploying", "ready"], statuses);
        var first = received[0];
        Assert.Equal(deploymentId, first.Body!["data"]!["id"]!.GetValue<string>());
        Assert.Equal(first.Id, first.Body["id"]!.GetValue<string>());
        Assert.Equal(user.WorkspaceId, first.Body["workspace_id"]!.GetValue<string>());
        Assert.Equal("deployment", first.SlipwayEvent);
        Assert.Equal("created", first.SlipwayAction);
        Assert.Equal(first.Signature, first.SlipwaySignature);
        Assert.Equal(first.Timestamp, first.SlipwayTimestamp);
        Assert.StartsWith("v1,", first.Signature, StringComparison.Ordinal);
        Assert.Equal(received.Count, received.Select(r => r.Id).Distinct().Count());
    }

    [Fact]
    public async Task RotatingTheSecret_SignsWithBothDuringTheOverlap_ThenOnlyWithTheNewOne()
    {
        await using var server = await SlipwayServer.StartAsync(WebhookIntents.Settings(("RotationOverlap", "00:00:01.500")));
        var user = await server.RegisterUserAsync();
        await using var receiver = await WebhookReceiver.StartAsync();
        var hook = await server.CreateWebhookAsync(user.Token, receiver.Url);
        var id = hook["id"]!.GetValue<string>();
        var oldSecret = hook["secret"]!.GetValue<string>();

        var rotated = (await server.PostAsync($"/api/v1/webhooks/{id}/rotate-secret", null, user.Token)).AssertStatus(200).Json;
        var newSecret = rotated["secret"]!.GetValue<string>();
        Assert.NotEqual(oldSecret, newSecret);
        Assert.NotNull(rotated["previous_secret_expires_at"]);

        await receiver.UseSecretsAsync(oldSecret);
        (await server.PostAsync($"/api/v1/webhooks/{id}/test", null, user.Token)).AssertStatus(202);
        var withOld = (await receiver.WaitForAsync(r => r.Count == 1))[0];
        Assert.True(withOld.Verified, withOld.VerifyError);
        Assert.Equal(2, withOld.Signature.Split(' ').Length);

        await receiver.UseSecretsAsync(newSecret);
        (await server.PostAsync($"/api/v1/webhooks/{id}/test", null, user.Token)).AssertStatus(202);
        var withNew = (await receiver.WaitForAsync(r => r.Count == 2))[1];
        Assert.True(withNew.Verified, withNew.VerifyError);
        Assert.Equal("ping", withNew.Type);

        await Task.Delay(1600);
        await receiver.UseSecretsAsync(oldSecret);
        (await server.PostAsync($"/api/v1/webhooks/{id}/test", null, user.Token)).AssertStatus(202);
        var afterOverlap = (await receiver.WaitForAsync(r => r.Count == 3))[2];
        Assert.False(afterOverlap.Verified);
        Assert.Single(afterOverlap.Signature.Split(' '));
    }

    [Fact]
    public async Task FailingReceiver_IsRetriedOnSchedule_HonouringRetryAfter_UntilItSucceeds()
    {
        await using var server = await SlipwayServer.StartAsync(WebhookIntents.Settings(("RetrySchedule", "00:00:00,00:00:00.300,00:00:00.300,00:00:00.300")));
        var user = await server.RegisterUserAsync();
        await using var receiver = await WebhookReceiver.StartAsync(plan: [new { status = 500 }, new { status = 429, retryAfter = 2 }, new { status = 302, location = "http://169.254.169.254/latest/meta-data/" }]);
        var hook = await server.CreateWebhookAsync(user.Token, receiver.Url);
        var id = hook["id"]!.GetValue<string>();

        (await server.PostAsync($"/api/v1/webhooks/{id}/test", null, user.Token)).AssertStatus(202);

        var delivery = await server.WaitForDeliveryAsync(user.Token, id, d => d["status"]!.GetValue<string>() == "succeeded");
        var attempts = delivery["attempts"]!.AsArray();
        Assert.Equal([500, 429, 302, 200], attempts.Select(a => a!["status_code"]!.GetValue<int>()));
        var times = attempts.Select(a => a!["attempted_at"]!.GetValue<DateTime>()).ToList();
        Assert.True(times[1] - times[0] >= TimeSpan.FromMilliseconds(290), $"second attempt after {times[1] - times[0]}");
        Assert.True(times[2] - times[1] >= TimeSpan.FromSeconds(1.95), $"Retry-After: 2 not honoured: {times[2] - times[1]}");
        Assert.NotNull(attempts[0]!["next_attempt_at"]);
        Assert.Null(attempts[3]!["next_attempt_at"]);
        Assert.Contains("500", attempts[0]!["error"]!.GetValue<string>(), StringComparison.Ordinal);
        // The redirect was recorded and retried, never followed: the receiver saw every attempt itself. (It reports what it
        // received on its own schedule: the server may record the success before the receiver has told us of it.)
        var received = await receiver.WaitForAsync(r => r.Count >= 4);
        Assert.Equal(4, received.Count);
        Assert.Single(received.Select(r => r.Id).Distinct());
        Assert.Equal(4, delivery["attempt_count"]!.GetValue<int>());
    }

    [Fact]
    public async Task ClientErrors_ArePermanent_RetriesRunOut_AndGoneDisablesTheEndpoint()
    {
        await using var server = await SlipwayServer.StartAsync(WebhookIntents.Settings(("RetrySchedule", "00:00:00,00:00:00.100")));
        var user = await server.RegisterUserAsync();
        await using var permanent = await WebhookReceiver.StartAsync(fallback: new { status = 400 });
        await using var broken = await WebhookReceiver.StartAsync(fallback: new { status = 503 });
        await using var gone = await WebhookReceiver.StartAsync(fallback: new { status = 410 });
        var permanentId = (await server.CreateWebhookAsync(user.Token, permanent.Url))["id"]!.GetValue<string>();
        var brokenId = (await server.CreateWebhookAsync(user.Token, broken.Url))["id"]!.GetValue<string>();
        var goneId = (await server.CreateWebhookAsync(user.Token, gone.Url))["id"]!.GetValue<string>();

        await server.InsertEventsAsync(user.WorkspaceId, 1);

        var dead400 = await server.WaitForDeliveryAsync(user.Token, permanentId, d => d["status"]!.GetValue<string>() == "dead");
        Assert.Single(dead400["attempts"]!.AsArray());
        var dead503 = await server.WaitForDeliveryAsync(user.Token, brokenId, d => d["status"]!.GetValue<string>() == "dead");
        Assert.Equal(2, dead503["attempts"]!.AsArray().Count);
        Assert.Equal(503, dead503["last_status_code"]!.GetValue<int>());
        await server.WaitForDeliveryAsync(user.Token, goneId, d => d["status"]!.GetValue<string>() == "dead");
        var goneHook = (await server.GetAsync($"/api/v1/webhooks/{goneId}", user.Token)).AssertStatus(200).Json;
        Assert.False(goneHook["enabled"]!.GetValue<bool>());
        Assert.Contains("410", goneHook["disabled_reason"]!.GetValue<string>(), StringComparison.Ordinal);
        // Each receiver reports what it got on its own schedule, which may come after the server recorded the attempt.
        var counts = ((await permanent.WaitForAsync(r => r.Count >= 1)).Count, (await broken.WaitForAsync(r => r.Count >= 2)).Count,
            (await gone.WaitForAsync(r => r.Count >= 1)).Count);
        await Task.Delay(300);
        Assert.Equal((1, 2, 1), counts);
        Assert.Equal((1, 2, 1), (permanent.Received.Count, broken.Received.Count, gone.Received.Count));

        // A disabled endpoint gets nothing new; the others still do.
        await server.InsertEventsAsync(user.WorkspaceId, 1);
        await permanent.WaitForAsync(r => r.Count == 2);
        await Task.Delay(300);
        Assert.Single(gone.Received);
        Assert.Single(await server.DeliveriesAsync(user.Token, goneId));
    }

    [Fact]
    public async Task FailuresAndSuccessesInTheSameMillisecond_AreAllRecorded_AndNothingIsSentTwice()
    {
        // The clock stands still: every attempt shares one timestamp, and no retry falls due until it moves.
        var clock = new ManualTimeProvider();
        await using var server = await SlipwayServer.StartAsync(WebhookIntents.Settings(), services: s => s.AddSingleton<TimeProvider>(clock));
        var user = await server.RegisterUserAsync();
        // Failures and successes alternate, so most recorded batches hold both, at one timestamp.
        await using var receiver = await WebhookReceiver.StartAsync(plan: Enumerable.Range(0, 40).Select(i => (object)new { status = i % 2 == 0 ? 503 : 200 }));
        var id = (await server.CreateWebhookAsync(user.Token, receiver.Url))["id"]!.GetValue<string>();

        var ids = await server.InsertEventsAsync(user.WorkspaceId, 40);

        await receiver.WaitForAsync(r => r.Count >= 40);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        JsonArray deliveries;
        do
        {
            await Task.Delay(50);
            deliveries = await server.DeliveriesAsync(user.Token, id);
        } while (deliveries.Any(d => d!["attempts"]!.AsArray().Count == 0) && DateTime.UtcNow < deadline);
        Assert.Equal(40, deliveries.Count);
        Assert.All(deliveries, d => Assert.Single(d!["attempts"]!.AsArray()));
        Assert.Equal(20, deliveries.Count(d => d!["status"]!.GetValue<string>() == "succeeded"));
        Assert.Equal(20, deliveries.Count(d => d!["status"]!.GetValue<string>() == "pending" && d["last_status_code"]!.GetValue<int>() == 503));
        await Task.Delay(300);
        Assert.Equal(40, receiver.Received.Count);

        clock.Advance(TimeSpan.FromSeconds(1));

        await receiver.WaitForAsync(r => r.Count(w => w.Answered == 200) >= 40);
        do
        {
            await Task.Delay(50);
            deliveries = await server.DeliveriesAsync(user.Token, id);
        } while (deliveries.Any(d => d!["status"]!.GetValue<string>() != "succeeded") && DateTime.UtcNow < deadline);
        Assert.All(deliveries, d => Assert.Equal("succeeded", d!["status"]!.GetValue<string>()));
        await Task.Delay(300);
        Assert.Equal(60, receiver.Received.Count);
        Assert.Equal(ids.Order(StringComparer.Ordinal), receiver.Received.Where(r => r.Answered == 200).Select(r => r.Id).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task SlowReceiver_TimesOutAndIsRetried_WithoutDelayingAHealthyOne()
    {
        await using var server = await SlipwayServer.StartAsync(WebhookIntents.Settings(("Timeout", "00:00:01"), ("MaxConcurrencyPerEndpoint", "2")));
        var user = await server.RegisterUserAsync();
        await using var dead = await WebhookReceiver.StartAsync(fallback: new { status = 200, delayMs = 5000 });
        await using var healthy = await WebhookReceiver.StartAsync();
        var deadId = (await server.CreateWebhookAsync(user.Token, dead.Url))["id"]!.GetValue<string>();
        await server.CreateWebhookAsync(user.Token, healthy.Url);
        var started = DateTime.UtcNow;

        var ids = await server.InsertEventsAsync(user.WorkspaceId, 40);

        await healthy.WaitForAsync(r => r.Select(w => w.Id).Distinct().Count() == 40, TimeSpan.FromSeconds(10));
        var healthyDone = DateTime.UtcNow - started;
        // 40 events at 2 at a time with 1 s timeouts would take 20 s if the dead receiver held the healthy one up.
        Assert.True(healthyDone < TimeSpan.FromSeconds(4), $"healthy receiver took {healthyDone}");
        var timedOut = await server.WaitForDeliveryAsync(user.Token, deadId, d => d["attempts"]!.AsArray().Count >= 1);
        Assert.Contains("timed out", timedOut["attempts"]![0]!["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Null(timedOut["attempts"]![0]!["status_code"]);
        Assert.Equal(ids.Order(StringComparer.Ordinal), healthy.Received.Select(r => r.Id).Distinct().Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task ContinuouslyFailingEndpoint_IsDisabledAfterTheConfiguredPeriod_AndSaysWhy()
    {
        await using var server = await SlipwayServer.StartAsync(WebhookIntents.Settings(
            ("RetrySchedule", "00:00:00,00:00:00.200,00:00:00.200,00:00:00.200,00:00:00.200,00:00:00.200,00:00:00.200,00:00:00.200"),
            ("DisableAfter", "00:00:00.500")));
        var user = await server.RegisterUserAsync();
        await using var receiver = await WebhookReceiver.StartAsync(fallback: new { status = 500 });
        var id = (await server.CreateWebhookAsync(user.Token, receiver.Url))["id"]!.GetValue<string>();

        await server.InsertEventsAsync(user.WorkspaceId, 1);

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        JsonNode hook;
        do
        {
            await Task.Delay(100);
            hook = (await server.GetAsync($"/api/v1/webhooks/{id}", user.Token)).AssertStatus(200).Json;
        } while (hook["enabled"]!.GetValue<bool>() && DateTime.UtcNow < deadline);
        Assert.False(hook["enabled"]!.GetValue<bool>());
        Assert.Contains("failed", hook["disabled_reason"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.NotNull(hook["failing_since"]);
        var delivery = await server.WaitForDeliveryAsync(user.Token, id, d => d["status"]!.GetValue<string>() == "dead");
        Assert.InRange(delivery["attempts"]!.AsArray().Count, 3, 8);
    }

    [Fact]
    public async Task KillingTheServerWith1000EventsPending_DeliversEveryOneAfterRestart()
    {
        var dataDirectory = Directory.CreateTempSubdirectory("slipway-kill-").FullName;
        var settings = WebhookIntents.Settings(("MaxConcurrencyPerEndpoint", "2")).ToDictionary(kv => kv.Key, kv => kv.Value!);
        settings["Slipway:DataDirectory"] = dataDirectory;
        settings["Slipway:Auth:PasswordIterations"] = "1000";
        await using var database = await OutsideDatabase.CreateAsync(dataDirectory);
        foreach (var (key, value) in database.Settings) settings[key] = value;
        await using var receiver = await WebhookReceiver.StartAsync(fallback: new { status = 200, delayMs = 5 });

        string workspaceId;
        var first = await ServerProcess.StartAsync(settings);
        await using (first)
        {
            using var http = new HttpClient { BaseAddress = first.BaseAddress };
            var registered = JsonNode.Parse(await (await http.PostAsJsonAsync("/api/v1/auth/register",
                new { email = "kill@example.test", name = "Kill", password = "correct horse battery" })).EnsureSuccessStatusCode().Content.ReadAsStringAsync())!;
            http.DefaultRequestHeaders.Authorization = new("Bearer", registered["token"]!.GetValue<string>());
            var me = JsonNode.Parse(await http.GetStringAsync("/api/v1/auth/me"))!;
            workspaceId = me["workspaces"]![0]!["id"]!.GetValue<string>();
            (await http.PostAsJsonAsync("/api/v1/webhooks", new { url = receiver.Url, events = (string[])["*"] })).EnsureSuccessStatusCode();

            await database.InsertEventsAsync(workspaceId, 1000);
            await receiver.WaitForAsync(r => r.Count >= 50);
            await first.KillAsync();
        }
        var beforeRestart = receiver.Received.Select(r => r.Id).Distinct().Count();
        Assert.True(beforeRestart < 1000, "everything was delivered before the kill; the test proves nothing");

        await using var second = await ServerProcess.StartAsync(settings);
        var all = await receiver.WaitForAsync(r => r.Select(w => w.Id).Distinct().Count() == 1000, TimeSpan.FromSeconds(90));
        Assert.Equal(database.InsertedIds.Order(StringComparer.Ordinal), all.Select(r => r.Id).Distinct().Order(StringComparer.Ordinal));
        Assert.All(all, r => Assert.Equal(200, r.Answered));
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("[64:ff9b::7f00:1]")]
    [InlineData("[::ffff:0:127.0.0.1]")]
    public async Task TargetThatReachesLoopback_IsRefusedWhenConnecting_NotOnlyWhenRegistered(string host)
    {
        var first = await SlipwayServer.StartAsync(WebhookIntents.Settings());
        var user = await first.RegisterUserAsync();
        await using var receiver = await WebhookReceiver.StartAsync();
        // Registered while loopback was allowed; the operator then takes that permission away.
        var id = (await first.CreateWebhookAsync(user.Token, $"http://{host}:{new Uri(receiver.Url).Port}/hooks"))["id"]!.GetValue<string>();
        await first.StopKeepingDataAsync();
        await using var server = await SlipwayServer.StartAsync(WebhookIntents.Settings(("AllowLoopback", "false")), restartOf: first);

        (await server.PostAsync($"/api/v1/webhooks/{id}/test", null, user.Token)).AssertStatus(202);

        var delivery = await server.WaitForDeliveryAsync(user.Token, id, d => d["status"]!.GetValue<string>() == "dead");
        Assert.Contains("may not call", delivery["last_error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Single(delivery["attempts"]!.AsArray());
        Assert.Empty(receiver.Received);
    }

    [Fact]
    public async Task Redeliver_SendsADeadDeliveryAgain_WithTheSameWebhookId()
    {
        await using var server = await SlipwayServer.StartAsync(WebhookIntents.Settings(("RetrySchedule", "00:00:00")));
        var user = await server.RegisterUserAsync();
        await using var receiver = await WebhookReceiver.StartAsync(plan: [new { status = 500 }]);
        var hook = await server.CreateWebhookAsync(user.Token, receiver.Url);
        var id = hook["id"]!.GetValue<string>();
        await receiver.UseSecretsAsync(hook["secret"]!.GetValue<string>());
        await server.InsertEventsAsync(user.WorkspaceId, 1);
        var dead = await server.WaitForDeliveryAsync(user.Token, id, d => d["status"]!.GetValue<string>() == "dead");
        var deliveryId = dead["id"]!.GetValue<string>();

        var redelivered = (await server.PostAsync($"/api/v1/webhooks/{id}/deliveries/{deliveryId}/redeliver", null, user.Token)).AssertStatus(202).Json;
        Assert.Equal("pending", redelivered["status"]!.GetValue<string>());

        var done = await server.WaitForDeliveryAsync(user.Token, id, d => d["status"]!.GetValue<string>() == "succeeded");
        Assert.True(deliveryId == done["id"]!.GetValue<string>(), (await server.DeliveriesAsync(user.Token, id)).ToJsonString());
        Assert.Equal([500, 200], done["attempts"]!.AsArray().Select(a => a!["status_code"]!.GetValue<int>()));
        var received = await receiver.WaitForAsync(r => r.Count == 2);
        Assert.True(received[0].Id == received[1].Id, $"ids {received[0].Id} and {received[1].Id}");
        Assert.True(received[1].Verified, received[1].VerifyError);
        (await server.PostAsync($"/api/v1/webhooks/{id}/deliveries/{Guid.CreateVersion7()}/redeliver", null, user.Token)).AssertStatus(404);
    }

    [Fact]
    public async Task RotatingTheMasterKey_ReencryptsEndpointSecrets_AndDeliveriesStillVerify()
    {
        var keyA = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        var keyB = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        var onlyA = WebhookIntents.Settings();
        onlyA["Slipway:Secrets:Keys:A"] = keyA;
        var both = WebhookIntents.Settings();
        both["Slipway:Secrets:Keys:A"] = keyA;
        both["Slipway:Secrets:Keys:B"] = keyB;
        both["Slipway:Secrets:ActiveKeyId"] = "B";
        var onlyB = WebhookIntents.Settings();
        onlyB["Slipway:Secrets:Keys:B"] = keyB;
        await using var receiver = await WebhookReceiver.StartAsync();

        var first = await SlipwayServer.StartAsync(onlyA);
        var user = await first.RegisterUserAsync();
        var hook = await first.CreateWebhookAsync(user.Token, receiver.Url);
        var id = hook["id"]!.GetValue<string>();
        (await first.PostAsync($"/api/v1/webhooks/{id}/rotate-secret", null, user.Token)).AssertStatus(200);
        await first.StopKeepingDataAsync();
        var second = await SlipwayServer.StartAsync(both, restartOf: first);
        var result = await second.Service<WebhookDirectory>().ReencryptAllAsync(CancellationToken.None);
        Assert.Equal((1, 0), (result.Reencrypted, result.Failed));
        await second.StopKeepingDataAsync();
        await using var third = await SlipwayServer.StartAsync(onlyB, restartOf: second);

        await receiver.UseSecretsAsync(hook["secret"]!.GetValue<string>());
        (await third.PostAsync($"/api/v1/webhooks/{id}/test", null, user.Token)).AssertStatus(202);

        var received = (await receiver.WaitForAsync(r => r.Count == 1))[0];
        Assert.True(received.Verified, received.VerifyError);
        Assert.Equal(2, received.Signature.Split(' ').Length);
    }
}
