using System.ComponentModel;
using System.Diagnostics;
using Slipway.Server.Hosting;

namespace Slipway.Server.Runtime.Sandbox;

internal static partial class SandboxSetup
{
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(15);

    public static WebApplicationBuilder AddSandbox(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(SandboxOptions.SectionName).Get<SandboxOptions>() ?? new SandboxOptions();
        var dataDirectory = builder.Configuration.DataDirectory();
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(services => new Sandbox(options, dataDirectory, Environment.IsPrivilegedProcess,
            services.GetRequiredService<TimeProvider>()));
        builder.Services.AddHostedService<SandboxCheck>();
        return builder;
    }

    /// <summary>
    /// A switch, not a silent fallback: at start the sandbox must really work (one sandboxed <c>true</c>), or the server
    /// refuses to start and says what to install, unless the operator turned it off; then every start says so. The probe
    /// (a process start, tens of milliseconds) begins before the first hosted service starts and runs while the
    /// migrations do; the start waits for its answer here, in its place in the order.
    /// </summary>
    private sealed class SandboxCheck(Sandbox sandbox, SandboxOptions options, ILogger<SandboxCheck> logger) : IHostedLifecycleService
    {
        private Task<string?> probe = Task.FromResult<string?>(null);

        public Task StartingAsync(CancellationToken cancellationToken)
        {
            if (sandbox.Enabled)
            {
                probe = Validate(options) is { } invalid
                    ? Task.FromResult<string?>(invalid)
                    : Task.Run(() => ProbeAsync(sandbox, options, cancellationToken), cancellationToken);
            }
            return Task.CompletedTask;
        }

        public async Task StartAsync(CancellationToken cancellationToken)
        {
            if (!sandbox.Enabled)
            {
                SandboxDisabled(logger);
                return;
            }
            var reason = await probe;
            if (reason is null)
            {
                SandboxReady(logger, options.BubblewrapPath, sandbox.AsRoot ? "setpriv to a uid per project" : "a user namespace");
                return;
            }
            var message = $"Builds and apps run in a bubblewrap sandbox, and it does not work on this machine: {reason}. " +
                          "Install bubblewrap (apt-get install bubblewrap; setpriv comes with util-linux) or point " +
                          "Slipway:Runtime:BubblewrapPath at it. To run builds and apps without a sandbox, as the server's own user " +
                          "(they can then read the master key and the database), set Slipway:Runtime:Sandbox=none explicitly.";
            SandboxUnusable(logger, message);
            throw new InvalidOperationException(message);
        }

        public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    private static string? Validate(SandboxOptions options)
    {
        if (options.SandboxUidBase < 1 || options.SandboxUidCount < 1 || options.SandboxUidBase + options.SandboxUidCount > uint.MaxValue - 1)
            return "Slipway:Runtime:SandboxUidBase and SandboxUidCount must describe a range of uids between 1 and 4294967294";
        var own = OwnUid();
        if (own >= options.SandboxUidBase && own < options.SandboxUidBase + options.SandboxUidCount)
            return $"the server's own uid {own} lies in the sandbox uid range; move Slipway:Runtime:SandboxUidBase";
        return null;
    }

    /// <summary>Runs <c>true</c> in a real sandbox, as the first uid of the range, in a scratch directory.</summary>
    private static async Task<string?> ProbeAsync(Sandbox sandbox, SandboxOptions options, CancellationToken ct)
    {
        var scratch = Directory.CreateTempSubdirectory("slipway-sandbox-probe-").FullName;
        try
        {
            var identity = new SandboxIdentity(options.SandboxUidBase);
            sandbox.HandOver(scratch, identity);
            var argv = sandbox.Prefix(identity, scratch, scratch);
            var info = new ProcessStartInfo(argv[0]) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var argument in argv.Skip(1)) info.ArgumentList.Add(argument);
            info.ArgumentList.Add("/bin/true");
            using var process = Process.Start(info)!;
            var stderr = process.StandardError.ReadToEndAsync(ct);
            _ = process.StandardOutput.ReadToEndAsync(ct);
            try
            {
                await process.WaitForExitAsync(ct).WaitAsync(ProbeTimeout, ct);
            }
            catch (TimeoutException)
            {
                process.Kill(entireProcessTree: true);
                return $"a sandboxed `true` did not finish within {ProbeTimeout.TotalSeconds:0} s";
            }
            if (process.ExitCode == 0) return null;
            var said = (await stderr).Trim();
            return $"a sandboxed `true` failed with exit code {process.ExitCode}" + (said.Length > 0 ? $" ({said})" : "");
        }
        catch (Win32Exception e)
        {
            return $"{options.BubblewrapPath} cannot be run ({e.Message})";
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    private static long OwnUid() => OperatingSystem.IsWindows() ? -1 : GetEuid();

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEuid();

    [LoggerMessage(EventId = 6201, Level = LogLevel.Information, Message = "Sandbox: bubblewrap ({Path}), {How}")]
    private static partial void SandboxReady(ILogger logger, string path, string how);

    [LoggerMessage(EventId = 6202, Level = LogLevel.Warning, Message = "Sandbox disabled (Slipway:Runtime:Sandbox=none): builds and apps run as the server's own user and can read everything it can, the master key and the database included")]
    private static partial void SandboxDisabled(ILogger logger);

    [LoggerMessage(EventId = 6203, Level = LogLevel.Critical, Message = "{Message}")]
    private static partial void SandboxUnusable(ILogger logger, string message);
}
