using System.Text.Json;
using System.Text.Json.Nodes;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.ApiKeys;

/// <summary>Intent methods for keys and members, shared by the Auth, Workspaces and ApiKeys tests.</summary>
internal static class KeyIntents
{
    /// <summary>Creates a key (201 expected); <paramref name="extra"/> adds workspace_id, project_id, expires_at.</summary>
    public static async Task<JsonNode> CreateKeyAsync(this SlipwayServer server, string token, string[]? scopes = null, object? extra = null)
    {
        var body = new Dictionary<string, object?> { ["name"] = "key-" + Guid.NewGuid().ToString("N")[..8], ["scopes"] = scopes ?? ["*"] };
        if (extra is not null)
        {
            foreach (var (key, value) in JsonSerializer.SerializeToNode(extra)!.AsObject()) body[key] = value?.DeepClone();
        }
        return (await server.PostAsync("/api/v1/api-keys", body, token)).AssertStatus(201).Json;
    }

    public static async Task<string> KeyAsync(this SlipwayServer server, string token, string[]? scopes = null, object? extra = null) =>
        (await server.CreateKeyAsync(token, scopes, extra))["key"]!.GetValue<string>();

    public static async Task<JsonNode> AddMemberAsync(this SlipwayServer server, string token, string workspaceId, TestUser user, string role) =>
        (await server.PostAsync($"/api/v1/workspaces/{workspaceId}/members", new { email = user.Email, role }, token)).AssertStatus(201).Json;

    public static async Task<string> CreateWorkspaceAsync(this SlipwayServer server, string token, string name = "Team") =>
        (await server.PostAsync("/api/v1/workspaces", new { name }, token)).AssertStatus(201).Json["id"]!.GetValue<string>();

    public static string Id(this JsonNode node) => node["id"]!.GetValue<string>();

    public static List<string> Ids(this ApiResponse response) =>
        response.AssertStatus(200).Json["data"]!.AsArray().Select(n => n!["id"]!.GetValue<string>()).ToList();
}
