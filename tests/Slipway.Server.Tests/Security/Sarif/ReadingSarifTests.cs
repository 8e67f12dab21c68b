using System.Text;
using System.Text.Json.Nodes;
using Slipway.Server.Security.Sarif;

namespace Slipway.Server.Tests.Security.Sarif;

public sealed class ReadingSarifTests
{
    private static readonly SarifLimits Limits = new();

    [Fact]
    public void Read_TwoRuns_ResolvesRulesCategoriesLocationsFingerprintsAndFixes()
    {
        var sarif = Document(
            Run("eslint", results: [Result("security/detect-eval-with-expression", "src/app.js", 12, fingerprint: "abc:1")],
                rules: [Rule("security/detect-eval-with-expression", severity: "8.1", tags: ["security", "external/cwe/cwe-95"])],
                category: "eslint/"),
            Run("flawfinder", results: [ResultByIndex(0, "main.c", 3, withFix: true)], rules: [Rule("FF1001", level: "error")]));

        var (runs, results) = ReadAll(sarif);

        Assert.Equal(["eslint", "flawfinder"], runs.Select(r => r.ToolName));
        Assert.Equal("eslint/", runs[0].AutomationId);
        Assert.Equal(8.1, runs[0].Rules[0].SecuritySeverity);
        Assert.Contains("external/cwe/cwe-95", runs[0].Rules[0].Tags);
        Assert.Equal("error", runs[1].Rules[0].DefaultLevel);
        Assert.Equal(1, runs[0].ResultCount);

        var eslint = results[0];
        Assert.Equal("security/detect-eval-with-expression", eslint.RuleId);
        Assert.Equal(new SarifLocation("src/app.js", 12, 5, 12, 20), eslint.Locations.Single());
        Assert.Equal("abc:1", eslint.PartialFingerprints["primaryLocationLineHash"]);

        var flawfinder = results[1];
        Assert.Equal("FF1001", flawfinder.RuleId);
        var change = flawfinder.Fixes.Single().Changes.Single();
        Assert.Equal("main.c", change.Uri);
        Assert.Equal("strncpy(dst, src, sizeof dst);", change.Replacements.Single().Inserted);
        Assert.Equal(3, change.Replacements.Single().Deleted.StartLine);
    }

    [Fact]
    public void Read_ResultsBeforeTheTool_StillResolveTheirRules()
    {
        var run = Run("tool", results: [ResultByIndex(0, "a.py", 1)], rules: [Rule("R1")]);
        var reordered = new JsonObject { ["results"] = run["results"]!.DeepClone(), ["tool"] = run["tool"]!.DeepClone() };

        var (_, results) = ReadAll(Document(reordered));

        Assert.Equal("R1", results.Single().RuleId);
    }

    [Fact]
    public void Read_OneByteAtATime_GivesTheSameResults()
    {
        var sarif = Document(Run("eslint", results: [.. Enumerable.Range(1, 50).Select(i => Result($"rule-{i % 3}", $"f{i}.js", i))]));

        var whole = ReadAll(sarif).Results;
        var trickled = ReadAll(sarif, trickle: true).Results;

        Assert.Equal(50, trickled.Count);
        Assert.Equal(whole.Select(r => (r.RuleId, r.Locations[0])), trickled.Select(r => (r.RuleId, r.Locations[0])));
    }

