using System.Text.RegularExpressions;

namespace Slipway.Server.Security;

/// <summary>
/// The classification a finding gets before anybody looks at it, by rules simple enough to state in one sentence each
/// (docs/security.md lists them). The first rule that matches wins; a person's verdict always overrides.
/// </summary>
internal static partial class AutoTriage
{
    // reported: the raw text the tool pointed at (before any masking), when known.
    public static (Classification Classification, string Rationale) Classify(string? path, string message, string? reported)
    {
        if (path is not null && TestPath().IsMatch(path))
            return (Classification.UsedInTests, $"The location '{path}' is test or fixture code, which does not ship.");
        if (path is not null && VendoredPath().IsMatch(path))
            return (Classification.WontFix, $"The location '{path}' is vendored, minified or generated code, fixed upstream rather than here.");
        if (ExampleSecret().Match($"{message}\n{reported}") is { Success: true } example)
            return (Classification.FalsePositive, $"The reported value contains '{example.Value}', a documented example value, not a real secret.");
        return (Classification.NeedsReview, "No automatic rule applies; a person should review this finding.");
    }

    [GeneratedRegex(@"(^|/)(tests?|__tests__|spec|specs|fixtures?|__fixtures__|testdata|__mocks__)/|(\.|_|-)(test|spec)\.[A-Za-z0-9]+$|(^|/)test_[^/]*\.py$|_test\.go$", RegexOptions.IgnoreCase)]
    private static partial Regex TestPath();

    [GeneratedRegex(@"(^|/)(node_modules|vendor|third_party|third-party|bower_components|dist|build|generated)/|\.min\.(js|css)$|\.(generated|g)\.[A-Za-z]+$|\.pb\.go$", RegexOptions.IgnoreCase)]
    private static partial Regex VendoredPath();

    /// <summary>Values that vendors publish in their documentation as examples (AWS's EXAMPLE keys, Stripe's test keys).</summary>
    [GeneratedRegex(@"AKIAIOSFODNN7EXAMPLE|wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY|\b[A-Z0-9]{12,}EXAMPLE\b|sk_test_[0-9A-Za-z]{10,}|xoxb-EXAMPLE")]
    private static partial Regex ExampleSecret();
}
