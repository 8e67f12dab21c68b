namespace Slipway.Server.Uploads;

/// <summary><c>Slipway:Uploads</c>: what an uploaded archive may be.</summary>
internal sealed class UploadOptions
{
    public const string SectionName = "Slipway:Uploads";

    /// <summary>The archive as sent; above it the request is refused with 413.</summary>
    public long MaxUploadBytes { get; set; } = 2L << 30;
    public int MaxEntries { get; set; } = 100_000;
    public long MaxUncompressedBytes { get; set; } = 8L << 30;
    /// <summary>Uncompressed size over archive size, for the whole archive and for each zip entry above 1 MiB.</summary>
    public double MaxCompressionRatio { get; set; } = 100;
}
