using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Slipway.Server.Data;
using Slipway.Server.Tests.ApiKeys;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Security;

public sealed class TriagingUploadedSarifTests
{
    private static readonly JsonObject[] Rules =
    [
        SecurityIntents.Rule("js/eval", "8.8", "security", "external/cwe/cwe-095"),
        SecurityIntents.Rule("js/weak-hash", null, "security", "CWE-328"),
    ];

    private static string TwoFindings(bool withEval = true, bool withHash = true, string? automationId = null) => SecurityIntents.Sarif("eslint",
        [
            .. withEval ? [SecurityIntents.Result("js/eval", "src/app.js", 12, "aaa:1", "error", snippet: "eval(input);")] : Array.Empty<JsonObject>(),
            .. withHash ? [SecurityIntents.Result("js/weak-hash", "lib/hash.js", 3, "bbb:1")] : Array.Empty<JsonObject>(),
        ], automationId, Rules);

    [Fact]
    public async Task Upload_ValidSarif_StoresACompletedScanAndItsFindings()
    {
        await using var server = await SlipwayServer.StartAsync();
        var user = await server.RegisterUserAsync();
        var repo = (await server.CreateProjectAsync(user.Token)).Id();
        var sha = new string('a', 40);

        var response = await server.UploadSarifAsync(user.Token, repo, TwoFindings(), $"?commit_sha={sha}&ref=refs/heads/main");

        var scan = response.AssertStatus(202).Json;
        Assert.Equal("completed", scan["status"]!.GetValue<string>());
        Assert.Equal("upload", scan["source"]!.GetValue<string>());
        Assert.Equal(sha, scan["commit_sha"]!.GetValue<string>());
        Assert.Equal(["eslint"], scan["tools"]!.AsArray().Select(t => t!.GetValue<string>()));
        Assert.Equal(2, scan["counts"]!["new"]!.GetValue<int>());
        Assert.EndsWith($"/api/v1/scans/{scan.Id()}", response.Header("Location"), StringComparison.Ordinal);

        var findings = await server.FindingsAsync(user.Token, repo);
        Assert.Equal(2, findings.Count);
        var eval = findings.Single(f => f!["rule"]!["id"]!.GetValue<string>() == "js/eval")!;
        Assert.Equal("high", eval["severity"]!.GetValue<string>());
        Assert.Equal(8.8, eval["security_severity"]!.GetValue<double>());
        Assert.Equal("open", eval["state"]!.GetValue<string>());
        Assert.Equal(["CWE-95"], eval["rule"]!["cwe"]!.AsArray().Select(c => c!.GetValue<string>()));
        Assert.Equal("src/app.js", eval["location"]!["path"]!.GetValue<string>());
        Assert.Equal("needs_review", eval["triage"]!["classification"]!.GetValue<string>());
        Assert.Equal("auto", eval["triage"]!["source"]!.GetValue<string>());
        Assert.Equal("medium", findings.Single(f => f!["rule"]!["id"]!.GetValue<string>() == "js/weak-hash")!["severity"]!.GetValue<string>());

        var detail = (await server.GetAsync($"/api/v1/findings/{eval.Id()}", user.Token)).AssertStatus(200).Json;
        Assert.Equal("How to fix js/eval", detail["rule"]!["help"]!.GetValue<string>());
        Assert.Equal("eval(input);", detail["locations"]![0]!["snippet"]!.GetValue<string>());
        Assert.Equal(scan.Id(), detail["first_scan_id"]!.GetValue<string>());
        var history = detail["history"]!.AsArray();
        Assert.Equal("open", Assert.Single(history)!["to"]!.GetValue<string>());

        var repository = (await server.GetAsync($"/api/v1/repositories/{repo}", user.Token)).AssertStatus(200).Json;
        Assert.Equal(1, repository["open_findings"]!["high"]!.GetValue<int>());
        Assert.Equal(1, repository["open_findings"]!["medium"]!.GetValue<int>());
        Assert.Equal(2, repository["open_findings"]!["total"]!.GetValue<int>());
        Assert.Equal(scan.Id(), repository["last_scan"]!.Id());
    }

