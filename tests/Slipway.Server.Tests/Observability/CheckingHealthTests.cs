using Microsoft.Data.Sqlite;
using Npgsql;
using Slipway.Server.Data;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Observability;

public sealed class CheckingHealthTests
{
    [Fact]
    public async Task Health_WhenDatabaseAndDataDirectoryWork_Returns200WithEveryCheck()
    {
        await using var server = await SlipwayServer.StartAsync();

        var response = (await server.GetAsync("/health")).AssertStatus(200);

        var body = response.Json;
        Assert.Equal("healthy", body["status"]!.GetValue<string>());
        Assert.Matches(@"^\d+\.\d+\.\d+", body["version"]!.GetValue<string>());
        var database = body["checks"]!["database"]!;
        Assert.Equal("healthy", database["status"]!.GetValue<string>());
        Assert.InRange(database["latency_ms"]!.GetValue<double>(), 0, 10_000);
        Assert.Null(database["error"]);
        var dataDirectory = body["checks"]!["data_directory"]!;
        Assert.Equal("healthy", dataDirectory["status"]!.GetValue<string>());
        Assert.InRange(dataDirectory["latency_ms"]!.GetValue<double>(), 0, 10_000);
        Assert.True(dataDirectory["free_bytes"]!.GetValue<long>() > 0);
        Assert.Equal("no-store", response.Header("Cache-Control"));
        Assert.Empty(Directory.GetFiles(server.DataDirectory, ".health-*"));
    }

    [Fact]
    public async Task Health_DataDirectoryReplacedByAFile_Returns503NamingDataDirectory()
    {
        var databaseDirectory = Directory.CreateTempSubdirectory("slipway-test-db-").FullName;
        await using var server = await SlipwayServer.StartAsync(SeparateSqliteDatabase(databaseDirectory));
        (await server.GetAsync("/health")).AssertStatus(200);

        // Root ignores file modes, so make the directory really unusable: it becomes a file.
        Directory.Delete(server.DataDirectory, recursive: true);
        await File.WriteAllTextAsync(server.DataDirectory, "not a directory");
        try
        {
            var body = (await server.GetAsync("/health")).AssertStatus(503).Json;

            Assert.Equal("unhealthy", body["status"]!.GetValue<string>());
            Assert.Equal("healthy", body["checks"]!["database"]!["status"]!.GetValue<string>());
            var check = body["checks"]!["data_directory"]!;
            Assert.Equal("unhealthy", check["status"]!.GetValue<string>());
            var error = check["error"]!.GetValue<string>();
            Assert.Contains("data directory", error, StringComparison.Ordinal);
            Assert.DoesNotContain("/", error, StringComparison.Ordinal);
            Assert.Contains(server.Logs.Lines, l => l.Contains("Health check data_directory failed", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(server.DataDirectory);
            Directory.CreateDirectory(server.DataDirectory);
        }
    }

    [Fact]
    public async Task Health_DatabaseGone_Returns503NamingDatabase()
    {
        var databaseDirectory = Directory.CreateTempSubdirectory("slipway-test-db-").FullName;
        await using var server = await SlipwayServer.StartAsync(SeparateSqliteDatabase(databaseDirectory));
        (await server.GetAsync("/health")).AssertStatus(200);

        if (server.IsPostgres)
        {
            var database = new NpgsqlConnectionStringBuilder(server.Service<DatabaseOptions>().ConnectionString).Database;
            await using var admin = new NpgsqlConnection(SlipwayServer.PostgresAdminConnection);
            await admin.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE {database} WITH (FORCE)", admin);
            await drop.ExecuteNonQueryAsync();
            NpgsqlConnection.ClearAllPools();
        }
        else
        {
            // Open pooled connections keep working on the unlinked file; a new connection cannot open it.
            Directory.Delete(databaseDirectory, recursive: true);
            SqliteConnection.ClearAllPools();
        }

        var body = (await server.GetAsync("/health")).AssertStatus(503).Json;

        Assert.Equal("unhealthy", body["status"]!.GetValue<string>());
        Assert.Equal("healthy", body["checks"]!["data_directory"]!["status"]!.GetValue<string>());
        var check = body["checks"]!["database"]!;
        Assert.Equal("unhealthy", check["status"]!.GetValue<string>());
        var error = check["error"]!.GetValue<string>();
        Assert.StartsWith("the database round trip failed", error, StringComparison.Ordinal);
        Assert.DoesNotContain(databaseDirectory, error, StringComparison.Ordinal);
        Assert.DoesNotContain("/", error, StringComparison.Ordinal);
    }

    /// <summary>With SQLite, keep the database outside the data directory so each check can fail on its own.</summary>
    private static Dictionary<string, string?> SeparateSqliteDatabase(string directory) => SlipwayServer.UsePostgres
        ? []
        : new() { ["Slipway:Database:ConnectionString"] = $"Data Source={Path.Combine(directory, "slipway.db")}" };
}
