using System.Text;
using Microsoft.EntityFrameworkCore;
using System.Text.Json.Nodes;
using Slipway.Server.Auth;
using Slipway.Server.Tests.Support;
using Slipway.Server.Workspaces;

namespace Slipway.Server.Tests.EnvVars;

public sealed class ManagingEnvVarsTests : IAsyncLifetime
{
    private SlipwayServer server = null!;

    public async Task InitializeAsync() => server = await SlipwayServer.StartAsync();

    public async Task DisposeAsync() => await server.DisposeAsync();

    private async Task<(TestUser User, string ProjectId)> ProjectAsync()
    {
        var user = await server.RegisterUserAsync();
        return (user, (await server.CreateProjectAsync(user.Token))["id"]!.GetValue<string>());
    }

    private static void AssertFieldError(ApiResponse response, string field)
    {
        response.AssertError(400, "validation_failed");
        Assert.Contains(response.Json["error"]!["details"]!.AsArray(), d => d!["field"]!.GetValue<string>() == field);
    }

    [Fact]
    public async Task Set_ValueWithInvalidUtf8OrAnUnpairedSurrogate_Is400InvalidJson()
    {
        var (user, projectId) = await ProjectAsync();
        var body = new ByteArrayContent([.. Encoding.UTF8.GetBytes($"{{\"project_id\":\"{projectId}\",\"key\":\"K\",\"value\":\""), 0xff, .. "\"}"u8]);
        body.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");

        (await server.SendAsync(HttpMethod.Post, "/api/v1/env", body, user.Token)).AssertError(400, "invalid_json");
        // As in every typed string field of every other body.
        (await server.SendAsync(HttpMethod.Post, "/api/v1/env", $"{{\"project_id\":\"{projectId}\",\"key\":\"K\",\"value\":\"\\ud800\"}}",
            user.Token)).AssertError(400, "invalid_json");
    }

    [Fact]
    public async Task Set_NewKey_Returns201WithNameAndNoValue()
    {
        var (user, projectId) = await ProjectAsync();

        var response = (await server.PostAsync("/api/v1/env", new { project_id = projectId, key = "DATABASE_URL", value = "postgres://x" }, user.Token))
            .AssertStatus(201);

        var json = response.Json.AsObject();
        Assert.Equal("DATABASE_URL", json["key"]!.GetValue<string>());
        Assert.Equal(projectId, json["project_id"]!.GetValue<string>());
        Assert.Equal("production", json["environment"]!.GetValue<string>());
        Assert.True(json["has_value"]!.GetValue<bool>());
        Assert.True(Guid.TryParse(json["id"]!.GetValue<string>(), out _));
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", json["updated_at"]!.GetValue<string>());
        Assert.Equal(["id", "project_id", "environment", "key", "has_value", "created_at", "updated_at"], json.Select(p => p.Key));
    }

    [Fact]
    public async Task Set_ExistingKey_Returns200WithSameIdAndOneListEntry()
    {
        var (user, projectId) = await ProjectAsync();
        var first = (await server.PostAsync("/api/v1/env", new { project_id = projectId, key = "PORT", value = "1" }, user.Token)).AssertStatus(201).Json;

        var second = (await server.PostAsync("/api/v1/env", new { project_id = projectId, key = "PORT", value = "2" }, user.Token)).AssertStatus(200).Json;

        Assert.Equal(first["id"]!.GetValue<string>(), second["id"]!.GetValue<string>());
        Assert.Equal(first["created_at"]!.GetValue<string>(), second["created_at"]!.GetValue<string>());
        Assert.True(second["has_value"]!.GetValue<bool>());
        var list = (await server.GetAsync($"/api/v1/env?project_id={projectId}", user.Token)).AssertStatus(200).Json;
        Assert.Single(list["data"]!.AsArray());
        var values = await server.Service<Slipway.Server.EnvVars.EnvVarSecrets>().DecryptAllAsync(projectId, await ProductionIdAsync(projectId),
            CancellationToken.None);
        Assert.Equal("2", values["PORT"]);
    }

