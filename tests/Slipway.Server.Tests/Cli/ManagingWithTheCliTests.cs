using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Cli;

/// <summary>The <c>slipway</c> binary's everyday commands, their <c>--json</c> output and their errors.</summary>
public sealed class ManagingWithTheCliTests : IAsyncLifetime
{
    private static readonly string[] AllScopes = ["*"];
    private SlipwayServer server = null!;
    private TestUser user = null!;
    private CliRunner cli = null!;

    public async Task InitializeAsync()
    {
        server = await SlipwayServer.StartAsync();
        user = await server.RegisterUserAsync();
        cli = CliRunner.Create();
        (await cli.RunAsync(["login", "--url", server.BaseAddress.ToString(), "--email", user.Email], user.Password + "\n")).AssertSuccess();
    }

    public async Task DisposeAsync()
    {
        await server.DisposeAsync();
        cli.Dispose();
    }

    [Fact]
    public async Task EveryCommand_WithJson_PrintsTheApisJson()
    {
        var created = (await cli.RunAsync("projects", "create", "cli-json", "--repo", "https://example.com/acme/app.git", "--json")).AssertSuccess().Json;
        var id = created["id"]!.GetValue<string>();

        Assert.Contains((await cli.RunAsync("projects", "ls", "--json")).AssertSuccess().Json["data"]!.AsArray(), p => p!["id"]!.GetValue<string>() == id);
        Assert.Equal(id, (await cli.RunAsync("projects", "show", "cli-json", "--json")).AssertSuccess().Json["id"]!.GetValue<string>());
        Assert.Equal(user.Email, (await cli.RunAsync("whoami", "--json")).AssertSuccess().Json["user"]!["email"]!.GetValue<string>());
        Assert.Equal(id, (await cli.RunAsync("link", "cli-json", "--json")).AssertSuccess().Json["id"]!.GetValue<string>());

        var set = (await cli.RunAsync("env", "set", "API_TOKEN=value-on-the-command-line", "--json")).AssertSuccess();
        Assert.DoesNotContain("value-on-the-command-line", set.Stdout);
        Assert.Equal("API_TOKEN", set.Json["data"]![0]!["key"]!.GetValue<string>());
        Assert.Equal("API_TOKEN", (await cli.RunAsync("env", "ls", "--json")).AssertSuccess().Json["data"]![0]!["key"]!.GetValue<string>());
        (await cli.RunAsync("env", "rm", "API_TOKEN", "--json")).AssertSuccess();
        Assert.Empty((await cli.RunAsync("env", "ls", "--json")).AssertSuccess().Json["data"]!.AsArray());

        Assert.Equal("cli.example.com", (await cli.RunAsync("domains", "add", "cli.example.com", "--json")).AssertSuccess().Json["domain"]!.GetValue<string>());
        Assert.Single((await cli.RunAsync("domains", "ls", "--json")).AssertSuccess().Json["data"]!.AsArray());
        (await cli.RunAsync("domains", "rm", "cli.example.com")).AssertSuccess();
        Assert.Empty((await cli.RunAsync("domains", "ls", "--json")).AssertSuccess().Json["data"]!.AsArray());

        var key = (await cli.RunAsync("keys", "create", "ci", "--scope", "projects:read", "--json")).AssertSuccess().Json;
        Assert.StartsWith("slp_", key["key"]!.GetValue<string>());
        Assert.Contains((await cli.RunAsync("keys", "ls", "--json")).AssertSuccess().Json["data"]!.AsArray(), k => k!["name"]!.GetValue<string>() == "ci");
        (await server.GetAsync("/api/v1/projects", key["key"]!.GetValue<string>())).AssertStatus(200);
        (await cli.RunAsync("keys", "revoke", "ci", "--json")).AssertSuccess();
        (await server.GetAsync("/api/v1/projects", key["key"]!.GetValue<string>())).AssertStatus(401);

        Assert.Empty((await cli.RunAsync("status", "--json")).AssertSuccess().Json["deployments"]!.AsArray());
        (await cli.RunAsync("projects", "rm", "cli-json", "--yes", "--json")).AssertSuccess();
        (await server.GetAsync($"/api/v1/projects/{id}", user.Token)).AssertStatus(404);
    }

    [Fact]
    public async Task ApiRefusal_PrintsTheMessageAndRequestId_AndExitsOne()
    {
        var result = await cli.RunAsync("projects", "show", "no-such-project");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("Project 'no-such-project' not found.", result.Stderr);
        Assert.Matches("request req_[0-9a-f]+", result.Stderr);

        var json = await cli.RunAsync("projects", "create", "Bad Name", "--repo", "https://example.com/a.git", "--json");
        Assert.Equal(1, json.ExitCode);
        Assert.Equal("validation_failed", json.Json["error"]!["code"]!.GetValue<string>());
        Assert.Contains("name:", json.Stderr);
    }

    [Fact]
    public async Task WithoutALinkOrLogin_SaysWhatToDo()
    {
        var unlinked = await cli.RunAsync("deploy");
        Assert.Equal(1, unlinked.ExitCode);
        Assert.Contains("slipway link", unlinked.Stderr);

        (await cli.RunAsync("logout")).AssertSuccess();
        Assert.False(File.Exists(Path.Combine(cli.ConfigDirectory, "credentials.json")));
        var loggedOut = await cli.RunAsync("projects", "ls");
        Assert.Equal(1, loggedOut.ExitCode);
        Assert.Contains("slipway login", loggedOut.Stderr);
    }

    [Fact]
    public async Task LoginWithAnApiKey_Works()
    {
        var key = (await server.PostAsync("/api/v1/api-keys", new { name = "cli", scopes = AllScopes }, user.Token)).AssertStatus(201).Json["key"]!.GetValue<string>();
        var other = CliRunner.Create();
        try
        {
            (await other.RunAsync("login", "--url", server.BaseAddress.ToString(), "--token", key)).AssertSuccess();
            (await other.RunAsync("projects", "create", "from-a-key", "--repo", "https://example.com/a.git")).AssertSuccess();
            Assert.Contains("from-a-key", (await other.RunAsync("projects", "ls")).AssertSuccess().Stdout);
            Assert.Contains("API key", (await other.RunAsync("whoami")).AssertSuccess().Stdout);
        }
        finally
        {
            other.Dispose();
        }
    }
}
