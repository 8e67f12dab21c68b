using Slipway.Server.Hosting;

namespace Slipway.Server.Uploads;

/// <summary>uploaded → validating → pending_approval → approved → distributing → distributed, or rejected / failed.</summary>
internal enum UploadStatus
{
    Uploaded,
    Validating,
    PendingApproval,
    Approved,
    Distributing,
    Distributed,
    Rejected,
    Failed,
}

internal enum UploadApproval
{
    Automatic,
    Manual,
}

internal enum ArchiveFormat
{
    Zip,
    TarGz,
}

/// <summary>A packaged build handed to Slipway; once approved, its extracted tree is the source of its deployments.</summary>
internal sealed class Upload : IHasId, IProjectOwned
{
    public required string Id { get; init; }
    public required string WorkspaceId { get; init; }
    public required string ProjectId { get; init; }
    public required string EnvironmentId { get; init; }
    public UploadStatus Status { get; set; }
    public required string FileName { get; init; }
    public ArchiveFormat Format { get; init; }
    public long Size { get; init; }
    public required string Sha256 { get; init; }
    public string? Version { get; init; }
    public string? Notes { get; init; }
    public bool AutoRelease { get; init; }
    public int? Entries { get; set; }
    public long? UncompressedSize { get; set; }
    /// <summary>Why it was rejected or failed.</summary>
    public string? Reason { get; set; }
    /// <summary>Its latest distribution.</summary>
    public string? DeploymentId { get; set; }
    /// <summary>True once retention (or a delete) removed its files: it can no longer be distributed.</summary>
    public bool FilesCollected { get; set; }
    public string? CreatedBy { get; init; }
    public string? ReviewedBy { get; set; }
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; set; }
    public DateTime? DistributedAt { get; set; }
}

/// <summary>One change of an upload's status, with who made it and why.</summary>
internal sealed class UploadChange : IHasId
{
    public required string Id { get; init; }
    public required string UploadId { get; init; }
    public UploadStatus? FromStatus { get; init; }
    public UploadStatus ToStatus { get; init; }
    public string? Actor { get; init; }
    public string? Reason { get; init; }
    public DateTime At { get; init; }
}
