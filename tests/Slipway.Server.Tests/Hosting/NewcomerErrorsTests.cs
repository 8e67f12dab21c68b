using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Hosting;

/// <summary>The first mistakes a new user makes get answers that say what is wrong, in plain text.</summary>
public sealed class NewcomerErrorsTests : IAsyncLifetime
{
    private SlipwayServer server = null!;

    public async Task InitializeAsync() => server = await SlipwayServer.StartAsync();

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task MisspeltField_Is400ValidationFailed_NamingTheField()
    {
        var user = await server.RegisterUserAsync();

        var response = await server.PostAsync("/api/v1/projects",
            """{"name":"typo-app","repo_url":"https://example.com/a.git","start_comand":"node server.js"}""", user.Token);

        response.AssertError(400, "validation_failed");
        Assert.Equal("The request has a field this endpoint does not know: 'start_comand'.", response.Json["error"]!["message"]!.GetValue<string>());
        Assert.Equal("start_comand", response.Json["error"]!["details"]![0]!["field"]!.GetValue<string>());
        (await server.GetAsync("/api/v1/projects/typo-app", user.Token)).AssertError(404, "not_found");

        var nested = await server.PatchAsync("/api/v1/projects/nothing-here", """{"resources":{"memory_mbb":256}}""", user.Token);
        nested.AssertError(400, "validation_failed");
        Assert.Equal("memory_mbb", nested.Json["error"]!["details"]![0]!["field"]!.GetValue<string>());
    }

    [Fact]
    public async Task Messages_KeepPunctuationPlain_InTheJson()
    {
        var user = await server.RegisterUserAsync();

        var response = await server.GetAsync("/api/v1/projects/it's<gone>&+", user.Token);

        response.AssertError(404, "not_found");
        Assert.Contains("Project 'it's<gone>&+' not found.", response.Body);
        Assert.DoesNotContain("\\u0027", response.Body);
        Assert.DoesNotContain("\\u003C", response.Body, StringComparison.OrdinalIgnoreCase);
    }
}

/// <summary>The server binary itself, started on a port another process holds.</summary>
public sealed class StartingOnATakenPortTests
{
    [Theory]
    [InlineData("ASPNETCORE_URLS", "--urls (or ASPNETCORE_URLS)")]
    [InlineData("Slipway__Router__Urls", "Slipway__Router__Urls")]
    public async Task TakenPort_IsOneLineNamingTheSetting_ExitCodeOne(string variable, string named)
    {
        using var holder = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        holder.Start();
        var port = ((System.Net.IPEndPoint)holder.LocalEndpoint).Port;
        var data = Directory.CreateTempSubdirectory("slipway-port-").FullName;
        var info = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Slipway.Server.dll"));
        info.Environment["ASPNETCORE_URLS"] = "http://127.0.0.1:0";
        info.Environment["Slipway__Router__Urls"] = "http://127.0.0.1:0";
        info.Environment["Slipway__DataDirectory"] = data;
        info.Environment[variable] = $"http://127.0.0.1:{port}";
        using var process = System.Diagnostics.Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Directory.Delete(data, recursive: true);

        Assert.Equal(1, process.ExitCode);
        Assert.Equal($"Cannot listen on http://127.0.0.1:{port}: another process is using port {port}. Stop it, or set {named} to a free address.",
            (await stderr).Trim());
        Assert.DoesNotContain("   at ", await stdout + await stderr);
    }
}

/// <summary>The server binary asked for help: it explains itself and starts nothing.</summary>
public sealed class AskingTheServerForHelpTests
{
    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    public async Task Help_PrintsTheUsage_AndStartsNothing(string flag)
    {
        var data = Path.Combine(Path.GetTempPath(), $"slipway-help-{Guid.NewGuid():N}");
        var info = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Slipway.Server.dll"));
        info.ArgumentList.Add(flag);
        info.Environment["Slipway__DataDirectory"] = data;
        using var process = System.Diagnostics.Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));

        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}: {await stderr}");
        Assert.StartsWith("Usage: dotnet Slipway.Server.dll [options]", await stdout, StringComparison.Ordinal);
        Assert.Contains("--migrate-only", await stdout, StringComparison.Ordinal);
        Assert.False(Directory.Exists(data), "asking for help created the data directory");
    }
}
