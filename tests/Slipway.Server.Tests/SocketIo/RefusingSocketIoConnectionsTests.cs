using Slipway.Server.Tests.ApiKeys;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.SocketIo;

/// <summary>The Socket.IO CONNECT is where credentials are checked: the HTTP layer is anonymous, the namespace is not.</summary>
public sealed class RefusingSocketIoConnectionsTests : IAsyncLifetime
{
    private SlipwayServer server = null!;
    private TestUser user = null!;

    public async Task InitializeAsync()
    {
        server = await SlipwayServer.StartAsync();
        user = await server.RegisterUserAsync();
    }

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Theory]
    [InlineData("none", "websocket", "unauthenticated")]
    [InlineData("garbage", "polling", "unauthenticated")]
    [InlineData("forged-key", "websocket", "unauthenticated")]
    [InlineData("key-without-logs-read", "polling", "insufficient_scope")]
    public async Task Connect_WithoutAUsableToken_IsRefusedWithConnectError(string credential, string transport, string code)
    {
        var token = credential switch
        {
            "none" => null,
            "garbage" => "not-a-token",
            "forged-key" => "slp_" + new string('x', 43),
            _ => await server.KeyAsync(user.Token, ["projects:read", "deployments:read"]),
        };

        var messages = await SocketIoClients.RunAsync(server, token, [transport]);

        var error = Assert.Single(messages, m => m.Event() == "connect_error");
        Assert.Equal("unauthorized", error["message"]!.GetValue<string>());
        Assert.Equal(code, error["data"]!["code"]!.GetValue<string>());
        Assert.False(string.IsNullOrWhiteSpace(error["data"]!["message"]!.GetValue<string>()));
        Assert.DoesNotContain(messages, m => m.Event() == "connect");
    }

    [Fact]
    public async Task Connect_WithAnApiKeyHoldingLogsRead_Succeeds()
    {
        var key = await server.KeyAsync(user.Token, ["logs:read"]);

        var messages = await SocketIoClients.RunAsync(server, key, ["websocket"]);

        Assert.Contains(messages, m => m.Event() == "connect");
        Assert.Equal("steps", messages[^1]["why"]!.GetValue<string>());
    }

    [Fact]
    public async Task Connect_ToAnotherNamespace_IsRefused()
    {
        var messages = await SocketIoClients.RunAsync(server, user.Token, ["websocket"], nsp: "/admin");

        var error = Assert.Single(messages, m => m.Event() == "connect_error");
        Assert.Equal("Invalid namespace", error["message"]!.GetValue<string>());
        Assert.DoesNotContain(messages, m => m.Event() == "connect");
    }
}
