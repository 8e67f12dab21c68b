using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using Xunit.Sdk;

namespace Slipway.Server.Tests.Observability;

public sealed record PrometheusSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

public sealed record PrometheusFamily(string Name, string Type, string Help, IReadOnlyList<PrometheusSample> Samples);

/// <summary>
/// A deliberately strict parser for the Prometheus text format 0.0.4, enough to fail on anything a real scraper
/// would reject or misread: every line is a HELP, a TYPE or <c>name{labels} value</c>; HELP and TYPE appear once
/// per family and before its samples; a family's samples are contiguous; label values use only the three escapes;
/// histogram buckets are cumulative, end in <c>+Inf</c> and equal <c>_count</c>.
/// </summary>
public sealed class PrometheusText
{
    private static readonly string[] Types = ["counter", "gauge", "histogram", "summary", "untyped"];

    public IReadOnlyDictionary<string, PrometheusFamily> Families { get; }

    private PrometheusText(IReadOnlyDictionary<string, PrometheusFamily> families) => Families = families;

    public PrometheusFamily this[string name] =>
        Families.TryGetValue(name, out var family) ? family : throw new XunitException($"No metric family '{name}'.");

    /// <summary>The value of the one sample with exactly these labels, or 0 when there is none yet.</summary>
    public double Value(string sampleName, params (string Name, string Value)[] labels)
    {
        var matches = Families.Values.SelectMany(f => f.Samples)
            .Where(s => s.Name == sampleName && s.Labels.Count == labels.Length && labels.All(l => s.Labels.TryGetValue(l.Name, out var v) && v == l.Value))
            .ToList();
        return matches.Count switch
        {
            0 => 0,
            1 => matches[0].Value,
            _ => throw new XunitException($"{matches.Count} samples of {sampleName} with the same labels."),
        };
    }

    public static PrometheusText Parse(string text)
    {
        if (text.Length == 0 || text[^1] != '\n') Fail(0, "the exposition must end with a newline");
        if (text.Contains('\r', StringComparison.Ordinal)) Fail(0, "carriage returns are not allowed");
        var lines = text[..^1].Split('\n');
        var help = new Dictionary<string, string>(StringComparer.Ordinal);
        var types = new Dictionary<string, string>(StringComparer.Ordinal);
        var samples = new Dictionary<string, List<PrometheusSample>>(StringComparer.Ordinal);
        var finished = new HashSet<string>(StringComparer.Ordinal);
        var seriesSeen = new HashSet<string>(StringComparer.Ordinal);
        string? current = null;

        for (var n = 0; n < lines.Length; n++)
        {
            var line = lines[n];
            if (line.StartsWith('#'))
            {
                var parts = line.Split(' ', 4);
                if (parts.Length < 4 || parts[0] != "#" || parts[1] is not ("HELP" or "TYPE")) Fail(n, $"unexpected comment: {line}");
                var name = parts[2];
                if (!IsMetricName(name)) Fail(n, $"bad metric name '{name}'");
                if (name != current)
                {
                    if (current is not null) finished.Add(current);
                    if (finished.Contains(name)) Fail(n, $"family '{name}' resumed after another family");
                    current = name;
                }
                if (samples.ContainsKey(name)) Fail(n, $"{parts[1]} for '{name}' after its samples");
                if (parts[1] == "HELP")
                {
                    if (!help.TryAdd(name, Unescape(parts[3], n, allowQuote: false))) Fail(n, $"second HELP for '{name}'");
                }
                else
                {
                    if (!Types.Contains(parts[3])) Fail(n, $"unknown type '{parts[3]}'");
                    if (!types.TryAdd(name, parts[3])) Fail(n, $"second TYPE for '{name}'");
                }
                continue;
            }

            var sample = ParseSample(line, n);
            var family = FamilyOf(sample.Name, types) ?? Fail<string>(n, $"sample '{sample.Name}' has no TYPE before it");
            if (family != current) Fail(n, $"sample '{sample.Name}' is outside its family block (current '{current}')");
            var series = sample.Name + "{" + string.Join(",", sample.Labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}")) + "}";
            if (!seriesSeen.Add(series)) Fail(n, $"duplicate series {series}");
            if (!samples.TryGetValue(family, out var list)) samples[family] = list = [];
            list.Add(sample);
        }

