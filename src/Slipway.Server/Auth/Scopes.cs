namespace Slipway.Server.Auth;

/// <summary>API-key scopes of api-conventions.md. A <c>:write</c> scope does not imply <c>:read</c>.</summary>
internal static class Scopes
{
    public const string All = "*";
    public const string ProjectsRead = "projects:read";
    public const string ProjectsWrite = "projects:write";
    public const string DeploymentsRead = "deployments:read";
    public const string DeploymentsWrite = "deployments:write";
    public const string LogsRead = "logs:read";
    public const string EnvRead = "env:read";
    public const string EnvWrite = "env:write";
    public const string DomainsRead = "domains:read";
    public const string DomainsWrite = "domains:write";
    public const string WebhooksRead = "webhooks:read";
    public const string WebhooksWrite = "webhooks:write";
    public const string ArtifactsRead = "artifacts:read";
    public const string ArtifactsWrite = "artifacts:write";
    public const string SecurityRead = "security:read";
    public const string SecurityWrite = "security:write";
    public const string UsageRead = "usage:read";
    public const string KeysWrite = "keys:write";

    /// <summary>Marks endpoints only a signed-in user (JWT) may call: account and membership management.</summary>
    public const string UserSession = "user_session";

    public static readonly IReadOnlySet<string> Known = new HashSet<string>(StringComparer.Ordinal)
    {
        All, ProjectsRead, ProjectsWrite, DeploymentsRead, DeploymentsWrite, LogsRead, EnvRead, EnvWrite, DomainsRead,
        DomainsWrite, WebhooksRead, WebhooksWrite, ArtifactsRead, ArtifactsWrite, SecurityRead, SecurityWrite, UsageRead, KeysWrite,
    };
}
