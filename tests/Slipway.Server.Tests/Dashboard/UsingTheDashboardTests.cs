using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Dashboard;

/// <summary>A person at the dashboard, in real Chromium, against a real server, real repositories and real builds.</summary>
public sealed partial class UsingTheDashboardTests(DashboardBrowser browser) : IClassFixture<DashboardBrowser>
{
    private static readonly TimeSpan Deploy = TimeSpan.FromSeconds(90);
    private SlipwayServer Server => browser.Server;

    [GeneratedRegex("/deployments/([0-9a-f-]+)$")]
    private static partial Regex DeploymentUrl();

    [Fact]
    public async Task SignIn_CreateProjectFromLocalRepo_DeployWatchingTheLogToReady_ThenRollBack()
    {
        using var repo = GitRepo.Create();
        var first = repo.Commit("first version", SampleApps.Static("v1"));
        var user = await Server.RegisterUserAsync();
        var page = await browser.SignedInPageAsync(user);
        await DashboardBrowser.WithScreenshotOnFailureAsync(page, nameof(SignIn_CreateProjectFromLocalRepo_DeployWatchingTheLogToReady_ThenRollBack), async () =>
        {
            await page.GetByLabel("Name").FillAsync("dash-site");
            await page.GetByLabel("Repository URL").FillAsync(repo.BarePath);
            await page.GetByRole(AriaRole.Button, new() { Name = "Create project" }).ClickAsync();
            await page.WaitForURLAsync(new Regex("/projects/[0-9a-f-]+$"));
            var projectUrl = page.Url;
            Assert.Equal("dash-site", await page.Locator("h1").TextContentAsync());

            var firstDeployment = await DeployFromProjectPageAsync(page, "Deploy", "Yes, deploy");
            Assert.Contains("The deployment ended: ready.", await page.Locator("#log-end").TextContentAsync());
            Assert.False(string.IsNullOrWhiteSpace(await page.Locator("#log").TextContentAsync()));
            Assert.Equal("ready", await page.Locator("#deployment-status").GetAttributeAsync("data-status"));

            var second = repo.Commit("second version", SampleApps.Static("v2"));
            await page.GotoAsync(projectUrl);
            var secondDeployment = await DeployFromProjectPageAsync(page, "Deploy", "Yes, deploy");
            Assert.Equal(second, (await Server.GetAsync($"/api/v1/deployments/{secondDeployment}", user.Token)).Json["commit_sha"]!.GetValue<string>());

            await page.GotoAsync(projectUrl);
            Assert.Equal(1, await page.GetByRole(AriaRole.Link, new() { Name = "Roll back to this" }).CountAsync());
            var rollback = await DeployFromProjectPageAsync(page, "Roll back to this", "Yes, roll back");
            var rolledBack = (await Server.GetAsync($"/api/v1/deployments/{rollback}", user.Token)).AssertStatus(200).Json;
            Assert.Equal("rollback", rolledBack["trigger"]!.GetValue<string>());
            Assert.Equal(first, rolledBack["commit_sha"]!.GetValue<string>());
            Assert.Equal("v1", Regex.Match(await Server.RouterGetStringAsync("dash-site.localhost", "/"), "<h1>(.*)</h1>").Groups[1].Value);
            await page.GotoAsync(projectUrl);
            Assert.Equal(rollback, await page.Locator("#live-deployment").TextContentAsync());
            Assert.NotEqual(firstDeployment, rollback);
        });
    }