    [Fact]
    public async Task Set_SameNewKeyConcurrently_CreatesOnceAndUpdatesTheRest()
    {
        var (user, projectId) = await ProjectAsync();

        var responses = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            server.PostAsync("/api/v1/env", new { project_id = projectId, key = "RACE", value = $"v{i}" }, user.Token)));

        Assert.All(responses, r => Assert.True(r.Status is 200 or 201, r.Body));
        Assert.Single(responses, r => r.Status == 201);
        Assert.Single(responses.Select(r => r.Json["id"]!.GetValue<string>()).Distinct());
        var values = await server.Service<Slipway.Server.EnvVars.EnvVarSecrets>().DecryptAllAsync(projectId, await ProductionIdAsync(projectId),
            CancellationToken.None);
        Assert.Matches("^v[0-7]$", Assert.Single(values).Value);
    }

    [Fact]
    public async Task Set_EmptyAndMaximalValues_AreAccepted()
    {
        var (user, projectId) = await ProjectAsync();
        var maximal = new string('é', 32 * 1024);

        (await server.PostAsync("/api/v1/env", new { project_id = projectId, key = "EMPTY", value = "" }, user.Token)).AssertStatus(201);
        (await server.PostAsync("/api/v1/env", new { project_id = projectId, key = "BIG", value = maximal }, user.Token)).AssertStatus(201);

        var values = await server.Service<Slipway.Server.EnvVars.EnvVarSecrets>().DecryptAllAsync(projectId, await ProductionIdAsync(projectId),
            CancellationToken.None);
        Assert.Equal("", values["EMPTY"]);
        Assert.Equal(maximal, values["BIG"]);
    }

    [Fact]
    public async Task Set_ValueOneByteOver64KiB_Returns400NotPayloadTooLarge()
    {
        var (user, projectId) = await ProjectAsync();
        // 65,537 bytes as UTF-8 but only 32,769 characters: the limit is on bytes.
        var value = new string('é', 32 * 1024) + "x";

        var response = await server.PostAsync("/api/v1/env", new { project_id = projectId, key = "BIG", value }, user.Token);

        AssertFieldError(response, "value");
    }

    [Theory]
    [InlineData("")]
    [InlineData("1ABC")]
    [InlineData("A-B")]
    [InlineData("A B")]
    [InlineData("A.B")]
    [InlineData("FOO\n")]
    [InlineData("ÄPFEL")]
    [InlineData("$HOME")]
    public async Task Set_InvalidKey_Returns400NamingKey(string key)
    {
        var (user, projectId) = await ProjectAsync();
        AssertFieldError(await server.PostAsync("/api/v1/env", new { project_id = projectId, key, value = "v" }, user.Token), "key");
    }

    [Fact]
    public async Task Set_KeyLengthLimit_Is255()
    {
        var (user, projectId) = await ProjectAsync();
        (await server.PostAsync("/api/v1/env", new { project_id = projectId, key = "K" + new string('_', 254), value = "v" }, user.Token)).AssertStatus(201);
        AssertFieldError(await server.PostAsync("/api/v1/env", new { project_id = projectId, key = "K" + new string('_', 255), value = "v" }, user.Token),
            "key");
    }

    [Fact]
    public async Task Set_AcceptedKeyShapes_Return201()
    {
        var (user, projectId) = await ProjectAsync();
        foreach (var key in new[] { "_", "_private", "lower_case", "MixedCase9", "A1_B2" })
        {
            (await server.PostAsync("/api/v1/env", new { project_id = projectId, key, value = "v" }, user.Token)).AssertStatus(201);
        }
    }

    [Theory]
    [InlineData("""{"value": 42}""")]
    [InlineData("""{"value": true}""")]
    [InlineData("""{"value": null}""")]
    [InlineData("""{"value": {"a": "b"}}""")]
    [InlineData("""{"value": ["a"]}""")]
    [InlineData("""{}""")]
    [InlineData("""{"value": "a\u0000b"}""")]
    public async Task Set_ValueNotAUsableString_Returns400NamingValue(string valuePart)
    {
        var (user, projectId) = await ProjectAsync();
        var body = JsonNode.Parse(valuePart)!.AsObject();
        body["project_id"] = projectId;
        body["key"] = "K";
        AssertFieldError(await server.PostAsync("/api/v1/env", body.ToJsonString(), user.Token), "value");
    }

    [Fact]
    public async Task Set_MissingProjectOrUnknownEnvironment_Returns400NamingTheField()
    {
        var (user, projectId) = await ProjectAsync();
        AssertFieldError(await server.PostAsync("/api/v1/env", new { key = "K", value = "v" }, user.Token), "project_id");
        AssertFieldError(await server.PostAsync("/api/v1/env", new { project_id = projectId, key = "K", value = "v", environment = "nope" }, user.Token),
            "environment");
        AssertFieldError(await server.GetAsync($"/api/v1/env?project_id={projectId}&environment=nope", user.Token), "environment");
        AssertFieldError(await server.GetAsync("/api/v1/env", user.Token), "project_id");
    }

    [Fact]
    public async Task Set_InNamedEnvironment_IsListedOnlyThere()
    {
        var (user, projectId) = await ProjectAsync();
        (await server.PostAsync($"/api/v1/projects/{projectId}/environments", new { name = "staging" }, user.Token)).AssertStatus(201);

        var created = (await server.PostAsync("/api/v1/env", new { project_id = projectId, key = "MODE", value = "s", environment = "staging" }, user.Token))
            .AssertStatus(201).Json;
        (await server.PostAsync("/api/v1/env", new { project_id = projectId, key = "MODE", value = "p" }, user.Token)).AssertStatus(201);

        Assert.Equal("staging", created["environment"]!.GetValue<string>());
        var staging = (await server.GetAsync($"/api/v1/env?project_id={projectId}&environment=staging", user.Token)).AssertStatus(200).Json;
        var production = (await server.GetAsync($"/api/v1/env?project_id={projectId}", user.Token)).AssertStatus(200).Json;
        Assert.Equal("staging", Assert.Single(staging["data"]!.AsArray())!["environment"]!.GetValue<string>());
        Assert.Equal("production", Assert.Single(production["data"]!.AsArray())!["environment"]!.GetValue<string>());
    }

    [Fact]
    public async Task List_ManyVariables_PagesNewestFirstWithCursor()
    {
        var (user, projectId) = await ProjectAsync();
        foreach (var key in new[] { "A", "B", "C" })
        {
            (await server.PostAsync("/api/v1/env", new { project_id = projectId, key, value = "v" }, user.Token)).AssertStatus(201);
        }

        var first = (await server.GetAsync($"/api/v1/env?project_id={projectId}&limit=2", user.Token)).AssertStatus(200).Json;
        var cursor = first["next_cursor"]!.GetValue<string>();
        var second = (await server.GetAsync($"/api/v1/env?project_id={projectId}&limit=2&cursor={cursor}", user.Token)).AssertStatus(200).Json;

        Assert.Equal(["C", "B"], first["data"]!.AsArray().Select(v => v!["key"]!.GetValue<string>()));
        Assert.Equal("A", Assert.Single(second["data"]!.AsArray())!["key"]!.GetValue<string>());
        Assert.Null(second["next_cursor"]);
        Assert.All(first["data"]!.AsArray(), v => Assert.True(v!["has_value"]!.GetValue<bool>()));
        AssertFieldError(await server.GetAsync($"/api/v1/env?project_id={projectId}&limit=0", user.Token), "limit");
    }

    [Fact]
    public async Task Delete_Existing_Returns204ThenAbsentReturns404()
    {
        var (user, projectId) = await ProjectAsync();
        (await server.PostAsync("/api/v1/env", new { project_id = projectId, key = "GONE", value = "v" }, user.Token)).AssertStatus(201);

        (await server.DeleteAsync("/api/v1/env", user.Token, new { project_id = projectId, key = "GONE" })).AssertStatus(204);

        (await server.DeleteAsync("/api/v1/env", user.Token, new { project_id = projectId, key = "GONE" })).AssertError(404, "not_found");
        var list = (await server.GetAsync($"/api/v1/env?project_id={projectId}", user.Token)).AssertStatus(200).Json;
        Assert.Empty(list["data"]!.AsArray());
    }

    [Fact]
    public async Task Delete_InvalidBody_Returns400NamingTheField()
    {
        var (user, projectId) = await ProjectAsync();
        AssertFieldError(await server.DeleteAsync("/api/v1/env", user.Token, new { project_id = projectId, key = "NOT-VALID" }), "key");
        AssertFieldError(await server.DeleteAsync("/api/v1/env", user.Token, new { key = "K" }), "project_id");
        AssertFieldError(await server.DeleteAsync("/api/v1/env", user.Token, new { project_id = projectId, key = "K", environment = "nope" }), "environment");
    }

    [Fact]
    public async Task AnotherWorkspacesProject_IsNotFoundForEveryOperation()
    {
        var (owner, projectId) = await ProjectAsync();
        var stranger = await server.RegisterUserAsync();
        (await server.PostAsync("/api/v1/env", new { project_id = projectId, key = "K", value = "v" }, owner.Token)).AssertStatus(201);

        (await server.PostAsync("/api/v1/env", new { project_id = projectId, key = "K", value = "x" }, stranger.Token)).AssertError(404, "not_found");
        (await server.GetAsync($"/api/v1/env?project_id={projectId}", stranger.Token)).AssertError(404, "not_found");
        (await server.DeleteAsync("/api/v1/env", stranger.Token, new { project_id = projectId, key = "K" })).AssertError(404, "not_found");
        var strangerKey = await server.CreateApiKeyAsync(stranger, Scopes.EnvRead, Scopes.EnvWrite);
        (await server.GetAsync($"/api/v1/env?project_id={projectId}", strangerKey)).AssertError(404, "not_found");
    }

    [Fact]
    public async Task Viewer_CanListButNotWrite()
    {
        var (owner, projectId) = await ProjectAsync();
        var viewer = await server.RegisterUserAsync();
        await server.AddMemberAsync(owner.WorkspaceId, viewer.Id, WorkspaceRole.Viewer);
        (await server.PostAsync("/api/v1/env", new { project_id = projectId, key = "K", value = "v" }, owner.Token)).AssertStatus(201);

        (await server.GetAsync($"/api/v1/env?project_id={projectId}", viewer.Token)).AssertStatus(200);
        (await server.PostAsync("/api/v1/env", new { project_id = projectId, key = "K", value = "x" }, viewer.Token)).AssertError(403, "forbidden");
        (await server.DeleteAsync("/api/v1/env", viewer.Token, new { project_id = projectId, key = "K" })).AssertError(403, "forbidden");
    }

    [Fact]
    public async Task ApiKeyScopes_ReadOnlyKeyListsAndWriteOnlyKeyWrites()
    {
        var (owner, projectId) = await ProjectAsync();
        var readOnly = await server.CreateApiKeyAsync(owner, Scopes.EnvRead);
        var writeOnly = await server.CreateApiKeyAsync(owner, Scopes.EnvWrite);

        (await server.PostAsync("/api/v1/env", new { project_id = projectId, key = "K", value = "v" }, readOnly)).AssertError(403, "insufficient_scope");
        (await server.DeleteAsync("/api/v1/env", readOnly, new { project_id = projectId, key = "K" })).AssertError(403, "insufficient_scope");
        (await server.PostAsync("/api/v1/env", new { project_id = projectId, key = "K", value = "v" }, writeOnly)).AssertStatus(201);
        (await server.GetAsync($"/api/v1/env?project_id={projectId}", writeOnly)).AssertError(403, "insufficient_scope");
        var list = (await server.GetAsync($"/api/v1/env?project_id={projectId}", readOnly)).AssertStatus(200).Json;
        Assert.Equal("K", Assert.Single(list["data"]!.AsArray())!["key"]!.GetValue<string>());
        (await server.DeleteAsync("/api/v1/env", writeOnly, new { project_id = projectId, key = "K" })).AssertStatus(204);
    }

    [Fact]
    public async Task OpenApiDocument_DescribesEnvAndDomainEndpoints()
    {
        var document = (await server.GetAsync("/openapi.json")).AssertStatus(200).Json;
        var paths = document["paths"]!.AsObject();
        Assert.Equal(["delete", "get", "post"], paths["/api/v1/env"]!.AsObject().Select(p => p.Key).Order());
        Assert.Equal(["get", "post"], paths["/api/v1/domains"]!.AsObject().Select(p => p.Key).Order());
        Assert.NotNull(paths["/api/v1/domains/{id}"]!["delete"]);
    }

    private Task<string> ProductionIdAsync(string projectId) =>
        server.WithDbAsync(db => db.Environments.Where(e => e.ProjectId == projectId && e.Name == "production").Select(e => e.Id).SingleAsync());
}
