using System.Globalization;
using System.Text.Json;

namespace Slipway.Server.Security.Sarif;

/// <summary>
/// Reads SARIF 2.1.0 in two streaming passes over a seekable copy, so memory stays flat whatever the file's size and
/// whatever order its properties come in. <see cref="Validate"/> reads everything once and throws on the first problem
/// (nothing is stored before it returns); <see cref="Results"/> then yields the results one at a time.
/// </summary>
internal static class SarifReader
{
    public const string SupportedVersion = "2.1.0";

    public static IReadOnlyList<SarifRun> Validate(Stream sarif, SarifLimits limits)
    {
        string? version = null;
        var runs = new List<RunBuilder>();
        foreach (var part in Walk(sarif, limits))
        {
            switch (part.Kind)
            {
                case PartKind.Version:
                    version = part.Value.ValueKind == JsonValueKind.String ? part.Value.GetString() : part.Value.ToString();
                    break;
                case PartKind.RunStart:
                    runs.Add(new RunBuilder(part.Run));
                    break;
                case PartKind.Tool:
                    runs[part.Run].Tool(part.Value);
                    break;
                case PartKind.AutomationDetails:
                    runs[part.Run].AutomationId = OptionalString(part.Value, "id", $"runs[{part.Run}].automationDetails");
                    break;
                case PartKind.Result:
                    MapResult(part.Value, part.Run, part.ResultIndex, limits);
                    runs[part.Run].Count(part.Value);
                    break;
                default:
                    throw new InvalidOperationException($"unexpected SARIF part {part.Kind}");
            }
        }
        if (version is null) throw new SarifRejectedException("version is required (SARIF 2.1.0)");
        if (version != SupportedVersion) throw new SarifRejectedException($"SARIF version '{version}' is not supported; only {SupportedVersion} is");
        return runs.Select(r => r.Build()).ToList();
    }

    /// <summary>The results of a document that <see cref="Validate"/> accepted, one at a time, in document order.</summary>
    public static IEnumerable<(SarifResult Result, SarifRun Run)> Results(Stream sarif, IReadOnlyList<SarifRun> runs, SarifLimits limits)
    {
        foreach (var part in Walk(sarif, limits))
        {
            if (part.Kind != PartKind.Result) continue;
            yield return (Resolved(MapResult(part.Value, part.Run, part.ResultIndex, limits), runs[part.Run], part.Value), runs[part.Run]);
        }
    }

    /// <summary>
    /// One pass, for a caller that stores results as they come inside a transaction it rolls back on any exception:
    /// yields each result with its run, and after the last checks what only the whole document tells (the version, every
    /// run's tool, rule indexes) before adding the runs to <paramref name="runs"/>. A run must name its tool (and its
    /// <c>automationDetails</c>) before its results, as every tool we know writes it; otherwise this throws
    /// <see cref="SarifOutOfOrderException"/> and the document is read with <see cref="Validate"/> and <see cref="Results"/>.
    /// </summary>
    public static IEnumerable<(SarifResult Result, SarifRun Run)> ReadOnce(Stream sarif, SarifLimits limits, List<SarifRun> runs)
    {
        string? version = null;
        var builders = new List<RunBuilder>();
        var started = new List<SarifRun?>();
        foreach (var part in Walk(sarif, limits))
        {
            switch (part.Kind)
            {
                case PartKind.Version:
                    version = part.Value.ValueKind == JsonValueKind.String ? part.Value.GetString() : part.Value.ToString();
                    break;
                case PartKind.RunStart:
                    builders.Add(new RunBuilder(part.Run));
                    started.Add(null);
                    break;
                case PartKind.Tool when started[part.Run] is null:
                    builders[part.Run].Tool(part.Value);
                    break;
                case PartKind.AutomationDetails when started[part.Run] is null:
                    builders[part.Run].AutomationId = OptionalString(part.Value, "id", $"runs[{part.Run}].automationDetails");
                    break;
                case PartKind.Result when builders[part.Run].HasTool:
                    var result = MapResult(part.Value, part.Run, part.ResultIndex, limits);
                    builders[part.Run].Count(part.Value);
                    var run = started[part.Run] ??= builders[part.Run].Build();
                    yield return (Resolved(result, run, part.Value), run);
                    break;
                default:
                    throw new SarifOutOfOrderException();
            }
        }
        if (version is null) throw new SarifRejectedException("version is required (SARIF 2.1.0)");
        if (version != SupportedVersion) throw new SarifRejectedException($"SARIF version '{version}' is not supported; only {SupportedVersion} is");
        runs.AddRange(builders.Select(b => b.Build()));
    }

