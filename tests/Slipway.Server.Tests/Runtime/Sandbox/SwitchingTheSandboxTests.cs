using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Runtime.Sandbox;

/// <summary>The sandbox is a switch, not a silent fallback: no bubblewrap, no start, unless it is turned off explicitly.</summary>
public sealed class SwitchingTheSandboxTests
{
    [Fact]
    public async Task Health_ReportsBubblewrap_ByDefault()
    {
        await using var server = await SlipwayServer.StartAsync();

        var body = (await server.GetAsync("/health")).AssertStatus(200).Json;

        Assert.Equal("bubblewrap", body["sandbox"]!.GetValue<string>());
        Assert.Contains(server.Logs.Lines, l => l.Contains("Sandbox: bubblewrap (/usr/bin/bwrap)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Start_WithoutBubblewrap_IsRefused_SayingWhatToInstall()
    {
        var missing = Path.Combine(Path.GetTempPath(), "no-such-dir-" + Guid.NewGuid().ToString("N"), "bwrap");

        var refused = await Assert.ThrowsAnyAsync<Exception>(() => SlipwayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Slipway:Runtime:BubblewrapPath"] = missing,
        }));

        var message = string.Join(" | ", Messages(refused));
        Assert.Contains("apt-get install bubblewrap", message, StringComparison.Ordinal);
        Assert.Contains(missing, message, StringComparison.Ordinal);
        Assert.Contains("Slipway:Runtime:Sandbox=none", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_WithoutBubblewrap_ButSandboxNone_StartsWarnsAndReportsDisabled()
    {
        var missing = Path.Combine(Path.GetTempPath(), "no-such-dir-" + Guid.NewGuid().ToString("N"), "bwrap");
        await using var server = await SlipwayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Slipway:Runtime:BubblewrapPath"] = missing,
            ["Slipway:Runtime:Sandbox"] = "none",
        });

        var body = (await server.GetAsync("/health")).AssertStatus(200).Json;

        Assert.Equal("disabled", body["sandbox"]!.GetValue<string>());
        Assert.Contains(server.Logs.Lines, l => l.Contains("Sandbox disabled (Slipway:Runtime:Sandbox=none)", StringComparison.Ordinal));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Start_NarrowsAWideDataDirectory_ToOwnerOnly()
    {
        var dataDirectory = Directory.CreateTempSubdirectory("slipway-wide-").FullName;
        File.SetUnixFileMode(dataDirectory, (UnixFileMode)0b111_101_101);
        await using var server = await SlipwayServer.StartAsync(dataDirectory: dataDirectory);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(dataDirectory));
    }

    private static IEnumerable<string> Messages(Exception e)
    {
        for (Exception? current = e; current is not null; current = current.InnerException) yield return current.Message;
    }
}
