using Slipway.Server.Runtime;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Runtime;

public sealed class BringingLiveReleasesBackTests
{
    [Fact]
    public async Task AlreadyLiveRelease_ThatFailsItsFirstStart_IsRestartedUntilHealthy()
    {
        await using var server = await SlipwayServer.StartAsync(EngineSettings.Fast);
        var directory = Directory.CreateTempSubdirectory("slipway-comeback-").FullName;
        // First start: the app's dependency "is not up yet" and it exits; the second start works.
        File.WriteAllText(Path.Combine(directory, "server.js"), """
            const fs = require('fs');
            if (!fs.existsSync('started-once')) { fs.writeFileSync('started-once', 'x'); process.exit(1); }
            require('http').createServer((q, s) => s.end('back')).listen(process.env.PORT, process.env.HOST);
            """);
        var supervisor = server.Service<Supervisor>();
        var spec = new ReleaseSpec("comeback-" + Guid.NewGuid().ToString("N")[..8], "p", "e", directory, "node server.js",
            new Dictionary<string, string>(), "/", AlreadyLive: true);
        var release = await supervisor.StartAsync(spec, (_, _) => { }, CancellationToken.None);
        try
        {
            await Deployments.DeployingAppsTests.WaitUntilAsync(() => release.Status == LiveStatus.Running && release.Restarts >= 1, TimeSpan.FromSeconds(20));
            using var client = new HttpClient();
            Assert.Equal("back", await client.GetStringAsync(release.Upstream));
        }
        finally
        {
            await supervisor.StopAsync(spec.DeploymentId, TimeSpan.Zero);
            Directory.Delete(directory, recursive: true);
        }
    }
}