    [Fact]
    public async Task Rescan_SameFile_KeepsEveryFinding_AndAMissingOneIsFixed_ThenReopened()
    {
        await using var server = await SlipwayServer.StartAsync();
        var user = await server.RegisterUserAsync();
        var repo = (await server.CreateProjectAsync(user.Token)).Id();
        await server.UploadSarifAsync(user.Token, repo, TwoFindings());
        var ids = (await server.FindingsAsync(user.Token, repo)).Select(f => f!.Id()).Order().ToList();

        var again = (await server.UploadSarifAsync(user.Token, repo, TwoFindings())).AssertStatus(202).Json;
        Assert.Equal((0, 0, 2), Counts(again));
        Assert.Equal(ids, (await server.FindingsAsync(user.Token, repo)).Select(f => f!.Id()).Order());
        // Findings whose description did not change are stamped with the rescan all the same.
        Assert.All(await server.FindingsAsync(user.Token, repo), f => Assert.Equal(again.Id(), f!["last_scan_id"]!.GetValue<string>()));

        var without = (await server.UploadSarifAsync(user.Token, repo, TwoFindings(withEval: false))).AssertStatus(202).Json;
        Assert.Equal((0, 1, 1), Counts(without));
        var fixedOne = Assert.Single(await server.FindingsAsync(user.Token, repo, "&state=fixed"))!;
        Assert.Equal("js/eval", fixedOne["rule"]!["id"]!.GetValue<string>());
        Assert.NotNull(fixedOne["fixed_at"]!.GetValue<string>());

        var back = (await server.UploadSarifAsync(user.Token, repo, TwoFindings())).AssertStatus(202).Json;
        Assert.Equal((1, 0, 1), Counts(back));
        var reopened = (await server.GetAsync($"/api/v1/findings/{fixedOne.Id()}", user.Token)).AssertStatus(200).Json;
        Assert.Equal("open", reopened["state"]!.GetValue<string>());
        Assert.Equal(["open", "fixed", "open"], reopened["history"]!.AsArray().Select(h => h!["to"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Upload_WithCommitSha_TakesSnippetsAndLineHashesFromThatCommit_SoMovedCodeKeepsItsFinding()
    {
        const string code = "const a = 1;\nfunction run(input) {\n  return eval(input);\n}\n";
        using var repo = GitRepo.Create();
        var first = repo.Commit("vulnerable", new Dictionary<string, string> { ["src/app.js"] = code });
        await using var server = await SlipwayServer.StartAsync();
        var user = await server.RegisterUserAsync();
        var project = (await server.CreateProjectAsync(user.Token, extra: new { repo_url = repo.BarePath })).Id();
        // Like a CI's SARIF: no snippet, no fingerprint; the line is all it says.
        static string At(int line) => SecurityIntents.Sarif("eslint", [WithoutFingerprint(SecurityIntents.Result("js/eval", "src/app.js", line, "unused"))], rules: Rules);

        var scan = (await server.UploadSarifAsync(user.Token, project, At(3), $"?commit_sha={first}")).AssertStatus(202).Json;
        Assert.Equal(first, scan["commit_sha"]!.GetValue<string>());
        var finding = Assert.Single(await server.FindingsAsync(user.Token, project))!;
        var detail = (await server.GetAsync($"/api/v1/findings/{finding.Id()}", user.Token)).AssertStatus(200).Json;
        Assert.Equal("  return eval(input);", detail["locations"]![0]!["snippet"]!.GetValue<string>());
        Assert.Matches("^src/app.js:[0-9a-f]{16}:1$", detail["fingerprint"]!.GetValue<string>());

        var moved = repo.Commit("move down", new Dictionary<string, string> { ["src/app.js"] = string.Concat(Enumerable.Repeat("// note\n", 10)) + code });
        var again = (await server.UploadSarifAsync(user.Token, project, At(13), $"?commit_sha={moved}")).AssertStatus(202).Json;
        Assert.Equal((0, 0, 1), Counts(again));
        var after = (await server.GetAsync($"/api/v1/findings/{finding.Id()}", user.Token)).AssertStatus(200).Json;
        Assert.Equal(13, after["location"]!["start_line"]!.GetValue<int>());
        Assert.Equal("  return eval(input);", after["location"]!["snippet"]!.GetValue<string>());

        // A commit the repository does not have: the upload still lands, with what the SARIF file says.
        var unknown = (await server.UploadSarifAsync(user.Token, project, TwoFindings(), $"?commit_sha={new string('a', 40)}")).AssertStatus(202).Json;
        Assert.Equal("completed", unknown["status"]!.GetValue<string>());
        var eval = (await server.FindingsAsync(user.Token, project, "&rule=js/eval")).Single(f => f!["location"]!["path"]!.GetValue<string>() == "src/app.js"
            && f["location"]!["start_line"]!.GetValue<int>() == 12)!;
        Assert.Equal("eval(input);", eval["location"]!["snippet"]!.GetValue<string>());
        Assert.Empty(Directory.EnumerateDirectories(Path.Combine(server.DataDirectory, "work")));
    }

    [Fact]
    public async Task Upload_RunWithItsResultsBeforeItsTool_IsReadInTwoPasses_AndStoredOnce()
    {
        await using var server = await SlipwayServer.StartAsync();
        var user = await server.RegisterUserAsync();
        var repo = (await server.CreateProjectAsync(user.Token)).Id();
        var run = JsonNode.Parse(TwoFindings())!["runs"]![0]!.AsObject();
        var reordered = new JsonObject { ["version"] = "2.1.0", ["runs"] = new JsonArray(new JsonObject
        {
            ["results"] = run["results"]!.DeepClone(), ["tool"] = run["tool"]!.DeepClone(),
        }) };

        var scan = (await server.UploadSarifAsync(user.Token, repo, reordered.ToJsonString())).AssertStatus(202).Json;

        Assert.Equal((2, 0, 0), Counts(scan));
        var findings = await server.FindingsAsync(user.Token, repo);
        Assert.Equal(["js/eval", "js/weak-hash"], findings.Select(f => f!["rule"]!["id"]!.GetValue<string>()).Order());
        Assert.Equal("Rule js/eval", findings.Single(f => f!["rule"]!["id"]!.GetValue<string>() == "js/eval")!["rule"]!["description"]!.GetValue<string>());
    }

    private static JsonObject WithoutFingerprint(JsonObject result)
    {
        result.Remove("partialFingerprints");
        return result;
    }

    [Fact]
    public async Task Rescan_OfAnotherCategory_DoesNotFixTheFirstCategorysFindings()
    {
        await using var server = await SlipwayServer.StartAsync();
        var user = await server.RegisterUserAsync();
        var repo = (await server.CreateProjectAsync(user.Token)).Id();
        await server.UploadSarifAsync(user.Token, repo, TwoFindings(), "?category=frontend");

        var other = (await server.UploadSarifAsync(user.Token, repo, TwoFindings(withEval: false, withHash: false), "?category=backend")).AssertStatus(202).Json;

        Assert.Equal((0, 0, 0), Counts(other));
        Assert.Equal(2, (await server.FindingsAsync(user.Token, repo, "&state=open")).Count);
        Assert.All(await server.FindingsAsync(user.Token, repo), f => Assert.Equal("frontend", f!["category"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Dismissal_SurvivesRescans_AndIsNeverMarkedFixed()
    {
        await using var server = await SlipwayServer.StartAsync();
        var user = await server.RegisterUserAsync();
        var repo = (await server.CreateProjectAsync(user.Token)).Id();
        await server.UploadSarifAsync(user.Token, repo, TwoFindings());
        var eval = (await server.FindingsAsync(user.Token, repo, "&rule=js/eval")).Single()!;

        var dismissed = (await server.PatchAsync($"/api/v1/findings/{eval.Id()}",
            new { state = "dismissed", dismissed_reason = "false_positive", comment = "input is a constant" }, user.Token)).AssertStatus(200).Json;
        Assert.Equal("dismissed", dismissed["state"]!.GetValue<string>());
        Assert.Equal("false_positive", dismissed["triage"]!["classification"]!.GetValue<string>());
        Assert.Equal("user", dismissed["triage"]!["source"]!.GetValue<string>());
        Assert.Equal("input is a constant", dismissed["triage"]!["rationale"]!.GetValue<string>());

        await server.UploadSarifAsync(user.Token, repo, TwoFindings());
        await server.UploadSarifAsync(user.Token, repo, TwoFindings(withEval: false));
        await server.UploadSarifAsync(user.Token, repo, TwoFindings());

        var after = (await server.GetAsync($"/api/v1/findings/{eval.Id()}", user.Token)).AssertStatus(200).Json;
        Assert.Equal("dismissed", after["state"]!.GetValue<string>());
        Assert.Equal("false_positive", after["dismissed_reason"]!.GetValue<string>());
        Assert.Equal("user", after["triage"]!["source"]!.GetValue<string>());

        var reopened = (await server.PatchAsync($"/api/v1/findings/{eval.Id()}", new { state = "open" }, user.Token)).AssertStatus(200).Json;
        Assert.Equal("open", reopened["state"]!.GetValue<string>());
        Assert.Equal("true_positive", reopened["triage"]!["classification"]!.GetValue<string>());
    }

    [Fact]
    public async Task Patch_InvalidValues_Are400WithDetails()
    {
        await using var server = await SlipwayServer.StartAsync();
        var user = await server.RegisterUserAsync();
        var repo = (await server.CreateProjectAsync(user.Token)).Id();
        await server.UploadSarifAsync(user.Token, repo, TwoFindings());
        var id = (await server.FindingsAsync(user.Token, repo)).First()!.Id();

        (await server.PatchAsync($"/api/v1/findings/{id}", new { state = "dismissed" }, user.Token)).AssertError(400, "validation_failed");
        (await server.PatchAsync($"/api/v1/findings/{id}", new { state = "fixed" }, user.Token)).AssertError(400, "validation_failed");
        (await server.PatchAsync($"/api/v1/findings/{id}", new { state = "dismissed", dismissed_reason = "bored" }, user.Token)).AssertError(400, "validation_failed");
        (await server.PatchAsync($"/api/v1/findings/{id}", new { state = "open", dismissed_reason = "wont_fix" }, user.Token)).AssertError(400, "validation_failed");
        (await server.GetAsync($"/api/v1/repositories/{repo}/findings?state=closed", user.Token)).AssertError(400, "validation_failed");
    }

    [Fact]
    public async Task AutoTriage_TestAndVendoredPaths_AreClassifiedWithARationale()
    {
        await using var server = await SlipwayServer.StartAsync();
        var user = await server.RegisterUserAsync();
        var repo = (await server.CreateProjectAsync(user.Token)).Id();
        var sarif = SecurityIntents.Sarif("eslint",
        [
            SecurityIntents.Result("js/eval", "test/helpers/setup.js", 4, "t:1"),
            SecurityIntents.Result("js/eval", "public/vendor/jquery.min.js", 1, "v:1"),
        ], rules: Rules);

        await server.UploadSarifAsync(user.Token, repo, sarif);

        var findings = await server.FindingsAsync(user.Token, repo);
        var inTests = findings.Single(f => f!["location"]!["path"]!.GetValue<string>().StartsWith("test/", StringComparison.Ordinal))!["triage"]!;
        Assert.Equal("used_in_tests", inTests["classification"]!.GetValue<string>());
        Assert.Contains("test/helpers/setup.js", inTests["rationale"]!.GetValue<string>(), StringComparison.Ordinal);
        var vendored = findings.Single(f => f!["location"]!["path"]!.GetValue<string>().Contains("vendor", StringComparison.Ordinal))!["triage"]!;
        Assert.Equal("wont_fix", vendored["classification"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("""{"version": "2.1.0", "runs": [""", "not valid JSON")]
    [InlineData("""{"version": "2.0.0", "runs": []}""", "version '2.0.0' is not supported")]
    [InlineData("""{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"ruleId": "r"}]}]}""", "runs[0].results[0].message.text is required")]
    public async Task Upload_InvalidSarif_Is422NamingTheProblem_AndStoresNothing(string sarif, string expected)
    {
        await using var server = await SlipwayServer.StartAsync();
        var user = await server.RegisterUserAsync();
        var repo = (await server.CreateProjectAsync(user.Token)).Id();

        var response = await server.UploadSarifAsync(user.Token, repo, sarif);

        response.AssertError(422, "rejected");
        Assert.Contains(expected, response.Json["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Empty((await server.GetAsync($"/api/v1/repositories/{repo}/scans", user.Token)).AssertStatus(200).Json["data"]!.AsArray());
    }

    [Fact]
    public async Task Upload_RunOf30000Results_Is413_AndStoresNothing()
    {
        await using var server = await SlipwayServer.StartAsync();
        var user = await server.RegisterUserAsync();
        var repo = (await server.CreateProjectAsync(user.Token)).Id();
        var sarif = SecurityIntents.Sarif("eslint", Enumerable.Range(0, 30_000).Select(i => SecurityIntents.Result("js/eval", $"f{i % 100}.js", i + 1, $"h{i}:1")), rules: Rules);

        var response = await server.UploadSarifAsync(user.Token, repo, sarif, gzip: true);

        response.AssertError(413, "payload_too_large");
        Assert.Contains("25,000", response.Json["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Empty(await server.FindingsAsync(user.Token, repo));
        Assert.Empty((await server.GetAsync($"/api/v1/repositories/{repo}/scans", user.Token)).AssertStatus(200).Json["data"]!.AsArray());
    }

    [Fact]
    public async Task Upload_GzipBomb_Is413_AndLeavesNoSpoolFile()
    {
        await using var server = await SlipwayServer.StartAsync(new Dictionary<string, string?> { ["Slipway:Security:MaxDocumentBytes"] = "1048576" });
        var user = await server.RegisterUserAsync();
        var repo = (await server.CreateProjectAsync(user.Token)).Id();
        var padding = new string(' ', 20 * 1024 * 1024);
        var bomb = "{\"version\": \"2.1.0\"," + padding + "\"runs\": []}";

        var response = await server.UploadSarifAsync(user.Token, repo, bomb, gzip: true);

        response.AssertError(413, "payload_too_large");
        Assert.Contains("decompresses to more than 1 MB", response.Json["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(server.DataDirectory, "tmp"), "sarif-*"));
    }

    [Fact]
    public async Task Upload_Gzipped_IsAccepted()
    {
        await using var server = await SlipwayServer.StartAsync();
        var user = await server.RegisterUserAsync();
        var repo = (await server.CreateProjectAsync(user.Token)).Id();

        var scan = (await server.UploadSarifAsync(user.Token, repo, TwoFindings(), gzip: true, mediaType: "application/json")).AssertStatus(202).Json;

        Assert.Equal(2, scan["results"]!.GetValue<int>());
    }

    [Fact]
    public async Task Upload_BadInput_IsRefusedAtTheEdge()
    {
        await using var server = await SlipwayServer.StartAsync();
        var user = await server.RegisterUserAsync();
        var repo = (await server.CreateProjectAsync(user.Token)).Id();

        (await server.UploadSarifAsync(user.Token, repo, TwoFindings(), mediaType: "text/plain")).AssertError(415, "unsupported_media_type");
        (await server.UploadSarifAsync(user.Token, repo, TwoFindings(), "?commit_sha=abc")).AssertError(400, "validation_failed");
        var readOnly = await server.KeyAsync(user.Token, ["security:read"]);
        (await server.UploadSarifAsync(readOnly, repo, TwoFindings())).AssertError(403, "insufficient_scope");
    }

    [Fact]
    public async Task AnotherWorkspacesRepository_Is404Everywhere()
    {
        await using var server = await SlipwayServer.StartAsync();
        var owner = await server.RegisterUserAsync();
        var stranger = await server.RegisterUserAsync();
        var repo = (await server.CreateProjectAsync(owner.Token)).Id();
        var scan = (await server.UploadSarifAsync(owner.Token, repo, TwoFindings())).AssertStatus(202).Json.Id();
        var finding = (await server.FindingsAsync(owner.Token, repo)).First()!.Id();

        (await server.UploadSarifAsync(stranger.Token, repo, TwoFindings())).AssertError(404, "not_found");
        (await server.GetAsync($"/api/v1/repositories/{repo}", stranger.Token)).AssertError(404, "not_found");
        (await server.GetAsync($"/api/v1/repositories/{repo}/findings", stranger.Token)).AssertError(404, "not_found");
        (await server.GetAsync($"/api/v1/repositories/{repo}/scans", stranger.Token)).AssertError(404, "not_found");
        (await server.GetAsync($"/api/v1/scans/{scan}", stranger.Token)).AssertError(404, "not_found");
        (await server.GetAsync($"/api/v1/findings/{finding}", stranger.Token)).AssertError(404, "not_found");
        (await server.PatchAsync($"/api/v1/findings/{finding}", new { state = "dismissed", dismissed_reason = "wont_fix" }, stranger.Token)).AssertError(404, "not_found");
        Assert.DoesNotContain(repo, (await server.GetAsync("/api/v1/repositories", stranger.Token)).AssertStatus(200).Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ingestion_WritesFindingAndScanEvents()
    {
        await using var server = await SlipwayServer.StartAsync();
        var user = await server.RegisterUserAsync();
        var repo = (await server.CreateProjectAsync(user.Token)).Id();
        await server.UploadSarifAsync(user.Token, repo, TwoFindings());
        await server.UploadSarifAsync(user.Token, repo, TwoFindings(withHash: false));

        await using var scope = server.Service<IServiceScopeFactory>().CreateAsyncScope();
        var types = await scope.ServiceProvider.GetRequiredService<SlipwayDb>().Events.Where(e => e.ProjectId == repo)
            .OrderBy(e => e.Id).Select(e => e.Type).ToListAsync();

        Assert.Equal(["finding.created", "finding.created", "scan.completed", "finding.state_changed", "scan.completed"], types);
    }

    private static (int New, int Fixed, int Unchanged) Counts(JsonNode scan) =>
        (scan["counts"]!["new"]!.GetValue<int>(), scan["counts"]!["fixed"]!.GetValue<int>(), scan["counts"]!["unchanged"]!.GetValue<int>());
}
