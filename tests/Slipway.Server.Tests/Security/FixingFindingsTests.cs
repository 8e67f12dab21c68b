using System.Diagnostics;
using System.Text.Json.Nodes;
using Slipway.Server.Tests.ApiKeys;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Security;

public sealed class FixingFindingsTests
{
    private const string CFile = "#include <stdio.h>\n#include <string.h>\nvoid show(char *input) {\n    printf(input);\n}\n";

    [Fact]
    public async Task FormatStringFinding_GetsACodemodFix_ThatApplyPushesAsABranch()
    {
        using var repo = GitRepo.Create();
        var commit = repo.Commit("c", new Dictionary<string, string> { ["main.c"] = CFile });
        await using var server = await SlipwayServer.StartAsync();
        var user = await server.RegisterUserAsync();
        var project = (await server.CreateProjectAsync(user.Token, extra: new { repo_url = repo.BarePath })).Id();
        await server.UseScannersAsync(user.Token, project, "flawfinder");
        await ScanningRepositoriesTests.ScanAsync(server, user.Token, project);

        var fixes = (await server.GetAsync($"/api/v1/repositories/{project}/fixes", user.Token)).AssertStatus(200).Json["data"]!.AsArray();
        var fix = Assert.Single(fixes)!;
        Assert.Equal("format-string-literal", fix["codemod"]!.GetValue<string>());
        Assert.Equal("available", fix["status"]!.GetValue<string>());
        Assert.Equal(commit, fix["base_commit"]!.GetValue<string>());
        Assert.Null(fix["pr_url"]);
        var diff = fix["diff"]!.GetValue<string>();
        Assert.Contains("-    printf(input);\n+    printf(\"%s\", input);\n", diff, StringComparison.Ordinal);
        Assert.Contains("CWE-134", fix["rationale"]!.GetValue<string>(), StringComparison.Ordinal);
        var finding = (await server.GetAsync($"/api/v1/findings/{fix["finding_id"]!.GetValue<string>()}", user.Token)).AssertStatus(200).Json;
        Assert.Equal(4, finding["location"]!["start_line"]!.GetValue<int>());

        var applied = (await server.PostAsync($"/api/v1/fixes/{fix.Id()}/apply", new { }, user.Token)).AssertStatus(200).Json;

        Assert.Equal("applied", applied["status"]!.GetValue<string>());
        var branch = $"slipway/fix-{fix.Id()}";
        Assert.Equal(branch, applied["branch"]!.GetValue<string>());
        var sha = applied["commit_sha"]!.GetValue<string>();
        Assert.Equal(sha, Git(repo.BarePath, "rev-parse", branch).Trim());
        Assert.Equal(commit, Git(repo.BarePath, "rev-parse", $"{branch}^").Trim());
        Assert.Equal(CFile.Replace("printf(input);", "printf(\"%s\", input);", StringComparison.Ordinal), Git(repo.BarePath, "show", $"{branch}:main.c"));
        var pushed = Git(repo.BarePath, "diff", commit, branch);
        Assert.Contains("-    printf(input);\n+    printf(\"%s\", input);", pushed, StringComparison.Ordinal);

        (await server.PostAsync($"/api/v1/fixes/{fix.Id()}/apply", new { }, user.Token)).AssertError(409, "invalid_state");
    }

    [Fact]
    public async Task ToolFix_InSarif_BecomesADiffThatGitAccepts()
    {
        using var repo = GitRepo.Create();
        var commit = repo.Commit("c", new Dictionary<string, string> { ["src/copy.c"] = "void f(char *d, char *s) {\n    strcpy(d, s);\n}\n" });
        var result = SecurityIntents.Result("house/strcpy", "src/copy.c", 2, "c:1", "error");
        result["fixes"] = new JsonArray(new JsonObject
        {
            ["description"] = new JsonObject { ["text"] = "Bound the copy." },
            ["artifactChanges"] = new JsonArray(new JsonObject
            {
                ["artifactLocation"] = new JsonObject { ["uri"] = "src/copy.c" },
                ["replacements"] = new JsonArray(new JsonObject
                {
                    ["deletedRegion"] = new JsonObject { ["startLine"] = 2, ["startColumn"] = 5, ["endLine"] = 2, ["endColumn"] = 18 },
                    ["insertedContent"] = new JsonObject { ["text"] = "strlcpy(d, s, 64);" },
                }),
            }),
        });
        var sarif = SecurityIntents.Sarif("house-tool", [result]);
        await using var server = await SlipwayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Slipway:Security:Scanners:house:Command"] = $"printf '%s' '{sarif}' > \"$SARIF_OUTPUT\"",
        });
        var user = await server.RegisterUserAsync();
        var project = (await server.CreateProjectAsync(user.Token, extra: new { repo_url = repo.BarePath })).Id();
        await server.UseScannersAsync(user.Token, project, "house");
        await ScanningRepositoriesTests.ScanAsync(server, user.Token, project);

        var fix = Assert.Single((await server.GetAsync($"/api/v1/repositories/{project}/fixes", user.Token)).AssertStatus(200).Json["data"]!.AsArray())!;
        Assert.Equal("sarif", fix["codemod"]!.GetValue<string>());
        Assert.Equal("Bound the copy.", fix["rationale"]!.GetValue<string>());
        Assert.Contains("-    strcpy(d, s);\n+    strlcpy(d, s, 64);\n", fix["diff"]!.GetValue<string>(), StringComparison.Ordinal);

        var applied = (await server.PostAsync($"/api/v1/fixes/{fix.Id()}/apply", new { }, user.Token)).AssertStatus(200).Json;
        Assert.Contains("strlcpy(d, s, 64);", Git(repo.BarePath, "show", $"{applied["branch"]!.GetValue<string>()}:src/copy.c"), StringComparison.Ordinal);
        Assert.Equal(commit, Git(repo.BarePath, "rev-parse", $"{applied["branch"]!.GetValue<string>()}^").Trim());
    }

    [Fact]
    public async Task Fixes_OfAnotherWorkspace_Are404()
    {
        using var repo = GitRepo.Create();
        repo.Commit("c", new Dictionary<string, string> { ["main.c"] = CFile });
        await using var server = await SlipwayServer.StartAsync();
        var owner = await server.RegisterUserAsync();
        var stranger = await server.RegisterUserAsync();
        var project = (await server.CreateProjectAsync(owner.Token, extra: new { repo_url = repo.BarePath })).Id();
        await server.UseScannersAsync(owner.Token, project, "flawfinder");
        await ScanningRepositoriesTests.ScanAsync(server, owner.Token, project);
        var fix = (await server.GetAsync($"/api/v1/repositories/{project}/fixes", owner.Token)).Json["data"]![0]!.Id();

        (await server.GetAsync($"/api/v1/fixes/{fix}", stranger.Token)).AssertError(404, "not_found");
        (await server.PostAsync($"/api/v1/fixes/{fix}/apply", new { }, stranger.Token)).AssertError(404, "not_found");
        (await server.GetAsync($"/api/v1/repositories/{project}/fixes", stranger.Token)).AssertError(404, "not_found");
        Assert.Single(Git(repo.BarePath, "branch", "--list").Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    private static string Git(string bare, params string[] arguments)
    {
        var info = new ProcessStartInfo("git") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("--git-dir");
        info.ArgumentList.Add(bare);
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(10_000));
        Assert.True(process.ExitCode == 0, process.StandardError.ReadToEnd());
        return output;
    }
}
