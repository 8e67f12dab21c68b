using System.Text.Json.Nodes;
using Slipway.Server.Tests.ApiKeys;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Security;

/// <summary>Real scanners (ESLint + eslint-plugin-security, secretlint, flawfinder) over real local repositories.</summary>
public sealed class ScanningRepositoriesTests
{
    private static readonly string[] EslintAndFlawfinder = ["eslint", "flawfinder"];
    private static readonly string[] Nope = ["nope"];
    private static readonly string[] Presets = ["eslint", "secretlint", "flawfinder"];
    private static readonly string[] SecurityRead = ["security:read"];

    private const string VulnerableJs = """
        const fs = require("fs");
        function run(userInput) {
          return eval(userInput);
        }
        function load(name) {
          return fs.readFileSync(name);
        }
        module.exports = { run, load };
        """;

    private static string WithoutEval => VulnerableJs.Replace("  return eval(userInput);\n", "  return String(userInput);\n", StringComparison.Ordinal);

    [Fact]
    public async Task Eslint_MovingCodeKeepsIdentity_DeletingTheLineFixesIt_RestoringReopensIt()
    {
        using var repo = GitRepo.Create();
        repo.Commit("vulnerable", new Dictionary<string, string> { ["src/app.js"] = VulnerableJs });
        await using var server = await SlipwayServer.StartAsync();
        var user = await server.RegisterUserAsync();
        var project = (await server.CreateProjectAsync(user.Token, extra: new { repo_url = repo.BarePath })).Id();
        await server.UseScannersAsync(user.Token, project, "eslint");

        var first = await ScanAsync(server, user.Token, project);
        Assert.Equal(["ESLint"], first["tools"]!.AsArray().Select(t => t!.GetValue<string>()));
        var findings = await server.FindingsAsync(user.Token, project);
        var eval = findings.Single(f => f!["rule"]!["id"]!.GetValue<string>() == "security/detect-eval-with-expression")!;
        Assert.Equal("high", eval["severity"]!.GetValue<string>());
        Assert.Equal(3, eval["location"]!["start_line"]!.GetValue<int>());
        Assert.Contains("eval(userInput)", eval["location"]!["snippet"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains(findings, f => f!["rule"]!["id"]!.GetValue<string>() == "security/detect-non-literal-fs-filename");
        var ids = findings.Select(f => f!.Id()).Order().ToList();

        var header = string.Concat(Enumerable.Range(1, 10).Select(i => $"// note {i}\n"));
        repo.Commit("move down", new Dictionary<string, string> { ["src/app.js"] = header + VulnerableJs });
        var moved = await ScanAsync(server, user.Token, project);
        Assert.Equal((0, 0, ids.Count), Counts(moved));
        Assert.Equal(ids, (await server.FindingsAsync(user.Token, project)).Select(f => f!.Id()).Order());
        var evalMoved = (await server.GetAsync($"/api/v1/findings/{eval.Id()}", user.Token)).AssertStatus(200).Json;
        Assert.Equal(13, evalMoved["location"]!["start_line"]!.GetValue<int>());

        repo.Commit("remove eval", new Dictionary<string, string> { ["src/app.js"] = header + WithoutEval });
        var removed = await ScanAsync(server, user.Token, project);
        Assert.Equal(1, Counts(removed).Fixed);
        Assert.Equal("fixed", (await server.GetAsync($"/api/v1/findings/{eval.Id()}", user.Token)).Json["state"]!.GetValue<string>());

        repo.Commit("restore eval", new Dictionary<string, string> { ["src/app.js"] = header + VulnerableJs });
        var restored = await ScanAsync(server, user.Token, project);
        Assert.Equal(1, Counts(restored).New);
        Assert.Equal("open", (await server.GetAsync($"/api/v1/findings/{eval.Id()}", user.Token)).Json["state"]!.GetValue<string>());
    }

    [Fact]
    public async Task Secretlint_FakeToken_IsAFinding_AndTheTokenIsStoredNowhere()
    {
        const string token = "xoxb-123456789012-1234567890123-abcdefghijklmnopqrstuvwx";
        using var repo = GitRepo.Create();
        repo.Commit("config", new Dictionary<string, string> { ["src/config.js"] = $"module.exports = {{\n  slack: \"{token}\",\n}};\n" });
        await using var server = await SlipwayServer.StartAsync();
        var user = await server.RegisterUserAsync();
        var project = (await server.CreateProjectAsync(user.Token, extra: new { repo_url = repo.BarePath })).Id();
        await server.UseScannersAsync(user.Token, project, "secretlint");

        await ScanAsync(server, user.Token, project);

        var list = await server.GetAsync($"/api/v1/repositories/{project}/findings", user.Token);
        var finding = Assert.Single(list.AssertStatus(200).Json["data"]!.AsArray())!;
        Assert.Equal("secretlint", finding["tool"]!.GetValue<string>());
        Assert.Contains("slack", finding["rule"]!["id"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("high", finding["severity"]!.GetValue<string>());
        Assert.Equal(2, finding["location"]!["start_line"]!.GetValue<int>());
        Assert.Contains("****", finding["location"]!["snippet"]!.GetValue<string>(), StringComparison.Ordinal);
        var detail = await server.GetAsync($"/api/v1/findings/{finding.Id()}", user.Token);
        Assert.DoesNotContain(token, list.Body, StringComparison.Ordinal);
        Assert.DoesNotContain(token, detail.Body, StringComparison.Ordinal);
        Assert.False(StoredBytes.Contains(await StoredBytes.ReadAsync(server), token), "the database holds the token in plaintext");
    }

    [Fact]
    public async Task Flawfinder_CFile_FindsTheUnboundedCopyWithItsCwe()
    {
        using var repo = GitRepo.Create();
        repo.Commit("c", new Dictionary<string, string>
        {
            ["main.c"] = "#include <string.h>\nvoid copy(char *input) {\n    char buffer[16];\n    strcpy(buffer, input);\n}\n",
        });
        await using var server = await SlipwayServer.StartAsync();
        var user = await server.RegisterUserAsync();
        var project = (await server.CreateProjectAsync(user.Token, extra: new { repo_url = repo.BarePath })).Id();
        await server.UseScannersAsync(user.Token, project, "flawfinder");

        await ScanAsync(server, user.Token, project);

        var strcpy = (await server.FindingsAsync(user.Token, project)).Single(f => f!["location"]!["start_line"]!.GetValue<int>() == 4)!;
        Assert.Equal("Flawfinder", strcpy["tool"]!.GetValue<string>());
        Assert.Equal("high", strcpy["severity"]!.GetValue<string>());
        Assert.Contains("CWE-120", strcpy["rule"]!["cwe"]!.AsArray().Select(c => c!.GetValue<string>()));
        Assert.Contains("strcpy", strcpy["location"]!["snippet"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Scan_OlderCommit_ScansThatCommit()
    {
        using var repo = GitRepo.Create();
        var old = repo.Commit("vulnerable", new Dictionary<string, string> { ["src/app.js"] = VulnerableJs });
        repo.Commit("clean", new Dictionary<string, string> { ["src/app.js"] = "module.exports = 1;\n" });
        await using var server = await SlipwayServer.StartAsync();
        var user = await server.RegisterUserAsync();
        var project = (await server.CreateProjectAsync(user.Token, extra: new { repo_url = repo.BarePath })).Id();
        await server.UseScannersAsync(user.Token, project, "eslint");

        var head = await ScanAsync(server, user.Token, project);
        var atOld = await ScanAsync(server, user.Token, project, new { commit_sha = old });

        Assert.Equal(0, head["results"]!.GetValue<int>());
        Assert.Equal(old, atOld["commit_sha"]!.GetValue<string>());
        Assert.True(atOld["results"]!.GetValue<int>() >= 2);
    }

    [Fact]
    public async Task Scan_UnreachableRepository_EndsFailedWithTheReason()
    {
        await using var server = await SlipwayServer.StartAsync();
        var user = await server.RegisterUserAsync();
        var project = (await server.CreateProjectAsync(user.Token, extra: new { repo_url = "/nonexistent/repo.git" })).Id();

        var scan = await ScanAsync(server, user.Token, project, expected: "failed");

        Assert.False(string.IsNullOrEmpty(scan["error"]!.GetValue<string>()));
        Assert.Empty(await server.FindingsAsync(user.Token, project));
    }

    [Fact]
    public async Task OperatorScanner_WritesSarif_AndOneThatWritesNone_FailsTheScan()
    {
        using var repo = GitRepo.Create();
        repo.Commit("init", new Dictionary<string, string> { ["README.md"] = "hello\nworld\n" });
        var sarif = SecurityIntents.Sarif("house-tool", [SecurityIntents.Result("house/rule", "README.md", 2, "x:1", "error")]);
        await using var server = await SlipwayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Slipway:Security:Scanners:house:Command"] = $"printf '%s' '{sarif}' > \"$SARIF_OUTPUT\"",
            ["Slipway:Security:Scanners:silent:Command"] = "echo nothing to say",
        });
        var user = await server.RegisterUserAsync();
        var project = (await server.CreateProjectAsync(user.Token, extra: new { repo_url = repo.BarePath })).Id();

        await server.UseScannersAsync(user.Token, project, "house");
        await ScanAsync(server, user.Token, project);
        var finding = Assert.Single(await server.FindingsAsync(user.Token, project))!;
        Assert.Equal("world", finding["location"]!["snippet"]!.GetValue<string>());

        await server.UseScannersAsync(user.Token, project, "house", "silent");
        var failed = await ScanAsync(server, user.Token, project, expected: "failed");
        Assert.Contains("'silent' exited with code 0 and wrote no SARIF", failed["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("open", (await server.GetAsync($"/api/v1/findings/{finding.Id()}", user.Token)).Json["state"]!.GetValue<string>());
    }

    [Fact]
    public async Task Scanner_RunsWithinTheProjectsResourceLimits_AndAnOutOfMemoryKillFailsTheScanSayingSo()
    {
        using var repo = GitRepo.Create();
        repo.Commit("init", new Dictionary<string, string> { ["README.md"] = "hello\n" });
        await using var server = await SlipwayServer.StartAsync(new Dictionary<string, string?>
        {
            // Grows by 16 MB every 10 ms; bounded by the limit long before the machine notices.
            ["Slipway:Security:Scanners:greedy:Command"] = "node -e \"const hog = []; setInterval(() => hog.push(Buffer.alloc(16 << 20, 1)), 10)\"",
        });
        var user = await server.RegisterUserAsync();
        var project = (await server.CreateProjectAsync(user.Token, extra: new { repo_url = repo.BarePath, resources = new { memory_mb = 80 } })).Id();
        await server.UseScannersAsync(user.Token, project, "greedy");

        var failed = await ScanAsync(server, user.Token, project, expected: "failed");

        Assert.Equal("The scanner 'greedy' was stopped. Killed: out of memory (limit 80 MB).", failed["error"]!.GetValue<string>());
        (await server.GetAsync("/health")).AssertStatus(200);
    }

    [Fact]
    public async Task Settings_AreValidated_AndShown()
    {
        await using var server = await SlipwayServer.StartAsync();
        var user = await server.RegisterUserAsync();
        var project = (await server.CreateProjectAsync(user.Token)).Id();

        (await server.PatchAsync($"/api/v1/repositories/{project}", new { security = new { scanners = Nope } }, user.Token)).AssertError(400, "validation_failed");
        (await server.PatchAsync($"/api/v1/repositories/{project}", new { security = new { block_on = "severe" } }, user.Token)).AssertError(400, "validation_failed");
        (await server.PatchAsync($"/api/v1/repositories/{project}", new { }, user.Token)).AssertError(400, "validation_failed");

        var updated = (await server.PatchAsync($"/api/v1/repositories/{project}",
            new { security = new { scanners = EslintAndFlawfinder, scan_on_deploy = true, block_on = "high" } }, user.Token)).AssertStatus(200).Json;
        Assert.Equal(["eslint", "flawfinder"], updated["security"]!["scanners"]!.AsArray().Select(s => s!.GetValue<string>()));
        Assert.True(updated["security"]!["scan_on_deploy"]!.GetValue<bool>());
        Assert.Equal("high", updated["security"]!["block_on"]!.GetValue<string>());

        var scanners = (await server.GetAsync("/api/v1/security/scanners", user.Token)).AssertStatus(200).Json.AsArray();
        Assert.All(Presets, name =>
            Assert.True(scanners.Single(s => s!["name"]!.GetValue<string>() == name)!["installed"]!.GetValue<bool>()));
        var viewerKey = await server.KeyAsync(user.Token, SecurityRead);
        (await server.PatchAsync($"/api/v1/repositories/{project}", new { security = new { block_on = "low" } }, viewerKey)).AssertError(403, "insufficient_scope");
    }

    internal static async Task<JsonNode> ScanAsync(SlipwayServer server, string token, string project, object? body = null, string expected = "completed")
    {
        var queued = (await server.PostAsync($"/api/v1/repositories/{project}/scans", body ?? new { }, token)).AssertStatus(201).Json;
        Assert.Equal("queued", queued["status"]!.GetValue<string>());
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (DateTime.UtcNow < deadline)
        {
            var scan = (await server.GetAsync($"/api/v1/scans/{queued.Id()}", token)).AssertStatus(200).Json;
            var status = scan["status"]!.GetValue<string>();
            if (status is "completed" or "failed")
            {
                Assert.True(status == expected, $"scan ended {status}: {scan["error"]}");
                return scan;
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"scan {queued.Id()} did not finish");
    }

    private static (int New, int Fixed, int Unchanged) Counts(JsonNode scan) =>
        (scan["counts"]!["new"]!.GetValue<int>(), scan["counts"]!["fixed"]!.GetValue<int>(), scan["counts"]!["unchanged"]!.GetValue<int>());
}