    [Theory]
    [InlineData("""{"runs": []}""", "version is required")]
    [InlineData("""{"version": "2.0.0", "runs": []}""", "SARIF version '2.0.0' is not supported")]
    [InlineData("""{"version": "2.1.0", "runs": {}}""", "runs must be an array")]
    [InlineData("""{"version": "2.1.0", "runs": [{"tool": {"driver": {}}}]}""", "runs[0].tool.driver.name is required")]
    [InlineData("""{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "t"}}, "results": [{"ruleId": "r"}]}]}""", "runs[0].results[0].message.text is required")]
    [InlineData("""{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "t"}}, "results": [{"message": {"text": "m"}}]}]}""", "runs[0].results[0] names no rule")]
    [InlineData("""{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "t"}}, "results": [{"ruleIndex": 4, "message": {"text": "m"}}]}]}""", "refers to rule index 4")]
    [InlineData("""{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "t"}}, "results": [{"ruleId": "r", "message": {"text": "m"}, "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a"}, "region": {"startLine": 0}}}]}]}]}""", "region.startLine must be a positive integer")]
    [InlineData("""{"version": "2.1.0", "runs": [""", "not valid JSON")]
    [InlineData("""[1, 2]""", "not a JSON object")]
    public void Read_InvalidDocument_IsRejectedNamingTheProblem(string sarif, string expected)
    {
        var error = Assert.Throws<SarifRejectedException>(() => ReadAll(Encoding.UTF8.GetBytes(sarif)));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_MoreThanTwentyRuns_IsTooLarge()
    {
        var sarif = Document([.. Enumerable.Range(0, 21).Select(_ => Run("t", results: []))]);

        var error = Assert.Throws<SarifTooLargeException>(() => ReadAll(sarif));

        Assert.Contains("at most 20 runs", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_RunWithTooManyResults_IsTooLarge()
    {
        var sarif = Document(Run("t", results: [.. Enumerable.Range(0, 11).Select(i => Result("r", "a.js", i + 1))]));

        var error = Assert.Throws<SarifTooLargeException>(() => ReadAll(sarif, new SarifLimits(MaxResultsPerRun: 10)));

        Assert.Contains("more than 10 results", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_ResultWithTooManyLocations_IsTooLarge()
    {
        var result = Result("r", "a.js", 1);
        result["locations"] = new JsonArray([.. Enumerable.Range(0, 1_001).Select(i => Location("a.js", i + 1))]);

        Assert.Throws<SarifTooLargeException>(() => ReadAll(Document(Run("t", results: [result]))));
    }

    [Fact]
    public void Read_ValueLargerThanTheWindow_IsTooLarge_ButALargeSkippedValueStreamsPast()
    {
        var run = Run("t", results: [Result("r", "a.js", 1)]);
        run["artifacts"] = new JsonArray([.. Enumerable.Range(0, 5_000).Select(i => (JsonNode)new JsonObject { ["location"] = new JsonObject { ["uri"] = $"file{i}.js" } })]);
        var small = new SarifLimits(MaxValueBytes: 64 * 1024);

        Assert.Single(ReadAll(Document(run), small).Results);

        var huge = Result("r", "a.js", 1);
        huge["message"] = new JsonObject { ["text"] = new string('x', 200_000) };
        Assert.Throws<SarifTooLargeException>(() => ReadAll(Document(Run("t", results: [huge])), small));
    }

    /// <summary>
    /// Reads in two passes (validate, then results), and checks that the one-pass reader agrees: the same results and
    /// runs, or the same exception, unless it gives up on a run whose tool comes after its results.
    /// </summary>
    private static (IReadOnlyList<SarifRun> Runs, List<SarifResult> Results) ReadAll(byte[] sarif, SarifLimits? limits = null, bool trickle = false)
    {
        Stream Open() => trickle ? new TrickleStream(sarif) : new MemoryStream(sarif);
        var onceRuns = new List<SarifRun>();
        (List<SarifResult>? Results, Exception? Error) once;
        using (var only = Open())
        {
            try
            {
                once = (SarifReader.ReadOnce(only, limits ?? Limits, onceRuns).Select(r => r.Result).ToList(), null);
            }
            catch (Exception e) when (e is SarifRejectedException or SarifTooLargeException or SarifOutOfOrderException)
            {
                once = (null, e);
            }
        }
        try
        {
            using var first = Open();
            var runs = SarifReader.Validate(first, limits ?? Limits);
            using var second = Open();
            var results = SarifReader.Results(second, runs, limits ?? Limits).Select(r => r.Result).ToList();
            if (once.Error is not SarifOutOfOrderException)
            {
                Assert.Null(once.Error);
                Assert.Equal(System.Text.Json.JsonSerializer.Serialize(results), System.Text.Json.JsonSerializer.Serialize(once.Results));
                Assert.Equal(System.Text.Json.JsonSerializer.Serialize(runs), System.Text.Json.JsonSerializer.Serialize(onceRuns));
            }
            return (runs, results);
        }
        catch (Exception e) when (once.Error is not (null or SarifOutOfOrderException))
        {
            Assert.Equal((e.GetType(), e.Message), (once.Error.GetType(), once.Error.Message));
            throw;
        }
    }

    private static byte[] Document(params JsonObject[] runs) =>
        Encoding.UTF8.GetBytes(new JsonObject { ["$schema"] = "https://json.schemastore.org/sarif-2.1.0.json", ["version"] = "2.1.0", ["runs"] = new JsonArray(runs) }.ToJsonString());

    private static JsonObject Run(string tool, JsonObject[] results, JsonObject[]? rules = null, string? category = null)
    {
        var run = new JsonObject
        {
            ["tool"] = new JsonObject { ["driver"] = new JsonObject { ["name"] = tool, ["version"] = "1.0.0", ["rules"] = new JsonArray(rules ?? []) } },
            ["results"] = new JsonArray(results),
        };
        if (category is not null) run["automationDetails"] = new JsonObject { ["id"] = category };
        return run;
    }

    private static JsonObject Rule(string id, string? severity = null, string[]? tags = null, string? level = null)
    {
        var properties = new JsonObject { ["tags"] = new JsonArray([.. (tags ?? []).Select(t => (JsonNode)t)]) };
        if (severity is not null) properties["security-severity"] = severity;
        var rule = new JsonObject { ["id"] = id, ["shortDescription"] = new JsonObject { ["text"] = $"about {id}" }, ["properties"] = properties };
        if (level is not null) rule["defaultConfiguration"] = new JsonObject { ["level"] = level };
        return rule;
    }

    private static JsonObject Result(string ruleId, string uri, int line, string? fingerprint = null)
    {
        var result = new JsonObject { ["ruleId"] = ruleId, ["message"] = new JsonObject { ["text"] = $"{ruleId} at {line}" }, ["locations"] = new JsonArray(Location(uri, line)) };
        if (fingerprint is not null) result["partialFingerprints"] = new JsonObject { ["primaryLocationLineHash"] = fingerprint };
        return result;
    }

    private static JsonObject ResultByIndex(int index, string uri, int line, bool withFix = false)
    {
        var result = new JsonObject { ["ruleIndex"] = index, ["message"] = new JsonObject { ["text"] = "m" }, ["locations"] = new JsonArray(Location(uri, line)) };
        if (withFix)
        {
            result["fixes"] = new JsonArray(new JsonObject
            {
                ["description"] = new JsonObject { ["text"] = "bounded copy" },
                ["artifactChanges"] = new JsonArray(new JsonObject
                {
                    ["artifactLocation"] = new JsonObject { ["uri"] = uri },
                    ["replacements"] = new JsonArray(new JsonObject
                    {
                        ["deletedRegion"] = new JsonObject { ["startLine"] = line, ["startColumn"] = 1, ["endLine"] = line, ["endColumn"] = 18 },
                        ["insertedContent"] = new JsonObject { ["text"] = "strncpy(dst, src, sizeof dst);" },
                    }),
                }),
            });
        }
        return result;
    }

    private static JsonObject Location(string uri, int line) => new()
    {
        ["physicalLocation"] = new JsonObject
        {
            ["artifactLocation"] = new JsonObject { ["uri"] = uri },
            ["region"] = new JsonObject { ["startLine"] = line, ["startColumn"] = 5, ["endLine"] = line, ["endColumn"] = 20 },
        },
    };

    /// <summary>Hands out one byte per read, so every token boundary falls at a buffer edge at least once.</summary>
    private sealed class TrickleStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, 1));
    }
}
