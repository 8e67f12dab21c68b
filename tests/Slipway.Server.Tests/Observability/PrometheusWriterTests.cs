using Slipway.Server.Observability;

namespace Slipway.Server.Tests.Observability;

public sealed class PrometheusWriterTests
{
    [Fact]
    public void Write_SpecialValuesAndEscapes_ParseBackExactly()
    {
        var writer = new PrometheusWriter();
        writer.Family("demo_values", "gauge", "Help with a \\ backslash\nand a newline.");
        writer.Sample("demo_values", double.PositiveInfinity, ("kind", "inf"));
        writer.Sample("demo_values", double.NegativeInfinity, ("kind", "minus_inf"));
        writer.Sample("demo_values", double.NaN, ("kind", "nan"));
        writer.Sample("demo_values", 0.000125, ("kind", "small"));
        writer.Sample("demo_values", 1.5e300, ("kind", "big"));
        writer.Sample("demo_values", 3L, ("kind", "a\\b\"c\nd"));

        var text = writer.ToString();
        var parsed = PrometheusText.Parse(text);

        Assert.Contains("demo_values{kind=\"inf\"} +Inf\n", text, StringComparison.Ordinal);
        Assert.Contains("demo_values{kind=\"a\\\\b\\\"c\\nd\"} 3\n", text, StringComparison.Ordinal);
        Assert.Equal("Help with a \\ backslash\nand a newline.", parsed["demo_values"].Help);
        Assert.Equal(double.NegativeInfinity, parsed.Value("demo_values", ("kind", "minus_inf")));
        Assert.True(double.IsNaN(parsed.Value("demo_values", ("kind", "nan"))));
        Assert.Equal(0.000125, parsed.Value("demo_values", ("kind", "small")));
        Assert.Equal(1.5e300, parsed.Value("demo_values", ("kind", "big")));
        Assert.Equal(3, parsed.Value("demo_values", ("kind", "a\\b\"c\nd")));
    }

    [Fact]
    public void Histogram_PerBucketCounts_AreWrittenCumulativeWithInfEqualToCount()
    {
        var writer = new PrometheusWriter();
        writer.Family("demo_seconds", "histogram", "Demo.");
        writer.Histogram("demo_seconds", [0.1, 1], [2, 0, 3], 4.25, ("route", "/x"));

        var parsed = PrometheusText.Parse(writer.ToString());

        Assert.Equal(2, parsed.Value("demo_seconds_bucket", ("route", "/x"), ("le", "0.1")));
        Assert.Equal(2, parsed.Value("demo_seconds_bucket", ("route", "/x"), ("le", "1")));
        Assert.Equal(5, parsed.Value("demo_seconds_bucket", ("route", "/x"), ("le", "+Inf")));
        Assert.Equal(5, parsed.Value("demo_seconds_count", ("route", "/x")));
        Assert.Equal(4.25, parsed.Value("demo_seconds_sum", ("route", "/x")));
    }

    [Theory]
    [InlineData("bad-name")]
    [InlineData("9starts_with_digit")]
    [InlineData("")]
    public void Family_InvalidName_Throws(string name) =>
        Assert.Throws<ArgumentException>(() => new PrometheusWriter().Family(name, "gauge", "x"));

    [Fact]
    public void Family_WrittenTwiceOrSampleOutsideIt_Throws()
    {
        var writer = new PrometheusWriter();
        writer.Family("demo_total", "counter", "x");
        Assert.Throws<InvalidOperationException>(() => writer.Family("demo_total", "counter", "x"));
        Assert.Throws<InvalidOperationException>(() => writer.Sample("other_total", 1L));
        Assert.Throws<ArgumentException>(() => writer.Sample("demo_total", 1L, ("__reserved", "x")));
    }

    [Fact]
    public void Parser_RejectsMalformedExpositions()
    {
        Assert.ThrowsAny<Exception>(() => PrometheusText.Parse("no_type 1\n"));
        Assert.ThrowsAny<Exception>(() => PrometheusText.Parse("# HELP a x\n# TYPE a gauge\na{l=\"bad\\t\"} 1\n"));
        Assert.ThrowsAny<Exception>(() => PrometheusText.Parse(
            "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 2\n"));
        Assert.ThrowsAny<Exception>(() => PrometheusText.Parse(
            "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n"));
        Assert.ThrowsAny<Exception>(() => PrometheusText.Parse("# HELP a x\n# TYPE a gauge\na 1,5\n"));
    }
}