    /// <summary>Clicks an action on the project page, confirms it, and follows its deployment's live log until the stream ends.</summary>
    private static async Task<string> DeployFromProjectPageAsync(IPage page, string action, string confirm)
    {
        await page.GetByRole(AriaRole.Link, new() { Name = action }).First.ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = confirm }).ClickAsync();
        await page.WaitForURLAsync(DeploymentUrl());
        await page.Locator("#log-end").Filter(new() { HasTextRegex = new Regex("ended") }).WaitForAsync(new() { Timeout = (float)Deploy.TotalMilliseconds });
        Assert.Equal("The deployment ended: ready.", await page.Locator("#log-end").TextContentAsync());
        return DeploymentUrl().Match(page.Url).Groups[1].Value;
    }

    [Fact]
    public async Task EnvVar_SetReplacedAndDeleted_ValueNeverInThePage()
    {
        var user = await Server.RegisterUserAsync();
        var projectId = (await Server.CreateProjectAsync(user.Token))["id"]!.GetValue<string>();
        var page = await browser.SignedInPageAsync(user);
        await DashboardBrowser.WithScreenshotOnFailureAsync(page, nameof(EnvVar_SetReplacedAndDeleted_ValueNeverInThePage), async () =>
        {
            await page.GotoAsync($"/projects/{projectId}/env");
            foreach (var value in (string[])["first-s3cret-value", "second-s3cret-value"])
            {
                await page.GetByLabel("Name", new() { Exact = true }).FillAsync("DATABASE_PASSWORD");
                await page.GetByLabel("Value (replaces any current value)").FillAsync(value);
                await page.GetByRole(AriaRole.Button, new() { Name = "Save" }).ClickAsync();
                await page.Locator("td code", new() { HasText = "DATABASE_PASSWORD" }).WaitForAsync();
                Assert.DoesNotContain(value, await page.ContentAsync());
                Assert.Equal("", await page.GetByLabel("Value (replaces any current value)").InputValueAsync());
            }
            var listed = (await Server.GetAsync($"/api/v1/env?project_id={projectId}", user.Token)).AssertStatus(200).Json["data"]!.AsArray();
            Assert.True(Assert.Single(listed)!["has_value"]!.GetValue<bool>());

            await page.GetByRole(AriaRole.Button, new() { Name = "Delete DATABASE_PASSWORD" }).ClickAsync();
            await page.GetByText("No variables.").WaitForAsync();
            Assert.Empty((await Server.GetAsync($"/api/v1/env?project_id={projectId}", user.Token)).Json["data"]!.AsArray());
        });
    }

    [Fact]
    public async Task ApiKey_CreatedWithCheckedScopes_IsShownOnceOnly()
    {
        var user = await Server.RegisterUserAsync();
        var page = await browser.SignedInPageAsync(user, width: 390);
        await DashboardBrowser.WithScreenshotOnFailureAsync(page, nameof(ApiKey_CreatedWithCheckedScopes_IsShownOnceOnly), async () =>
        {
            await page.GetByRole(AriaRole.Link, new() { Name = "API keys" }).ClickAsync();
            await page.GetByLabel("Name").FillAsync("ci key");
            await page.GetByLabel("projects:read").CheckAsync();
            await page.GetByLabel("deployments:read").CheckAsync();
            await page.GetByRole(AriaRole.Button, new() { Name = "Create key" }).ClickAsync();
            var key = (await page.Locator("#created-key").TextContentAsync())!;
            Assert.StartsWith("slp_", key);
            Assert.Equal(1, await page.GetByRole(AriaRole.Button, new() { Name = "Copy" }).CountAsync());

            (await Server.GetAsync("/api/v1/projects", key)).AssertStatus(200);
            (await Server.PostAsync("/api/v1/projects", new { name = "nope", repo_url = "https://example.com/a.git" }, key)).AssertError(403, "insufficient_scope");
            var listed = Assert.Single((await Server.GetAsync("/api/v1/api-keys", user.Token)).AssertStatus(200).Json["data"]!.AsArray())!;
            Assert.Equal(["deployments:read", "projects:read"], listed["scopes"]!.AsArray().Select(s => s!.GetValue<string>()).Order());

            await page.ReloadAsync();
            await page.GotoAsync("/keys");
            Assert.Contains("ci key", await page.ContentAsync());
            Assert.DoesNotContain(key, await page.ContentAsync());
            Assert.Equal(0, await page.Locator("#created-key").CountAsync());
        });
    }

    [Fact]
    public async Task Viewer_SeesNoWriteButtons_AndADirectPostFromTheirSessionIsRefused()
    {
        var owner = await Server.RegisterUserAsync();
        var viewer = await Server.RegisterUserAsync();
        (await Server.PostAsync($"/api/v1/workspaces/{owner.WorkspaceId}/members", new { email = viewer.Email, role = "viewer" }, owner.Token)).AssertStatus(201);
        var projectId = (await Server.CreateProjectAsync(owner.Token))["id"]!.GetValue<string>();
        (await Server.PostAsync("/api/v1/env", new { project_id = projectId, key = "SECRET", value = "v" }, owner.Token)).AssertStatus(201);
        var page = await browser.SignedInPageAsync(viewer);
        await DashboardBrowser.WithScreenshotOnFailureAsync(page, nameof(Viewer_SeesNoWriteButtons_AndADirectPostFromTheirSessionIsRefused), async () =>
        {
            await page.GotoAsync($"/projects/{projectId}");
            await page.Locator("#live-status").WaitForAsync();
            Assert.Equal(0, await page.GetByRole(AriaRole.Link, new() { Name = "Deploy" }).CountAsync());
            await page.GotoAsync($"/projects/{projectId}/env");
            await page.Locator("td code", new() { HasText = "SECRET" }).WaitForAsync();
            Assert.Equal(0, await page.GetByRole(AriaRole.Button, new() { Name = "Save" }).CountAsync());
            Assert.Equal(0, await page.GetByRole(AriaRole.Button, new() { Name = "Delete SECRET" }).CountAsync());

            // The viewer's own session and a valid antiforgery token (from the sign-out form): the API still refuses.
            var token = await page.Locator("input[name=__RequestVerificationToken]").First.InputValueAsync();
            var response = await page.Context.APIRequest.PostAsync($"/projects/{projectId}?confirm=deploy", new()
            {
                Form = page.Context.APIRequest.CreateFormData().Set("_handler", "confirm").Set("Action", "deploy").Set("Deployment", "")
                    .Set("__RequestVerificationToken", token),
            });
            Assert.Equal(403, response.Status);
            Assert.Contains("role", await response.TextAsync(), StringComparison.OrdinalIgnoreCase);
            Assert.Empty((await Server.GetAsync($"/api/v1/deployments?project_id={projectId}", owner.Token)).Json["data"]!.AsArray());
        });
    }

    [Fact]
    public async Task CrossSiteFormPost_IsRefused_AndTheSessionCookieNeverAuthenticatesTheApi()
    {
        var user = await Server.RegisterUserAsync();
        var page = await browser.SignedInPageAsync(user);
        var site = Server.BaseAddress.ToString().TrimEnd('/');
        await DashboardBrowser.WithScreenshotOnFailureAsync(page, nameof(CrossSiteFormPost_IsRefused_AndTheSessionCookieNeverAuthenticatesTheApi), async () =>
        {
            // A page on another origin posting a form to the dashboard, as an attacker's site would.
            await page.GotoAsync("about:blank");
            await page.SetContentAsync($"""
                <form method="post" action="{site}/"><input name="_handler" value="create-project" /><input name="Name" value="evil" />
                <input name="RepoUrl" value="https://example.com/evil.git" /></form>
                """);
            var refused = await page.RunAndWaitForResponseAsync(() => page.EvaluateAsync("document.forms[0].submit()"), r => r.Url.StartsWith(site, StringComparison.Ordinal));
            Assert.Equal(400, refused.Status);

            // Same-site, with the session cookie but without the form's token.
            var noToken = await page.Context.APIRequest.PostAsync(site + "/", new()
            {
                Form = page.Context.APIRequest.CreateFormData().Set("_handler", "create-project").Set("Name", "evil").Set("RepoUrl", "https://example.com/evil.git"),
            });
            Assert.Equal(400, noToken.Status);
            Assert.Contains("antiforgery", await noToken.TextAsync(), StringComparison.Ordinal);
            Assert.Empty((await Server.GetAsync("/api/v1/projects", user.Token)).Json["data"]!.AsArray());

            // The cookie is the dashboard's: the API answers it as it answers no credentials at all.
            var api = await page.Context.APIRequest.GetAsync(site + "/api/v1/projects");
            Assert.Equal(401, api.Status);
            var cookie = Assert.Single(await page.Context.CookiesAsync(), c => c.Name == "slipway_session");
            Assert.True(cookie.HttpOnly);
            Assert.Equal(SameSiteAttribute.Strict, cookie.SameSite);
            Assert.Equal("/", cookie.Path);
        });
    }
}