        var families = types.ToDictionary(t => t.Key, t => new PrometheusFamily(t.Key, t.Value,
            help.TryGetValue(t.Key, out var h) ? h : Fail<string>(0, $"no HELP for '{t.Key}'"),
            samples.TryGetValue(t.Key, out var s) ? s : []), StringComparer.Ordinal);
        foreach (var family in families.Values)
        {
            switch (family.Type)
            {
                case "histogram":
                    CheckHistogram(family);
                    break;
                case "counter":
                    if (family.Samples.Any(s => s.Value < 0 || double.IsNaN(s.Value))) Fail(0, $"counter '{family.Name}' has a negative value");
                    break;
            }
        }
        return new PrometheusText(families);
    }

    private static string? FamilyOf(string sampleName, Dictionary<string, string> types)
    {
        if (types.ContainsKey(sampleName)) return sampleName;
        foreach (var suffix in (string[])["_bucket", "_sum", "_count"])
        {
            if (sampleName.EndsWith(suffix, StringComparison.Ordinal) && types.TryGetValue(sampleName[..^suffix.Length], out var type)
                && type == "histogram")
            {
                return sampleName[..^suffix.Length];
            }
        }
        return null;
    }

    private static void CheckHistogram(PrometheusFamily family)
    {
        var groups = family.Samples.GroupBy(s => string.Join(",", s.Labels.Where(l => l.Key != "le").OrderBy(l => l.Key, StringComparer.Ordinal)
            .Select(l => $"{l.Key}={l.Value}")));
        foreach (var group in groups)
        {
            var buckets = group.Where(s => s.Name == family.Name + "_bucket").ToList();
            if (buckets.Count == 0) Fail(0, $"{family.Name}{{{group.Key}}} has no buckets");
            var previousLe = double.NegativeInfinity;
            var previousCount = 0.0;
            foreach (var bucket in buckets)
            {
                if (!bucket.Labels.TryGetValue("le", out var leText)) Fail(0, $"{family.Name} bucket without le");
                var le = ParseValue(leText, 0);
                if (le <= previousLe) Fail(0, $"{family.Name}{{{group.Key}}} buckets not in increasing le order");
                if (bucket.Value < previousCount) Fail(0, $"{family.Name}{{{group.Key}}} buckets are not cumulative at le={leText}");
                previousLe = le;
                previousCount = bucket.Value;
            }
            if (buckets[^1].Labels["le"] != "+Inf") Fail(0, $"{family.Name}{{{group.Key}}} does not end with le=\"+Inf\"");
            var count = group.SingleOrDefault(s => s.Name == family.Name + "_count") ?? Fail<PrometheusSample>(0, $"{family.Name}{{{group.Key}}} has no _count");
            _ = group.SingleOrDefault(s => s.Name == family.Name + "_sum") ?? Fail<PrometheusSample>(0, $"{family.Name}{{{group.Key}}} has no _sum");
            if (count.Value != buckets[^1].Value) Fail(0, $"{family.Name}{{{group.Key}}} +Inf bucket {buckets[^1].Value} != _count {count.Value}");
        }
    }

    private static PrometheusSample ParseSample(string line, int n)
    {
        var i = 0;
        while (i < line.Length && line[i] is not ('{' or ' ')) i++;
        var name = line[..i];
        if (!IsMetricName(name)) Fail(n, $"bad metric name in: {line}");
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (true)
            {
                var start = i;
                while (i < line.Length && line[i] != '=') i++;
                var label = line[start..i];
                if (!IsLabelName(label)) Fail(n, $"bad label name '{label}' in: {line}");
                if (i + 1 >= line.Length || line[i + 1] != '"') Fail(n, $"label value must be quoted in: {line}");
                i += 2;
                var value = new StringBuilder();
                while (true)
                {
                    if (i >= line.Length) Fail(n, $"unterminated label value in: {line}");
                    var c = line[i++];
                    if (c == '"') break;
                    if (c == '\\')
                    {
                        if (i >= line.Length) Fail(n, "dangling backslash");
                        value.Append(line[i++] switch
                        {
                            '\\' => '\\',
                            '"' => '"',
                            'n' => '\n',
                            var other => Fail<char>(n, $"unknown escape \\{other} in: {line}"),
                        });
                    }
                    else
                    {
                        value.Append(c);
                    }
                }
                if (!labels.TryAdd(label, value.ToString())) Fail(n, $"duplicate label '{label}'");
                if (i >= line.Length) Fail(n, $"unterminated label set in: {line}");
                if (line[i] == '}')
                {
                    i++;
                    break;
                }
                if (line[i] != ',') Fail(n, $"expected ',' or '}}' in: {line}");
                i++;
            }
        }
        if (i >= line.Length || line[i] != ' ') Fail(n, $"expected one space before the value in: {line}");
        var valueText = line[(i + 1)..];
        if (valueText.Contains(' ', StringComparison.Ordinal)) Fail(n, $"unexpected timestamp or trailing text in: {line}");
        return new PrometheusSample(name, labels, ParseValue(valueText, n));
    }

    private static double ParseValue(string text, int n) => text switch
    {
        "+Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        "NaN" => double.NaN,
        _ when text.Length > 0 && text.All(c => char.IsAsciiDigit(c) || c is '.' or '-' or '+' or 'e' or 'E')
               && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) => v,
        _ => Fail<double>(n, $"bad value '{text}'"),
    };

    private static string Unescape(string text, int n, bool allowQuote)
    {
        var result = new StringBuilder();
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] != '\\')
            {
                result.Append(text[i]);
                continue;
            }
            if (++i >= text.Length) Fail(n, "dangling backslash");
            result.Append(text[i] switch
            {
                '\\' => '\\',
                'n' => '\n',
                '"' when allowQuote => '"',
                var other => Fail<char>(n, $"unknown escape \\{other}"),
            });
        }
        return result.ToString();
    }

    private static bool IsMetricName(string name) =>
        name.Length > 0 && !char.IsAsciiDigit(name[0]) && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or ':');

    private static bool IsLabelName(string name) =>
        name.Length > 0 && !char.IsAsciiDigit(name[0]) && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

    [DoesNotReturn]
    private static void Fail(int line, string message) => throw new XunitException($"Invalid exposition (line {line + 1}): {message}");

    [DoesNotReturn]
    private static T Fail<T>(int line, string message) => throw new XunitException($"Invalid exposition (line {line + 1}): {message}");
}
