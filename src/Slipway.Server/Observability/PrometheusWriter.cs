using System.Globalization;
using System.Text;

namespace Slipway.Server.Observability;

/// <summary>
/// Writes the Prometheus text exposition format 0.0.4 by hand: <c># HELP</c> and <c># TYPE</c> once per family,
/// before its samples, escaped label values and invariant-culture numbers (<c>+Inf</c>, <c>-Inf</c>, <c>NaN</c>).
/// </summary>
internal sealed class PrometheusWriter
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly StringBuilder text = new(8192);
    private readonly HashSet<string> written = new(StringComparer.Ordinal);
    private string? family;
    private string? type;

    public void Family(string name, string metricType, string help)
    {
        if (!IsMetricName(name)) throw new ArgumentException($"'{name}' is not a valid metric name.", nameof(name));
        if (metricType is not ("counter" or "gauge" or "histogram" or "untyped"))
        {
            throw new ArgumentException($"Unknown metric type '{metricType}'.", nameof(metricType));
        }
        if (!written.Add(name)) throw new InvalidOperationException($"Metric family '{name}' was already written.");
        family = name;
        type = metricType;
        text.Append("# HELP ").Append(name).Append(' ');
        foreach (var c in help)
        {
            _ = c switch
            {
                '\\' => text.Append(@"\\"),
                '\n' => text.Append(@"\n"),
                _ => text.Append(c),
            };
        }
        text.Append('\n').Append("# TYPE ").Append(name).Append(' ').Append(metricType).Append('\n');
    }

    public void Sample(string name, double value, params ReadOnlySpan<(string Name, string Value)> labels)
    {
        StartSample(name, labels);
        AppendValue(value);
        text.Append('\n');
    }

    public void Sample(string name, long value, params ReadOnlySpan<(string Name, string Value)> labels)
    {
        StartSample(name, labels);
        text.Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
    }

    /// <summary>One histogram series: <paramref name="counts"/> per bucket (not cumulative), the last one above every bound.</summary>
    public void Histogram(string name, IReadOnlyList<double> bounds, ReadOnlySpan<long> counts, double sum,
        params ReadOnlySpan<(string Name, string Value)> labels)
    {
        if (counts.Length != bounds.Count + 1) throw new ArgumentException("One count per bound plus one for +Inf.", nameof(counts));
        Span<(string, string)> withLe = new (string, string)[labels.Length + 1];
        labels.CopyTo(withLe);
        long cumulative = 0;
        for (var i = 0; i <= bounds.Count; i++)
        {
            cumulative += counts[i];
            withLe[^1] = ("le", i < bounds.Count ? Format(bounds[i]) : "+Inf");
            Sample(name + "_bucket", cumulative, withLe);
        }
        Sample(name + "_sum", sum, labels);
        Sample(name + "_count", cumulative, labels);
    }

    public override string ToString() => text.ToString();

    public static string Format(double value) =>
        double.IsPositiveInfinity(value) ? "+Inf"
        : double.IsNegativeInfinity(value) ? "-Inf"
        : double.IsNaN(value) ? "NaN"
        : value.ToString("R", CultureInfo.InvariantCulture);

    public static bool IsMetricName(string name) => IsName(name, allowColon: true);

    public static bool IsLabelName(string name) => IsName(name, allowColon: false) && !name.StartsWith("__", StringComparison.Ordinal);

    private void StartSample(string name, ReadOnlySpan<(string Name, string Value)> labels)
    {
        var belongs = family is not null && (name == family
            || (type == "histogram" && (name == family + "_bucket" || name == family + "_sum" || name == family + "_count")));
        if (!belongs) throw new InvalidOperationException($"Sample '{name}' written outside its family (current: '{family}').");
        text.Append(name);
        if (labels.IsEmpty)
        {
            text.Append(' ');
            return;
        }
        text.Append('{');
        for (var i = 0; i < labels.Length; i++)
        {
            var (label, value) = labels[i];
            if (!IsLabelName(label)) throw new ArgumentException($"'{label}' is not a valid label name.", nameof(labels));
            if (i > 0) text.Append(',');
            text.Append(label).Append("=\"");
            foreach (var c in value)
            {
                _ = c switch
                {
                    '\\' => text.Append(@"\\"),
                    '"' => text.Append("\\\""),
                    '\n' => text.Append(@"\n"),
                    _ => text.Append(c),
                };
            }
            text.Append('"');
        }
        text.Append("} ");
    }

    private void AppendValue(double value) => text.Append(Format(value));

    private static bool IsName(string name, bool allowColon)
    {
        if (name.Length == 0) return false;
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            var ok = char.IsAsciiLetter(c) || c == '_' || (allowColon && c == ':') || (i > 0 && char.IsAsciiDigit(c));
            if (!ok) return false;
        }
        return true;
    }
}
