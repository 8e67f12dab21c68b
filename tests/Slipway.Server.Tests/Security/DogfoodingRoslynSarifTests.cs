using System.Diagnostics;
using Slipway.Server.Tests.ApiKeys;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Security;

/// <summary>A real .NET tool's SARIF: the C# compiler's error log (<c>-p:ErrorLog=…,version=2.1</c>) goes through ingestion.</summary>
public sealed class DogfoodingRoslynSarifTests
{
    [Fact]
    public async Task CompilerErrorLog_IsIngested_WithItsWarningsAsFindings()
    {
        var project = Directory.CreateTempSubdirectory("slipway-roslyn-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(project, "Sample.csproj"), """
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <TargetFramework>net10.0</TargetFramework>
                    <Nullable>enable</Nullable>
                    <ImplicitUsings>disable</ImplicitUsings>
                  </PropertyGroup>
                </Project>
                """);
            await File.WriteAllTextAsync(Path.Combine(project, "Sample.cs"), """
                namespace Sample;

                public static class Numbers
                {
                    public static int Zero()
                    {
                        int unused;
                        string text = null;
                        return text.Length * 0;
                    }
                }
                """);
            var log = Path.Combine(project, "build.sarif");
            var build = Process.Start(new ProcessStartInfo("dotnet", ["build", Path.Combine(project, "Sample.csproj"), "-nologo", "-v", "q", $"-p:ErrorLog={log}%2Cversion=2.1"])
            {
                RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = project,
            })!;
            var output = await build.StandardOutput.ReadToEndAsync();
            await build.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
            Assert.True(build.ExitCode == 0, output);
            Assert.True(File.Exists(log), output);

            await using var server = await SlipwayServer.StartAsync();
            var user = await server.RegisterUserAsync();
            var repo = (await server.CreateProjectAsync(user.Token)).Id();

            var scan = (await server.UploadSarifAsync(user.Token, repo, await File.ReadAllTextAsync(log), "?category=roslyn")).AssertStatus(202).Json;

            Assert.Equal("completed", scan["status"]!.GetValue<string>());
            Assert.Contains(scan["tools"]!.AsArray(), t => t!.GetValue<string>().Contains("C#", StringComparison.Ordinal));
            var rules = (await server.FindingsAsync(user.Token, repo)).Select(f => f!["rule"]!["id"]!.GetValue<string>()).ToList();
            Assert.Contains("CS0168", rules);
            Assert.Contains("CS8600", rules);
            var again = (await server.UploadSarifAsync(user.Token, repo, await File.ReadAllTextAsync(log), "?category=roslyn")).AssertStatus(202).Json;
            Assert.Equal(0, again["counts"]!["new"]!.GetValue<int>());
        }
        finally
        {
            Directory.Delete(project, recursive: true);
        }
    }
}
