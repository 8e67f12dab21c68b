using Slipway.Server.Hosting;

namespace Slipway.Server.Domains;

internal sealed class Domain : IHasId, IProjectOwned
{
    public required string Id { get; init; }
    public required string ProjectId { get; init; }
    public required string EnvironmentId { get; init; }
    public required string Hostname { get; init; }
    public DateTime CreatedAt { get; init; }
}
