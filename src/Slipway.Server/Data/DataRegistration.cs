using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Slipway.Server.Events;
using Slipway.Server.Hosting;

namespace Slipway.Server.Data;

internal static class DataRegistration
{
    public static WebApplicationBuilder AddSlipwayData(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(DatabaseOptions.SectionName).Get<DatabaseOptions>() ?? new DatabaseOptions();
        var dataDirectory = builder.Configuration.DataDirectory();
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(dataDirectory);
        }
        else
        {
            // Owner only, also when an earlier version or an operator left it wider: the master key, the database and every
            // project's releases are in there, and sandboxed builds and apps run as other uids.
            const UnixFileMode ownerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
            Directory.CreateDirectory(dataDirectory, ownerOnly);
            File.SetUnixFileMode(dataDirectory, ownerOnly);
        }
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<OutboxSignal>();
        builder.Services.AddDbContextPool<SlipwayDb>((services, db) =>
        {
            switch (options.Provider)
            {
                case DatabaseProvider.Sqlite:
                    var connection = new SqliteConnectionStringBuilder(options.ConnectionString is { Length: > 0 } cs
                        ? cs
                        : $"Data Source={Path.Combine(dataDirectory, "slipway.db")}")
                    {
                        ForeignKeys = true,
                        DefaultTimeout = 30,
                        Pooling = true,
                    };
                    if (connection.Mode != SqliteOpenMode.Memory) OwnerOnly(connection.DataSource);
                    db.UseSqlite(connection.ToString()).AddInterceptors(new SqlitePragmas());
                    break;
                case DatabaseProvider.Postgres:
                    if (string.IsNullOrWhiteSpace(options.ConnectionString))
                    {
                        throw new InvalidOperationException("Slipway:Database:ConnectionString is required with the postgres provider.");
                    }
                    db.UseNpgsql(options.ConnectionString);
                    break;
                default:
                    throw new InvalidOperationException($"Unknown database provider {options.Provider}.");
            }
            db.UseQueryTrackingBehavior(QueryTrackingBehavior.NoTracking).AddInterceptors(services.GetRequiredService<OutboxSignal>());
        });
        builder.Services.AddSingleton<MigrationRunner>();
        return builder;
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

    /// <summary>
    /// Per physical connection: wait for locks instead of failing, and trade a little durability for WAL speed.
    /// Pooled connections keep their native handle, so the pragmas run once per handle, not on every open.
    /// </summary>
    private sealed class SqlitePragmas : DbConnectionInterceptor
    {
        private const string Sql = "PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL;";
        private readonly System.Runtime.CompilerServices.ConditionalWeakTable<object, object> configured = new();

        public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData)
        {
            if (!FirstOpen(connection)) return;
            using var command = connection.CreateCommand();
            command.CommandText = Sql;
            command.ExecuteNonQuery();
        }

        public override async Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData,
            CancellationToken cancellationToken = default)
        {
            if (!FirstOpen(connection)) return;
            await using var command = connection.CreateCommand();
            command.CommandText = Sql;
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        private bool FirstOpen(DbConnection connection) =>
            connection is not SqliteConnection { Handle: { } handle } || configured.TryAdd(handle, handle);
    }
}