    /// <summary>A result that names its rule only by index gets the rule's id.</summary>
    private static SarifResult Resolved(SarifResult result, SarifRun run, JsonElement raw) =>
        result.RuleId.Length > 0 || run.Rule(result.RuleId, RuleIndex(raw)) is not { } rule ? result : result with { RuleId = rule.Id };

    private enum PartKind
    {
        Version,
        RunStart,
        Tool,
        AutomationDetails,
        Result,
    }

    private readonly record struct Part(PartKind Kind, int Run, int ResultIndex, JsonElement Value);

    /// <summary>The pieces of the document either pass needs, each read whole; everything else is skipped unread.</summary>
    private static IEnumerable<Part> Walk(Stream sarif, SarifLimits limits)
    {
        var json = new JsonStream(sarif, limits.MaxValueBytes);
        if (!Next(json) || json.TokenType != JsonTokenType.StartObject) throw new SarifRejectedException("the document is not a JSON object");
        while (Next(json) && json.TokenType == JsonTokenType.PropertyName)
        {
            switch (json.Text)
            {
                case "version":
                    yield return new Part(PartKind.Version, -1, -1, Value(json));
                    break;
                case "runs":
                    foreach (var part in Runs(json, limits)) yield return part;
                    break;
                default:
                    Skip(json);
                    break;
            }
        }
    }

    private static IEnumerable<Part> Runs(JsonStream json, SarifLimits limits)
    {
        if (!Next(json) || json.TokenType != JsonTokenType.StartArray) throw new SarifRejectedException("runs must be an array");
        var run = 0;
        while (Next(json) && json.TokenType != JsonTokenType.EndArray)
        {
            if (json.TokenType != JsonTokenType.StartObject) throw new SarifRejectedException($"runs[{run}] must be an object");
            if (run == limits.MaxRuns) throw new SarifTooLargeException($"a SARIF file may hold at most {limits.MaxRuns} runs");
            yield return new Part(PartKind.RunStart, run, -1, default);
            while (Next(json) && json.TokenType == JsonTokenType.PropertyName)
            {
                switch (json.Text)
                {
                    case "tool":
                        yield return new Part(PartKind.Tool, run, -1, Value(json));
                        break;
                    case "automationDetails":
                        yield return new Part(PartKind.AutomationDetails, run, -1, Value(json));
                        break;
                    case "results":
                        foreach (var part in RunResults(json, run, limits)) yield return part;
                        break;
                    default:
                        Skip(json);
                        break;
                }
            }
            run++;
        }
    }

    private static IEnumerable<Part> RunResults(JsonStream json, int run, SarifLimits limits)
    {
        if (!Next(json)) throw new SarifRejectedException($"runs[{run}].results is cut short");
        if (json.TokenType == JsonTokenType.Null) yield break;
        if (json.TokenType != JsonTokenType.StartArray) throw new SarifRejectedException($"runs[{run}].results must be an array");
        var index = 0;
        while (TryElement(json, out var result))
        {
            if (index == limits.MaxResultsPerRun)
                throw new SarifTooLargeException($"runs[{run}] has more than {limits.MaxResultsPerRun:N0} results, the most a run may hold");
            yield return new Part(PartKind.Result, run, index++, result);
        }
    }

    private static SarifResult MapResult(JsonElement result, int run, int index, SarifLimits limits)
    {
        var at = $"runs[{run}].results[{index}]";
        if (result.ValueKind != JsonValueKind.Object) throw new SarifRejectedException($"{at} must be an object");
        var ruleId = OptionalString(result, "ruleId", at)
            ?? (result.TryGetProperty("rule", out var rule) && rule.ValueKind == JsonValueKind.Object ? OptionalString(rule, "id", $"{at}.rule") : null);
        if (ruleId is null && RuleIndex(result) is null) throw new SarifRejectedException($"{at} names no rule (ruleId, rule.id or ruleIndex)");
        var message = result.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.Object
            ? OptionalString(m, "text", $"{at}.message") ?? OptionalString(m, "markdown", $"{at}.message")
            : null;
        if (string.IsNullOrEmpty(message)) throw new SarifRejectedException($"{at}.message.text is required");
        return new SarifResult(run, index, ruleId ?? "", OptionalString(result, "level", at), message,
            Locations(result, at, limits), Fingerprints(result, at), Fixes(result, at), SecuritySeverity(result, at));
    }

