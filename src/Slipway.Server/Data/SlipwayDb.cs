using System.Text.Json;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;
using Slipway.Server.ApiKeys;
using Slipway.Server.Auth;
using Slipway.Server.Deployments;
using Slipway.Server.Domains;
using Slipway.Server.EnvVars;
using Slipway.Server.Events;
using Slipway.Server.GitHub;
using Slipway.Server.Hosting;
using Slipway.Server.Logs;
using Slipway.Server.Projects;
using Slipway.Server.Runtime.Sandbox;
using Slipway.Server.Security;
using Slipway.Server.Uploads;
using Slipway.Server.Webhooks;
using Slipway.Server.Workspaces;

namespace Slipway.Server.Data;

/// <summary>
/// The EF Core model, configured in code against the schema that the SQL files in <c>Migrations/</c> own.
/// Names are snake_case and enums are stored as their API spelling, so the database reads like the API.
/// </summary>
internal sealed class SlipwayDb(DbContextOptions<SlipwayDb> options) : DbContext(options)
{
    public DbSet<User> Users => Set<User>();
    public DbSet<Workspace> Workspaces => Set<Workspace>();
    public DbSet<WorkspaceMember> WorkspaceMembers => Set<WorkspaceMember>();
    public DbSet<ApiKey> ApiKeys => Set<ApiKey>();
    public DbSet<Invitation> Invitations => Set<Invitation>();
    public DbSet<Project> Projects => Set<Project>();
    public DbSet<ProjectEnvironment> Environments => Set<ProjectEnvironment>();
    public DbSet<EnvVar> EnvVars => Set<EnvVar>();
    public DbSet<Domain> Domains => Set<Domain>();
    public DbSet<IdempotencyRecord> IdempotencyRecords => Set<IdempotencyRecord>();
    public DbSet<InstanceClaim> InstanceClaims => Set<InstanceClaim>();
    public DbSet<Deployment> Deployments => Set<Deployment>();
    public DbSet<LogLine> LogLines => Set<LogLine>();
    public DbSet<Event> Events => Set<Event>();
    public DbSet<WebhookEndpoint> WebhookEndpoints => Set<WebhookEndpoint>();
    public DbSet<WebhookDelivery> WebhookDeliveries => Set<WebhookDelivery>();
    public DbSet<WebhookAttempt> WebhookAttempts => Set<WebhookAttempt>();
    public DbSet<GitHubIntegration> GitHubIntegrations => Set<GitHubIntegration>();
    public DbSet<GitHubDelivery> GitHubDeliveries => Set<GitHubDelivery>();
    public DbSet<RepositorySettings> RepositorySettings => Set<RepositorySettings>();
    public DbSet<Scan> Scans => Set<Scan>();
    public DbSet<Finding> Findings => Set<Finding>();
    public DbSet<FindingChange> FindingHistory => Set<FindingChange>();
    public DbSet<Fix> Fixes => Set<Fix>();
    public DbSet<Upload> Uploads => Set<Upload>();
    public DbSet<UploadChange> UploadHistory => Set<UploadChange>();

