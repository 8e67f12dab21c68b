using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Uploads;

/// <summary>Packaged builds handed to Slipway go live through the same pipeline as git deployments: real archives, real processes, the router.</summary>
public sealed class UploadingBuildsTests : IAsyncLifetime
{
    private static readonly string[] AllScopes = ["*"];
    private SlipwayServer server = null!;
    private TestUser user = null!;

    public async Task InitializeAsync()
    {
        server = await SlipwayServer.StartAsync(EngineSettings.Fast);
        user = await server.RegisterUserAsync();
    }

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Theory]
    [InlineData("zip")]
    [InlineData("tar.gz")]
    public async Task StaticSiteAndNodeApp_GoLiveThroughTheRouter(string format)
    {
        var suffix = format == "zip" ? "z" : "t";
        var site = await server.UploadProjectAsync(user.Token, "site-" + suffix, new { framework = "static" });
        var app = await server.UploadProjectAsync(user.Token, "node-" + suffix, new { start_command = "node server.js" });
        byte[] Pack(Dictionary<string, string> files) => format == "zip" ? UploadIntents.Zip(files) : UploadIntents.TarGz(files);

        var siteUpload = await server.UploadLiveAsync(user.Token, site, Pack(UploadIntents.Site("Uploaded site")), "site." + format);
        var appUpload = await server.UploadLiveAsync(user.Token, app, Pack(UploadIntents.Node("uploaded-v1")), "app." + format);

        Assert.Contains("Uploaded site", await server.RouterGetStringAsync($"site-{suffix}.localhost", "/"));
        Assert.Equal("uploaded-v1", await server.RouterGetStringAsync($"node-{suffix}.localhost", "/"));
        Assert.Equal(format == "zip" ? "zip" : "tar_gz", siteUpload["format"]!.GetValue<string>());
        var deployment = (await server.GetAsync($"/api/v1/deployments/{appUpload["deployment_id"]}", user.Token)).Json;
        Assert.Equal(appUpload["id"]!.GetValue<string>(), deployment["upload_id"]!.GetValue<string>());
        Assert.True(deployment["timings"]!["source_ms"] is not null && deployment["timings"]!["release_ms"] is not null);
        var history = (await server.GetAsync($"/api/v1/uploads/{appUpload["id"]}/history", user.Token)).AssertStatus(200).Json["data"]!.AsArray()
            .Select(h => h!["to"]!.GetValue<string>()).Reverse().ToArray();
        Assert.Equal(["uploaded", "validating", "approved", "distributing", "distributed"], history);
        (await server.PostAsync("/api/v1/deployments", new { project_id = site }, user.Token)).AssertError(409, "invalid_state");
        // A redeploy would build the repository: an upload's deployment says how to deploy that upload again instead.
        var redeploy = await server.PostAsync($"/api/v1/deployments/{appUpload["deployment_id"]}/redeploy", null, user.Token);
        redeploy.AssertError(409, "invalid_state");
        Assert.Contains($"POST /api/v1/uploads/{appUpload["id"]}/distribute", redeploy.Json["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task GitArchiveTarball_WithItsPaxGlobalHeader_GoesLive()
    {
        using var repo = GitRepo.Create();
        repo.Commit("site", UploadIntents.Site("From git archive"));
        var tarball = Path.Combine(Path.GetTempPath(), $"slipway-archive-{Guid.NewGuid():N}.tar.gz");
        try
        {
            var git = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("git", ["--git-dir", repo.BarePath, "archive", "--format=tar.gz", "-o", tarball, "main"]))!;
            await git.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(0, git.ExitCode);
            var site = await server.UploadProjectAsync(user.Token, "git-archived", new { framework = "static" });
            await server.UploadLiveAsync(user.Token, site, await File.ReadAllBytesAsync(tarball), "site.tar.gz");
            Assert.Contains("From git archive", await server.RouterGetStringAsync("git-archived.localhost", "/"));
        }
        finally
        {
            File.Delete(tarball);
        }
    }

    [Fact]
    public async Task WithoutAutoRelease_NothingChangesUntilDistribute()
    {
        var site = await server.UploadProjectAsync(user.Token, "manual-release", new { framework = "static" });
        await server.UploadLiveAsync(user.Token, site, UploadIntents.Zip(UploadIntents.Site("First")), "first.zip");

        var held = (await server.UploadAsync(user.Token, site, UploadIntents.Zip(UploadIntents.Site("Second")), "second.zip",
            new Dictionary<string, string> { ["auto_release"] = "false", ["version"] = "2.0" })).AssertStatus(201).Json;
        Assert.False(held["auto_release"]!.GetValue<bool>());
        var approved = await server.WaitForUploadAsync(user.Token, held["id"]!.GetValue<string>(), "approved");
        await Task.Delay(500);
        Assert.Equal("approved", (await server.GetAsync($"/api/v1/uploads/{approved["id"]}", user.Token)).Json["status"]!.GetValue<string>());
        Assert.Contains("First", await server.RouterGetStringAsync("manual-release.localhost", "/"));

        (await server.PostAsync($"/api/v1/uploads/{approved["id"]}/distribute", null, user.Token)).AssertStatus(202);
        await server.WaitForUploadAsync(user.Token, approved["id"]!.GetValue<string>(), "distributed");
        Assert.Contains("Second", await server.RouterGetStringAsync("manual-release.localhost", "/"));
    }

    [Fact]
    public async Task ManualApproval_WaitsForAnAdmin_RefusesSelfReview_AndARejectionKeepsTheOldRelease()
    {
        var site = await server.UploadProjectAsync(user.Token, "reviewed", new { framework = "static" });
        await server.UploadLiveAsync(user.Token, site, UploadIntents.Zip(UploadIntents.Site("Approved before")), "v1.zip");
        var patched = (await server.PatchAsync($"/api/v1/projects/{site}", new { upload_approval = "manual", prevent_self_review = true }, user.Token))
            .AssertStatus(200).Json;
        Assert.Equal("manual", patched["upload_approval"]!.GetValue<string>());
        var admin = await server.RegisterUserAsync();
        var invitation = (await server.PostAsync($"/api/v1/workspaces/{user.WorkspaceId}/members", new { email = admin.Email, role = "admin" }, user.Token));
        Assert.True(invitation.Status is 200 or 201, invitation.Body);

        var pending = (await server.UploadAsync(user.Token, site, UploadIntents.Zip(UploadIntents.Site("Needs review")), "v2.zip")).AssertStatus(201).Json;
        var id = pending["id"]!.GetValue<string>();
        await server.WaitForUploadAsync(user.Token, id, "pending_approval");
        await Task.Delay(300);
        Assert.Equal("pending_approval", (await server.GetAsync($"/api/v1/uploads/{id}", user.Token)).Json["status"]!.GetValue<string>());
        Assert.Contains("Approved before", await server.RouterGetStringAsync("reviewed.localhost", "/"));

        (await server.PostAsync($"/api/v1/uploads/{id}/approve", null, user.Token)).AssertError(403, "forbidden");
        (await server.PostAsync($"/api/v1/uploads/{id}/approve", null, admin.Token)).AssertStatus(200);
        var live = await server.WaitForUploadAsync(user.Token, id, "distributed");
        Assert.Equal(admin.Id, live["reviewed_by"]!.GetValue<string>());
        Assert.Contains("Needs review", await server.RouterGetStringAsync("reviewed.localhost", "/"));

        var bad = (await server.UploadAsync(user.Token, site, UploadIntents.Zip(UploadIntents.Site("Never served")), "v3.zip")).AssertStatus(201).Json;
        await server.WaitForUploadAsync(user.Token, bad["id"]!.GetValue<string>(), "pending_approval");
        var rejected = (await server.PostAsync($"/api/v1/uploads/{bad["id"]}/reject", new { reason = "wrong build" }, admin.Token)).AssertStatus(200).Json;
        Assert.Equal("rejected", rejected["status"]!.GetValue<string>());
        Assert.Equal("wrong build", rejected["reason"]!.GetValue<string>());
        (await server.PostAsync($"/api/v1/uploads/{bad["id"]}/approve", null, admin.Token)).AssertError(409, "invalid_state");
        Assert.Contains("Needs review", await server.RouterGetStringAsync("reviewed.localhost", "/"));
    }

    [Fact]
    public async Task RedistributingAnOlderUpload_BringsItBack_AndIsRateLimited()
    {
        var site = await server.UploadProjectAsync(user.Token, "rollback-site", new { framework = "static" });
        var first = await server.UploadLiveAsync(user.Token, site, UploadIntents.TarGz(UploadIntents.Site("Version one")), "one.tar.gz");
        await server.UploadLiveAsync(user.Token, site, UploadIntents.TarGz(UploadIntents.Site("Version two")), "two.tar.gz");
        Assert.Contains("Version two", await server.RouterGetStringAsync("rollback-site.localhost", "/"));
        var uploads = (await server.GetAsync($"/api/v1/projects/{site}/uploads", user.Token)).Json["data"]!.AsArray().Count;

        (await server.PostAsync($"/api/v1/uploads/{first["id"]}/distribute", null, user.Token)).AssertStatus(202);
        var back = await server.WaitForUploadAsync(user.Token, first["id"]!.GetValue<string>(), "distributed");
        Assert.NotEqual(first["deployment_id"]!.GetValue<string>(), back["deployment_id"]!.GetValue<string>());
        Assert.Contains("Version one", await server.RouterGetStringAsync("rollback-site.localhost", "/"));
        Assert.Equal(uploads, (await server.GetAsync($"/api/v1/projects/{site}/uploads", user.Token)).Json["data"]!.AsArray().Count);

        var limited = await server.PostAsync($"/api/v1/uploads/{first["id"]}/distribute", null, user.Token);
        limited.AssertError(429, "rate_limited");
        Assert.True(int.Parse(limited.Header("Retry-After")!, System.Globalization.CultureInfo.InvariantCulture) > 60);
        (await server.DeleteAsync($"/api/v1/uploads/{first["id"]}", user.Token)).AssertError(409, "invalid_state");
    }

    [Fact]
    public async Task CompatibilityRoutes_TakeTheKeyInTheBody_AndRefuseAWrongOne()
    {
        var site = await server.UploadProjectAsync(user.Token, "compat-site", new { framework = "static" });
        var key = (await server.PostAsync("/api/v1/api-keys", new { name = "streampixel", scopes = AllScopes, workspace_id = user.WorkspaceId }, user.Token))
            .AssertStatus(201).Json["key"]!.GetValue<string>();
        var fields = new Dictionary<string, string> { ["projectId"] = site, ["autoRelease"] = "false", ["apiKey"] = key, ["userId"] = user.Id };

        var uploaded = (await server.SendAsync(HttpMethod.Post, "/api/v1/projects/upload-file",
            UploadIntents.Form(UploadIntents.Zip(UploadIntents.Site("Compat build")), "build.zip", fields))).AssertStatus(201).Json;
        var uploadId = uploaded["upload_id"]!.GetValue<string>();
        Assert.False(string.IsNullOrEmpty(uploaded["message"]!.GetValue<string>()));
        await server.WaitForUploadAsync(user.Token, uploadId, "approved");

        (await server.SendAsync(HttpMethod.Post, "/api/v1/projects/distribute-file",
            new { projectId = site, uploadId, apiKey = "slp_" + new string('x', 43) })).AssertError(401, "unauthenticated");
        (await server.SendAsync(HttpMethod.Post, "/api/v1/projects/upload-file",
            UploadIntents.Form(UploadIntents.Zip(UploadIntents.Site("x")), "x.zip", new Dictionary<string, string> { ["projectId"] = site, ["apiKey"] = "slp_wrong" })))
            .AssertError(401, "unauthenticated");
        (await server.SendAsync(HttpMethod.Post, "/api/v1/projects/distribute-file",
            new { projectId = site, uploadId, apiKey = key })).AssertStatus(202);
        await server.WaitForUploadAsync(user.Token, uploadId, "distributed");
        Assert.Contains("Compat build", await server.RouterGetStringAsync("compat-site.localhost", "/"));
        Assert.Empty(Directory.GetFiles(Path.Combine(server.DataDirectory, "uploads"), "*.archive"));
    }

    [Fact]
    public async Task Retention_FreesOlderDistributedUploads_ButNeverTheLiveOne()
    {
        await using var retaining = await SlipwayServer.StartAsync(new Dictionary<string, string?>(EngineSettings.Fast) { ["Slipway:Builds:RetainedReleases"] = "1" });
        var owner = await retaining.RegisterUserAsync();
        var site = await retaining.UploadProjectAsync(owner.Token, "retained", new { framework = "static" });
        var first = await retaining.UploadLiveAsync(owner.Token, site, UploadIntents.Zip(UploadIntents.Site("Old")), "old.zip");
        var second = await retaining.UploadLiveAsync(owner.Token, site, UploadIntents.Zip(UploadIntents.Site("New")), "new.zip");

        // Retention runs right after the switch that made the second one distributed.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while ((await retaining.GetAsync($"/api/v1/uploads/{first["id"]}", owner.Token)).Json["files_kept"]!.GetValue<bool>() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
        Assert.False((await retaining.GetAsync($"/api/v1/uploads/{first["id"]}", owner.Token)).Json["files_kept"]!.GetValue<bool>());
        Assert.False(Directory.Exists(Path.Combine(retaining.DataDirectory, "uploads", first["id"]!.GetValue<string>())));
        Assert.True((await retaining.GetAsync($"/api/v1/uploads/{second["id"]}", owner.Token)).Json["files_kept"]!.GetValue<bool>());
        (await retaining.PostAsync($"/api/v1/uploads/{first["id"]}/distribute", null, owner.Token)).AssertError(409, "invalid_state");
        Assert.Contains("New", await retaining.RouterGetStringAsync("retained.localhost", "/"));
    }
}