    private static List<SarifLocation> Locations(JsonElement result, string at, SarifLimits limits)
    {
        var locations = new List<SarifLocation>();
        if (!result.TryGetProperty("locations", out var array) || array.ValueKind == JsonValueKind.Null) return locations;
        if (array.ValueKind != JsonValueKind.Array) throw new SarifRejectedException($"{at}.locations must be an array");
        if (array.GetArrayLength() > limits.MaxLocationsPerResult)
            throw new SarifTooLargeException($"{at} has more than {limits.MaxLocationsPerResult:N0} locations, the most a result may hold");
        var i = 0;
        foreach (var location in array.EnumerateArray())
        {
            var where = $"{at}.locations[{i++}]";
            if (location.ValueKind != JsonValueKind.Object) throw new SarifRejectedException($"{where} must be an object");
            if (!location.TryGetProperty("physicalLocation", out var physical)) continue;
            var place = PhysicalLocation(physical, $"{where}.physicalLocation");
            if (place is not null) locations.Add(place);
        }
        return locations;
    }

    private static SarifLocation? PhysicalLocation(JsonElement physical, string at)
    {
        if (physical.ValueKind != JsonValueKind.Object) throw new SarifRejectedException($"{at} must be an object");
        if (!physical.TryGetProperty("artifactLocation", out var artifact)) return null;
        if (artifact.ValueKind != JsonValueKind.Object) throw new SarifRejectedException($"{at}.artifactLocation must be an object");
        var uri = OptionalString(artifact, "uri", $"{at}.artifactLocation");
        if (uri is null) return null;
        if (!physical.TryGetProperty("region", out var region)) return new SarifLocation(uri, null, null, null, null);
        var place = Region(uri, region, $"{at}.region");
        var snippet = region.TryGetProperty("snippet", out var s) && s.ValueKind == JsonValueKind.Object ? OptionalString(s, "text", $"{at}.region.snippet") : null;
        return snippet is null ? place : place with { Snippet = snippet };
    }

    private static SarifLocation Region(string uri, JsonElement region, string at)
    {
        if (region.ValueKind != JsonValueKind.Object) throw new SarifRejectedException($"{at} must be an object");
        return new SarifLocation(uri, OptionalLine(region, "startLine", at), OptionalLine(region, "startColumn", at),
            OptionalLine(region, "endLine", at), OptionalLine(region, "endColumn", at));
    }

