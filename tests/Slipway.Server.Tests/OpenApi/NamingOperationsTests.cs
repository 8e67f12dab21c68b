using Slipway.Server.OpenApi;

namespace Slipway.Server.Tests.OpenApi;

/// <summary>Operation ids and summaries for endpoints that did not name themselves, from method, route and handler name.</summary>
public sealed class NamingOperationsTests
{
    [Theory]
    [InlineData("GET", "api/v1/projects", "getProjects")]
    [InlineData("GET", "api/v1/projects/{id}", "getProjectsById")]
    [InlineData("DELETE", "api/v1/projects/{projectId}/environments/{envId}", "deleteProjectsByProjectIdEnvironmentsByEnvId")]
    [InlineData("PUT", "api/v1/workspaces/{workspaceId}/members/{userId:guid}", "putWorkspacesByWorkspaceIdMembersByUserId")]
    [InlineData("POST", "api/v1/api-keys", "postApiKeys")]
    [InlineData("GET", "ready", "getReady")]
    [InlineData("GET", "", "getRoot")]
    public void OperationId_FromMethodAndRoute_IsCamelCaseWithoutPrefix(string method, string route, string expected) =>
        Assert.Equal(expected, OperationNames.OperationId(method, route));

    [Theory]
    [InlineData("GET", "api/v1/projects", "ListAsync", false, true, "List projects")]
    [InlineData("GET", "api/v1/projects/{id}", "GetAsync", false, false, "Get project")]
    [InlineData("POST", "api/v1/projects/{projectId}/environments", "CreateAsync", true, false, "Create environment")]
    [InlineData("POST", "api/v1/auth/password", "ChangePasswordAsync", false, false, "Change password")]
    [InlineData("PATCH", "api/v1/api-keys/{id}", "UpdateAsync", false, false, "Update API key")]
    [InlineData("GET", "api/v1/workspaces/{workspaceId}/members", "<Map>b__0_1", false, true, "List members")]
    [InlineData("POST", "api/v1/api-keys", "<Map>b__0_2", false, false, "Create API key")]
    [InlineData("POST", "api/v1/deployments/{id}/cancel", "<Map>b__0_3", false, false, "Cancel deployment")]
    [InlineData("DELETE", "api/v1/domains/{id}", null, false, false, "Delete domain")]
    [InlineData("GET", "health", null, false, false, "Get health")]
    public void Summary_FromHandlerOrRoute_IsShortSentence(string method, string route, string? handler, bool created, bool list, string expected) =>
        Assert.Equal(expected, OperationNames.Summary(method, route, handler, created, list));
}
