using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;
using Slipway.Server.Hosting;

namespace Slipway.Server.Data;

/// <summary>
/// The database's connection string, for EF Core and for the start-up steps that run before anything is served
/// (migrations, the plaintext-credential check): a plain ADO.NET connection opens in milliseconds, where the first
/// <see cref="SlipwayDb"/> first builds EF Core's services and model (about half a second, docs/benchmarks.md).
/// </summary>
internal sealed class DbConnections
{
    public DbConnections(DatabaseOptions options, IConfiguration configuration)
    {
        Provider = options.Provider;
        switch (options.Provider)
        {
            case DatabaseProvider.Sqlite:
                var connection = new SqliteConnectionStringBuilder(options.ConnectionString is { Length: > 0 } cs
                    ? cs
                    : $"Data Source={Path.Combine(configuration.DataDirectory(), "slipway.db")}")
                {
                    ForeignKeys = true,
                    DefaultTimeout = 30,
                    Pooling = true,
                };
                if (connection.Mode != SqliteOpenMode.Memory) OwnerOnly(connection.DataSource);
                ConnectionString = connection.ToString();
                break;
            case DatabaseProvider.Postgres:
                if (string.IsNullOrWhiteSpace(options.ConnectionString))
                {
                    throw new InvalidOperationException("Slipway:Database:ConnectionString is required with the postgres provider.");
                }
                ConnectionString = options.ConnectionString;
                break;
            default:
                throw new InvalidOperationException($"Unknown database provider {options.Provider}.");
        }
    }

    public DatabaseProvider Provider { get; }

    public string ConnectionString { get; }

    public async Task<DbConnection> OpenAsync(CancellationToken ct)
    {
        DbConnection connection = Provider == DatabaseProvider.Sqlite ? new SqliteConnection(ConnectionString) : new NpgsqlConnection(ConnectionString);
        try
        {
            await connection.OpenAsync(ct);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>Whether the query returns a row.</summary>
    public async Task<bool> AnyAsync(string sql, CancellationToken ct)
    {
        await using var connection = await OpenAsync(ct);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return await command.ExecuteScalarAsync(ct) is not (null or DBNull);
    }

    /// <summary>
    /// SQLite gives the WAL and shared-memory files the mode of the database file: creating that one 0600 (and narrowing
    /// files an earlier version left 0644) keeps all three, and the secrets in them, readable by the owner only.
    /// </summary>
    private static void OwnerOnly(string path)
    {
        if (OperatingSystem.IsWindows() || path is "" or ":memory:") return;
        const UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        try
        {
            // Empty is a valid new database to SQLite.
            new FileStream(path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = mode }).Dispose();
        }
        catch (IOException) when (File.Exists(path))
        {
        }
        foreach (var file in new[] { path, path + "-wal", path + "-shm" })
        {
            if (File.Exists(file)) File.SetUnixFileMode(file, mode);
        }
    }
}