    private static Dictionary<string, string> Fingerprints(JsonElement result, string at)
    {
        var fingerprints = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!result.TryGetProperty("partialFingerprints", out var map) || map.ValueKind == JsonValueKind.Null) return fingerprints;
        if (map.ValueKind != JsonValueKind.Object) throw new SarifRejectedException($"{at}.partialFingerprints must be an object");
        foreach (var entry in map.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.String) throw new SarifRejectedException($"{at}.partialFingerprints.{entry.Name} must be a string");
            fingerprints[entry.Name] = entry.Value.GetString()!;
        }
        return fingerprints;
    }

    private static List<SarifFix> Fixes(JsonElement result, string at)
    {
        var fixes = new List<SarifFix>();
        if (!result.TryGetProperty("fixes", out var array) || array.ValueKind == JsonValueKind.Null) return fixes;
        if (array.ValueKind != JsonValueKind.Array) throw new SarifRejectedException($"{at}.fixes must be an array");
        var i = 0;
        foreach (var fix in array.EnumerateArray())
        {
            var where = $"{at}.fixes[{i++}]";
            if (fix.ValueKind != JsonValueKind.Object) throw new SarifRejectedException($"{where} must be an object");
            var description = fix.TryGetProperty("description", out var d) && d.ValueKind == JsonValueKind.Object ? OptionalString(d, "text", $"{where}.description") : null;
            if (!fix.TryGetProperty("artifactChanges", out var changes) || changes.ValueKind != JsonValueKind.Array)
                throw new SarifRejectedException($"{where}.artifactChanges must be an array");
            fixes.Add(new SarifFix(description, changes.EnumerateArray().Select((c, n) => FileChange(c, $"{where}.artifactChanges[{n}]")).ToList()));
        }
        return fixes;
    }

    private static SarifFileChange FileChange(JsonElement change, string at)
    {
        if (change.ValueKind != JsonValueKind.Object || !change.TryGetProperty("artifactLocation", out var artifact) || artifact.ValueKind != JsonValueKind.Object)
            throw new SarifRejectedException($"{at}.artifactLocation is required");
        var uri = OptionalString(artifact, "uri", $"{at}.artifactLocation") ?? throw new SarifRejectedException($"{at}.artifactLocation.uri is required");
        if (!change.TryGetProperty("replacements", out var replacements) || replacements.ValueKind != JsonValueKind.Array)
            throw new SarifRejectedException($"{at}.replacements must be an array");
        return new SarifFileChange(uri, replacements.EnumerateArray().Select((r, n) => Replacement(uri, r, $"{at}.replacements[{n}]")).ToList());
    }

    private static SarifReplacement Replacement(string uri, JsonElement replacement, string at)
    {
        if (replacement.ValueKind != JsonValueKind.Object || !replacement.TryGetProperty("deletedRegion", out var region))
            throw new SarifRejectedException($"{at}.deletedRegion is required");
        var deleted = Region(uri, region, $"{at}.deletedRegion");
        if (deleted.StartLine is null) throw new SarifRejectedException($"{at}.deletedRegion.startLine is required (character offsets are not supported)");
        var inserted = replacement.TryGetProperty("insertedContent", out var content) && content.ValueKind == JsonValueKind.Object
            ? OptionalString(content, "text", $"{at}.insertedContent") ?? ""
            : "";
        return new SarifReplacement(deleted, inserted);
    }

    /// <summary>A result's own <c>security-severity</c> property; rules carry one too, read with the run's tool.</summary>
    private static double? SecuritySeverity(JsonElement owner, string at)
    {
        if (!owner.TryGetProperty("properties", out var properties) || properties.ValueKind != JsonValueKind.Object) return null;
        if (!properties.TryGetProperty("security-severity", out var value)) return null;
        var text = value.ValueKind == JsonValueKind.String ? value.GetString() : value.ValueKind == JsonValueKind.Number ? value.GetRawText() : null;
        if (text is null || !double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var score) || score < 0 || score > 10)
            throw new SarifRejectedException($"{at}.properties.security-severity must be a number from 0.0 to 10.0");
        return score;
    }

    private static int? RuleIndex(JsonElement result)
    {
        if (result.TryGetProperty("ruleIndex", out var i) && i.TryGetInt32(out var index)) return index;
        if (result.TryGetProperty("rule", out var rule) && rule.ValueKind == JsonValueKind.Object && rule.TryGetProperty("index", out var j) && j.TryGetInt32(out var ruleIndex)) return ruleIndex;
        return null;
    }

    private static string? OptionalString(JsonElement owner, string name, string at)
    {
        if (!owner.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        return value.ValueKind == JsonValueKind.String ? value.GetString() : throw new SarifRejectedException($"{at}.{name} must be a string");
    }

    private static int? OptionalLine(JsonElement owner, string name, string at)
    {
        if (!owner.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        return value.TryGetInt32(out var n) && n >= 1 ? n : throw new SarifRejectedException($"{at}.{name} must be a positive integer");
    }

    private sealed class RunBuilder(int index)
    {
        private string? toolName;
        private string? toolVersion;
        private List<SarifRule> rules = [];
        private int results;
        private int maxRuleIndex = -1;

        public string? AutomationId { get; set; }

        public bool HasTool => toolName is not null;

        public void Tool(JsonElement tool)
        {
            var at = $"runs[{index}].tool";
            if (tool.ValueKind != JsonValueKind.Object || !tool.TryGetProperty("driver", out var driver) || driver.ValueKind != JsonValueKind.Object)
                throw new SarifRejectedException($"{at}.driver is required");
            toolName = OptionalString(driver, "name", $"{at}.driver");
            toolVersion = OptionalString(driver, "semanticVersion", $"{at}.driver") ?? OptionalString(driver, "version", $"{at}.driver");
            if (driver.TryGetProperty("rules", out var list) && list.ValueKind == JsonValueKind.Array)
                rules = list.EnumerateArray().Select((r, n) => Rule(r, $"{at}.driver.rules[{n}]")).ToList();
        }

        public void Count(JsonElement raw)
        {
            results++;
            if (RuleIndex(raw) is { } i) maxRuleIndex = Math.Max(maxRuleIndex, i);
        }

        public SarifRun Build()
        {
            if (string.IsNullOrWhiteSpace(toolName)) throw new SarifRejectedException($"runs[{index}].tool.driver.name is required");
            if (maxRuleIndex >= rules.Count)
                throw new SarifRejectedException($"runs[{index}] refers to rule index {maxRuleIndex} but its tool declares {rules.Count} rules");
            return new SarifRun(index, toolName, toolVersion, AutomationId, rules, results);
        }

        private static SarifRule Rule(JsonElement rule, string at)
        {
            if (rule.ValueKind != JsonValueKind.Object) throw new SarifRejectedException($"{at} must be an object");
            var id = OptionalString(rule, "id", at) ?? throw new SarifRejectedException($"{at}.id is required");
            return new SarifRule(id, OptionalString(rule, "name", at), Text(rule, "shortDescription", at), Help(rule, at), Tags(rule),
                SecuritySeverity(rule, at), DefaultLevel(rule, at));
        }

        private static string? Text(JsonElement owner, string name, string at) =>
            owner.TryGetProperty(name, out var message) && message.ValueKind == JsonValueKind.Object ? OptionalString(message, "text", $"{at}.{name}") : null;

        private static string? Help(JsonElement rule, string at) =>
            rule.TryGetProperty("help", out var help) && help.ValueKind == JsonValueKind.Object
                ? OptionalString(help, "markdown", $"{at}.help") ?? OptionalString(help, "text", $"{at}.help")
                : Text(rule, "fullDescription", at);

        /// <summary>The rule's tags, plus CWE ids it names through relationships to a CWE taxonomy (flawfinder does).</summary>
        private static List<string> Tags(JsonElement rule)
        {
            var tags = rule.TryGetProperty("properties", out var properties) && properties.ValueKind == JsonValueKind.Object
                && properties.TryGetProperty("tags", out var list) && list.ValueKind == JsonValueKind.Array
                ? list.EnumerateArray().Where(t => t.ValueKind == JsonValueKind.String).Select(t => t.GetString()!).ToList()
                : [];
            if (!rule.TryGetProperty("relationships", out var relationships) || relationships.ValueKind != JsonValueKind.Array) return tags;
            foreach (var relationship in relationships.EnumerateArray())
            {
                if (relationship.ValueKind == JsonValueKind.Object && relationship.TryGetProperty("target", out var target) && target.ValueKind == JsonValueKind.Object
                    && target.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String
                    && target.TryGetProperty("toolComponent", out var component) && component.ValueKind == JsonValueKind.Object
                    && component.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String
                    && string.Equals(name.GetString(), "CWE", StringComparison.OrdinalIgnoreCase))
                {
                    tags.Add(id.GetString()!);
                }
            }
            return tags;
        }

        private static string? DefaultLevel(JsonElement rule, string at) =>
            rule.TryGetProperty("defaultConfiguration", out var configuration) && configuration.ValueKind == JsonValueKind.Object
                ? OptionalString(configuration, "level", $"{at}.defaultConfiguration")
                : null;
    }

    private static bool Next(JsonStream json)
    {
        try
        {
            return json.Read();
        }
        catch (JsonException e)
        {
            throw Malformed(e);
        }
    }

    private static JsonElement Value(JsonStream json)
    {
        try
        {
            return json.ReadValue();
        }
        catch (JsonException e)
        {
            throw Malformed(e);
        }
    }

    private static bool TryElement(JsonStream json, out JsonElement element)
    {
        try
        {
            return json.TryReadElement(out element);
        }
        catch (JsonException e)
        {
            throw Malformed(e);
        }
    }

    private static void Skip(JsonStream json)
    {
        try
        {
            json.Skip();
        }
        catch (JsonException e)
        {
            throw Malformed(e);
        }
    }

    private static SarifRejectedException Malformed(JsonException e) => new($"the file is not valid JSON ({e.Message.Split(" LineNumber")[0].TrimEnd('.')})");
}
