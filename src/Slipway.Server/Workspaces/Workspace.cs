using Slipway.Server.Hosting;

namespace Slipway.Server.Workspaces;

internal enum WorkspaceRole
{
    Owner,
    Admin,
    Developer,
    Viewer,
}

internal enum RateLimitTier
{
    Standard,
    Enterprise,
}

internal sealed class Workspace : IHasId
{
    public required string Id { get; init; }
    public required string Name { get; set; }
    public RateLimitTier Tier { get; set; }
    public bool IsPersonal { get; init; }
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; set; }
}

internal sealed class WorkspaceMember
{
    public required string WorkspaceId { get; init; }
    public required string UserId { get; init; }
    public WorkspaceRole Role { get; set; }
    public DateTime CreatedAt { get; init; }
}
