using System.Text.Json;
using Slipway.Server.Routing;
using Slipway.Server.Projects;

namespace Slipway.Server.Deployments;

internal sealed record ArtifactResponse(string Sha256, long Size);

internal sealed record DeploymentResponse(
    string Id, string BuildId, string ProjectId, string EnvironmentId, string Environment, DeploymentStatus Status, bool IsLive,
    string Url, string Branch, string? CommitSha, string? CommitMessage, DeploymentTrigger Trigger, string? SourceDeploymentId, string? UploadId,
    string? Framework, ArtifactResponse? Artifact, string? Error, IReadOnlyDictionary<string, long> Timings, string? CreatedBy,
    DateTime CreatedAt, DateTime UpdatedAt, DateTime? StartedAt, DateTime? FinishedAt)
{
    public static DeploymentResponse From(Deployment d, Project project, ProjectEnvironment environment, RouterOptions router) => new(
        d.Id, d.BuildId, d.ProjectId, d.EnvironmentId, environment.Name, d.Status, environment.LiveDeploymentId == d.Id,
        ProjectEndpoints.Url(router, Hosts.EnvironmentLabel(project.Name, environment.Name)), d.Branch,
        // The requested commit until the checkout records the one it got (issue 13: echoed at once).
        d.CommitSha ?? d.RequestedCommitSha, d.CommitMessage,
        d.Trigger, d.SourceDeploymentId, d.UploadId, d.Framework,
        d.ArtifactSha256 is { } sha && !d.ArtifactCollected ? new ArtifactResponse(sha, d.ArtifactSize ?? 0) : null,
        d.Error, ParseTimings(d.Timings), d.CreatedBy, d.CreatedAt, d.UpdatedAt, d.StartedAt, d.FinishedAt);

    public static IReadOnlyDictionary<string, long> ParseTimings(string json) =>
        JsonSerializer.Deserialize<Dictionary<string, long>>(json) ?? [];
}

internal sealed record BuildResponse(
    string Id, string DeploymentId, string ProjectId, BuildStatus Status, string? CommitSha, long? DurationMs, long? ArtifactSize,
    string? ArtifactSha256, DateTime CreatedAt, DateTime? StartedAt, DateTime? FinishedAt)
{
    public static BuildResponse From(Deployment d) => new(
        d.BuildId, d.Id, d.ProjectId, d.BuildStatus, d.CommitSha,
        d.BuildStartedAt is { } s && d.BuildFinishedAt is { } f ? (long)(f - s).TotalMilliseconds : null,
        d.ArtifactSize, d.ArtifactSha256, d.CreatedAt, d.BuildStartedAt, d.BuildFinishedAt);
}

internal sealed record TriggerResponse(string BuildId, string DeploymentId, DeploymentStatus Status);

internal sealed record BuildTriggerResponse(string BuildId, string DeploymentId, BuildStatus Status);

/// <summary>Host names the router answers for: <c>{project}</c> for production, <c>{project}-{environment}</c> otherwise.</summary>
internal static class Hosts
{
    public static string EnvironmentLabel(string project, string environment) =>
        environment == ProjectEnvironment.Production ? project : $"{project}-{environment}";
}
