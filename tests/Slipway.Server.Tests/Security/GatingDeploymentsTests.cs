using Slipway.Server.Tests.ApiKeys;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Security;

public sealed class GatingDeploymentsTests
{
    [Fact]
    public async Task ScanOnDeploy_NewHighFindingFailsTheDeployment_CleanOnePasses()
    {
        using var repo = GitRepo.Create();
        var site = SampleApps.Static("gated");
        site["app.js"] = "export const answer = 42;\n";
        repo.Commit("clean", site);
        await using var server = await SlipwayServer.StartAsync();
        var user = await server.RegisterUserAsync();
        var project = (await server.CreateProjectAsync(user.Token, extra: new { repo_url = repo.BarePath, framework = "static" })).Id();
        (await server.PatchAsync($"/api/v1/repositories/{project}",
            new { security = new { scanners = Eslint, scan_on_deploy = true, block_on = "high" } }, user.Token)).AssertStatus(200);

        var clean = await server.DeployAsync(user.Token, project);
        var passed = await server.WaitForStatusAsync(user.Token, clean.Id(), TimeSpan.FromSeconds(90), "ready");
        Assert.Equal("ready", passed["status"]!.GetValue<string>());

        site["app.js"] = "export function run(input) {\n  return eval(input);\n}\n";
        repo.Commit("add eval", site);
        var risky = await server.DeployAsync(user.Token, project);
        var failed = await server.WaitForStatusAsync(user.Token, risky.Id(), TimeSpan.FromSeconds(90), "failed");

        var error = failed["error"]!.GetValue<string>();
        Assert.Contains("1 new finding(s) at or above high", error, StringComparison.Ordinal);
        Assert.Contains("security/detect-eval-with-expression (app.js:2)", error, StringComparison.Ordinal);
        var log = (await server.GetAsync($"/api/v1/logs/{risky.Id()}?limit=1000", user.Token)).AssertStatus(200).Body;
        Assert.Contains("HIGH security/detect-eval-with-expression at app.js:2", log, StringComparison.Ordinal);
        var scans = (await server.GetAsync($"/api/v1/repositories/{project}/scans", user.Token)).AssertStatus(200).Json["data"]!.AsArray();
        Assert.Equal(risky.Id(), scans[0]!["deployment_id"]!.GetValue<string>());
        Assert.Equal("deployment", scans[0]!["source"]!.GetValue<string>());

        var finding = Assert.Single(await server.FindingsAsync(user.Token, project, "&severity=high"))!;
        (await server.PatchAsync($"/api/v1/findings/{finding.Id()}", new { state = "dismissed", dismissed_reason = "wont_fix" }, user.Token)).AssertStatus(200);
        var again = await server.DeployAsync(user.Token, project);
        Assert.Equal("ready", (await server.WaitForStatusAsync(user.Token, again.Id(), TimeSpan.FromSeconds(90), "ready"))["status"]!.GetValue<string>());
    }

    private static readonly string[] Eslint = ["eslint"];
}
