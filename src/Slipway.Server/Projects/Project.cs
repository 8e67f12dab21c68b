using Slipway.Server.Hosting;

namespace Slipway.Server.Projects;

internal enum Framework
{
    Auto,
    Static,
    Node,
    Nextjs,
    Python,
    Dotnet,
    Go,
    Custom,
}

internal sealed class Project : IHasId
{
    public required string Id { get; init; }
    public required string WorkspaceId { get; init; }
    public required string Name { get; set; }
    /// <summary>With <c>****</c> in place of a credential, which is in <see cref="RepoCredentialSealed"/> (see RepoCredentials).</summary>
    public required string RepoUrl { get; set; }
    /// <summary>nonce ‖ ciphertext ‖ tag of the URL's user-info part; null when the URL has none.</summary>
    public byte[]? RepoCredentialSealed { get; set; }
    public string? RepoCredentialKeyId { get; set; }
    /// <summary>Empty: the repository's default branch (its HEAD), told by each checkout.</summary>
    public required string Branch { get; set; }
    public string? BuildCommand { get; set; }
    public string? StartCommand { get; set; }
    public Framework Framework { get; set; }
    public string? RootDirectory { get; set; }
    public string? OutputDirectory { get; set; }
    public required string HealthCheckPath { get; set; }
    public bool AutoDeploy { get; set; }
    /// <summary>Whether uploads wait for an owner or admin (manual) or are approved once validated (automatic).</summary>
    public Uploads.UploadApproval UploadApproval { get; set; }
    /// <summary>With manual approval: the uploader may not approve their own upload.</summary>
    public bool PreventSelfReview { get; set; }
    /// <summary>Limits of its builds and releases; null: the instance default (see ResourceRules.Effective).</summary>
    public int? ResourceMemoryMb { get; set; }
    /// <summary>CPUs in thousandths.</summary>
    public int? ResourceMillicpus { get; set; }
    public int? ResourcePids { get; set; }
    public string? LiveDeploymentId { get; set; }
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; set; }

    /// <summary>A private copy: cached snapshots are shared and must never be changed by a caller.</summary>
    public Project Copy() => (Project)MemberwiseClone();
}

/// <summary>A named deployment target of a project (production, staging, previews). BuildPixel calls these build settings.</summary>
internal sealed class ProjectEnvironment : IHasId
{
    public const string Production = "production";

    public required string Id { get; init; }
    public required string ProjectId { get; init; }
    public required string Name { get; set; }
    /// <summary>Null: the project's branch.</summary>
    public string? Branch { get; set; }
    public string? BuildCommand { get; set; }
    public string? StartCommand { get; set; }
    /// <summary>Null: the project's setting.</summary>
    public bool? AutoDeploy { get; set; }
    /// <summary>Overrides of the project's limits; null: the project's.</summary>
    public int? ResourceMemoryMb { get; set; }
    public int? ResourceMillicpus { get; set; }
    public int? ResourcePids { get; set; }
    public string? LiveDeploymentId { get; set; }
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; set; }
}