    protected override void OnModelCreating(ModelBuilder model)
    {
        model.Entity<User>().ToTable("users");
        model.Entity<Workspace>().ToTable("workspaces");
        model.Entity<WorkspaceMember>().ToTable("workspace_members").HasKey(m => new { m.WorkspaceId, m.UserId });
        model.Entity<ApiKey>().ToTable("api_keys");
        model.Entity<Invitation>().ToTable("invitations");
        model.Entity<Invitation>().HasOne<Workspace>().WithMany().HasForeignKey(i => i.WorkspaceId).OnDelete(DeleteBehavior.Cascade);
        model.Entity<Project>().ToTable("projects");
        model.Entity<ProjectEnvironment>().ToTable("environments");
        model.Entity<EnvVar>().ToTable("env_vars");
        model.Entity<Domain>().ToTable("domains");
        model.Entity<IdempotencyRecord>().ToTable("idempotency_records").HasKey(r => new { r.Caller, r.Key });
        model.Entity<InstanceClaim>().ToTable("instance_claims").HasKey(c => c.Name);
        model.Entity<InstanceClaim>().HasOne<User>().WithMany().HasForeignKey(c => c.UserId).OnDelete(DeleteBehavior.Cascade);

        model.Entity<Deployment>().ToTable("deployments");
        model.Entity<LogLine>().ToTable("deployment_logs").HasKey(l => new { l.DeploymentId, l.Seq });
        model.Entity<Event>().ToTable("events");
        model.Entity<WebhookEndpoint>().ToTable("webhook_endpoints");
        model.Entity<WebhookDelivery>().ToTable("webhook_deliveries");
        model.Entity<WebhookAttempt>().ToTable("webhook_attempts");

        // Relationships without navigations: they tell EF the insert/delete order the foreign keys in the SQL demand.
        model.Entity<WorkspaceMember>().HasOne<Workspace>().WithMany().HasForeignKey(m => m.WorkspaceId).OnDelete(DeleteBehavior.Cascade);
        model.Entity<WorkspaceMember>().HasOne<User>().WithMany().HasForeignKey(m => m.UserId).OnDelete(DeleteBehavior.Cascade);
        model.Entity<Project>().HasOne<Workspace>().WithMany().HasForeignKey(p => p.WorkspaceId).OnDelete(DeleteBehavior.Cascade);
        model.Entity<ProjectEnvironment>().HasOne<Project>().WithMany().HasForeignKey(e => e.ProjectId).OnDelete(DeleteBehavior.Cascade);
        model.Entity<ApiKey>().HasOne<Workspace>().WithMany().HasForeignKey(k => k.WorkspaceId).OnDelete(DeleteBehavior.Cascade);
        model.Entity<ApiKey>().HasOne<Project>().WithMany().HasForeignKey(k => k.ProjectId).OnDelete(DeleteBehavior.Cascade);
        model.Entity<ApiKey>().HasOne<User>().WithMany().HasForeignKey(k => k.CreatedBy).OnDelete(DeleteBehavior.Cascade);
        model.Entity<EnvVar>().HasOne<Project>().WithMany().HasForeignKey(v => v.ProjectId).OnDelete(DeleteBehavior.Cascade);
        model.Entity<EnvVar>().HasOne<ProjectEnvironment>().WithMany().HasForeignKey(v => v.EnvironmentId).OnDelete(DeleteBehavior.Cascade);
        model.Entity<Domain>().HasOne<Project>().WithMany().HasForeignKey(d => d.ProjectId).OnDelete(DeleteBehavior.Cascade);
        model.Entity<Domain>().HasOne<ProjectEnvironment>().WithMany().HasForeignKey(d => d.EnvironmentId).OnDelete(DeleteBehavior.Cascade);

        model.Entity<Deployment>().HasOne<Workspace>().WithMany().HasForeignKey(d => d.WorkspaceId).OnDelete(DeleteBehavior.Cascade);
        model.Entity<Deployment>().HasOne<Project>().WithMany().HasForeignKey(d => d.ProjectId).OnDelete(DeleteBehavior.Cascade);
        model.Entity<Deployment>().HasOne<ProjectEnvironment>().WithMany().HasForeignKey(d => d.EnvironmentId).OnDelete(DeleteBehavior.Cascade);
        model.Entity<WebhookEndpoint>().HasOne<Workspace>().WithMany().HasForeignKey(w => w.WorkspaceId).OnDelete(DeleteBehavior.Cascade);
        model.Entity<WebhookEndpoint>().HasOne<Project>().WithMany().HasForeignKey(w => w.ProjectId).OnDelete(DeleteBehavior.Cascade);
        model.Entity<WebhookDelivery>().HasOne<WebhookEndpoint>().WithMany().HasForeignKey(d => d.EndpointId).OnDelete(DeleteBehavior.Cascade);
        model.Entity<WebhookDelivery>().HasOne<Event>().WithMany().HasForeignKey(d => d.EventId).OnDelete(DeleteBehavior.Cascade);
        model.Entity<WebhookAttempt>().HasOne<WebhookDelivery>().WithMany().HasForeignKey(a => a.DeliveryId).OnDelete(DeleteBehavior.Cascade);
        model.Entity<LogLine>().HasOne<Deployment>().WithMany().HasForeignKey(l => l.DeploymentId).OnDelete(DeleteBehavior.Cascade);

        model.Entity<GitHubIntegration>().ToTable("github_integrations");
        model.Entity<GitHubDelivery>().ToTable("github_deliveries").HasKey(d => new { d.HookId, d.DeliveryId });
        model.Entity<GitHubIntegration>().HasOne<Project>().WithMany().HasForeignKey(i => i.ProjectId).OnDelete(DeleteBehavior.Cascade);
        model.Entity<GitHubDelivery>().HasOne<GitHubIntegration>().WithMany().HasForeignKey(d => d.HookId).OnDelete(DeleteBehavior.Cascade);

        model.Entity<SandboxAccount>().ToTable("sandbox_accounts").HasKey(a => a.ProjectId);
        model.Entity<SandboxAccount>().HasOne<Project>().WithMany().HasForeignKey(a => a.ProjectId).OnDelete(DeleteBehavior.Cascade);
        model.Entity<RepositorySettings>().ToTable("repository_settings").HasKey(r => r.ProjectId);
        model.Entity<RepositorySettings>().HasOne<Project>().WithMany().HasForeignKey(r => r.ProjectId).OnDelete(DeleteBehavior.Cascade);
        model.Entity<Scan>().ToTable("scans");
        model.Entity<Scan>().HasOne<Project>().WithMany().HasForeignKey(s => s.ProjectId).OnDelete(DeleteBehavior.Cascade);
        model.Entity<Finding>().ToTable("findings");
        model.Entity<Finding>().HasOne<Project>().WithMany().HasForeignKey(f => f.ProjectId).OnDelete(DeleteBehavior.Cascade);
        model.Entity<FindingChange>().ToTable("finding_history");
        model.Entity<Fix>().ToTable("fixes");
        model.Entity<Fix>().HasOne<Finding>().WithMany().HasForeignKey(f => f.FindingId).OnDelete(DeleteBehavior.Cascade);
        model.Entity<FindingChange>().HasOne<Finding>().WithMany().HasForeignKey(c => c.FindingId).OnDelete(DeleteBehavior.Cascade);
        model.Entity<Upload>().ToTable("uploads");
        model.Entity<Upload>().HasOne<Project>().WithMany().HasForeignKey(u => u.ProjectId).OnDelete(DeleteBehavior.Cascade);
        model.Entity<Upload>().HasOne<ProjectEnvironment>().WithMany().HasForeignKey(u => u.EnvironmentId).OnDelete(DeleteBehavior.Cascade);
        model.Entity<UploadChange>().ToTable("upload_history");
        model.Entity<UploadChange>().HasOne<Upload>().WithMany().HasForeignKey(c => c.UploadId).OnDelete(DeleteBehavior.Cascade);

        foreach (var entity in model.Model.GetEntityTypes())
        {
            foreach (var property in entity.GetProperties())
            {
                property.SetColumnName(JsonNamingPolicy.SnakeCaseLower.ConvertName(property.Name));
                var type = Nullable.GetUnderlyingType(property.ClrType) ?? property.ClrType;
                if (type.IsEnum)
                {
                    property.SetValueConverter((ValueConverter)Activator.CreateInstance(typeof(SnakeEnumConverter<>).MakeGenericType(type))!);
                }
            }
        }
    }

    private sealed class SnakeEnumConverter<T>() : ValueConverter<T, string>(v => ToText(v), s => Parse(s)) where T : struct, Enum
    {
        private static string ToText(T value) => ApiEnums.Text(value);
        private static T Parse(string text) => Enum.Parse<T>(text.Replace("_", "", StringComparison.Ordinal), ignoreCase: true);
    }
}
