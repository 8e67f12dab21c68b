using System.Diagnostics;
using System.Text;
using Npgsql;
using Slipway.Server.Data;

namespace Slipway.Server.Tests.Support;

/// <summary>Everything a server has stored, as bytes to search for plaintext secrets: the SQLite files or a PostgreSQL dump.</summary>
public static class StoredBytes
{
    public static async Task<byte[]> ReadAsync(SlipwayServer server) => server.IsPostgres ? await PgDumpAsync(server) : DataDirectoryBytes(server);

    public static bool Contains(byte[] haystack, string text) => haystack.AsSpan().IndexOf(Encoding.UTF8.GetBytes(text)) >= 0;

    /// <summary>Every file of the data directory (database, WAL, shared memory), read while the server still has them open.</summary>
    public static byte[] DataDirectoryBytes(SlipwayServer server)
    {
        var all = new MemoryStream();
        var files = Directory.GetFiles(server.DataDirectory, "*", SearchOption.AllDirectories);
        Assert.Contains(files, f => Path.GetFileName(f) == "slipway.db");
        Assert.Contains(files, f => Path.GetFileName(f) == "slipway.db-wal");
        foreach (var file in files)
        {
            try
            {
                using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                stream.CopyTo(all);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                // A deployment's scratch directory, deleted just after it became ready: nothing stored there.
            }
        }
        return all.ToArray();
    }

    public static async Task<byte[]> PgDumpAsync(SlipwayServer server)
    {
        var cs = new NpgsqlConnectionStringBuilder(server.Service<DatabaseOptions>().ConnectionString);
        const string versioned = "/usr/lib/postgresql/15/bin/pg_dump";
        var start = new ProcessStartInfo(File.Exists(versioned) ? versioned : "pg_dump")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in new[] { "--host", cs.Host!, "--port", cs.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                     "--username", cs.Username!, "--dbname", cs.Database!, "--no-password" })
        {
            start.ArgumentList.Add(arg);
        }
        start.Environment["PGPASSWORD"] = cs.Password ?? "";
        using var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var dump = new MemoryStream();
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.StandardOutput.BaseStream.CopyToAsync(dump, timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"pg_dump failed: {await stderr}");
        return dump.ToArray();
    }
}
