namespace Slipway.Server.Tests.Support;

public sealed class NodeScriptTests
{
    [Fact]
    public async Task RunAsync_ImportsNpmClients_FromRepositoryNodeModules()
    {
        var output = await NodeScript.RunAsync("""
            import { Webhook } from 'standardwebhooks';
            import { io } from 'socket.io-client';
            console.log(typeof Webhook, typeof io, process.argv[2]);
            """, ["ok"]);

        Assert.Equal("function function ok", output.Trim());
    }
}
