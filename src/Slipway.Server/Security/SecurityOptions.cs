using Slipway.Server.Security.Sarif;

namespace Slipway.Server.Security;

internal sealed class SecurityOptions
{
    public const string SectionName = "Slipway:Security";

    /// <summary>Largest SARIF upload as sent (gzipped or not): GitHub's 10 MB.</summary>
    public long MaxUploadBytes { get; set; } = 10 * 1024 * 1024;

    /// <summary>Largest SARIF document after decompression; beyond it the upload is a gzip bomb and refused (413).</summary>
    public long MaxDocumentBytes { get; set; } = 512L * 1024 * 1024;

    public int MaxRuns { get; set; } = 20;
    public int MaxResultsPerRun { get; set; } = 25_000;
    public int MaxLocationsPerResult { get; set; } = 1_000;

    /// <summary>The directory whose <c>node_modules/</c> holds the npm presets; found above the server's binaries when unset.</summary>
    public string? ToolsDirectory { get; set; }

    /// <summary>The operator's own scanners by name: a shell command that writes SARIF to <c>$SARIF_OUTPUT</c>.</summary>
    public Dictionary<string, CustomScanner> Scanners { get; set; } = [];

    /// <summary>How long one scanner may run over one checkout.</summary>
    public TimeSpan ScannerTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Tools whose findings are secrets: their snippets are stored with the reported span masked.</summary>
    public List<string> SecretScanners { get; set; } = ["secretlint", "gitleaks", "trufflehog", "detect-secrets", "ggshield"];

    public SarifLimits Limits => new(MaxRuns, MaxResultsPerRun, MaxLocationsPerResult);
}

internal sealed class CustomScanner
{
    public string? Command { get; set; }
    public string? Description { get; set; }
}
