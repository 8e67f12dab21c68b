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

    public SarifLimits Limits => new(MaxRuns, MaxResultsPerRun, MaxLocationsPerResult);
}
