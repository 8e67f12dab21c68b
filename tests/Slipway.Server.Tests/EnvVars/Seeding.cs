using Microsoft.Extensions.DependencyInjection;
using Slipway.Server.ApiKeys;
using Slipway.Server.Data;
using Slipway.Server.Tests.Support;
using Slipway.Server.Workspaces;

namespace Slipway.Server.Tests.EnvVars;

/// <summary>
/// Rows the API of other features will create (members, API keys), written straight to the database so these
/// tests can exercise roles and scopes on their own.
/// </summary>
internal static class Seeding
{
    public static async Task AddMemberAsync(this SlipwayServer server, string workspaceId, string userId, WorkspaceRole role)
    {
        await using var scope = server.Service<IServiceScopeFactory>().CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
        db.WorkspaceMembers.Add(new WorkspaceMember { WorkspaceId = workspaceId, UserId = userId, Role = role, CreatedAt = DateTime.UtcNow });
        await db.SaveChangesAsync();
    }

    /// <summary>A fresh <c>slp_</c> key of <paramref name="user"/> in its personal workspace with exactly these scopes.</summary>
    public static async Task<string> CreateApiKeyAsync(this SlipwayServer server, TestUser user, params string[] scopes)
    {
        var key = ApiKeyAuthenticator.NewKey();
        await using var scope = server.Service<IServiceScopeFactory>().CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
        db.ApiKeys.Add(new ApiKey
        {
            Id = Guid.CreateVersion7().ToString(), WorkspaceId = user.WorkspaceId, Name = "test", Prefix = key[..8],
            KeyHash = ApiKeyAuthenticator.Hash(key), Scopes = string.Join(' ', scopes), CreatedBy = user.Id, CreatedAt = DateTime.UtcNow,
        });
        await db.SaveChangesAsync();
        return key;
    }

    public static async Task<T> WithDbAsync<T>(this SlipwayServer server, Func<SlipwayDb, Task<T>> action)
    {
        await using var scope = server.Service<IServiceScopeFactory>().CreateAsyncScope();
        return await action(scope.ServiceProvider.GetRequiredService<SlipwayDb>());
    }
}
