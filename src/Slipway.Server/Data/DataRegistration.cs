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
        OwnerOnlyDirectory(dataDirectory);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<OutboxSignal>();
        builder.Services.AddSingleton<DbConnections>();
        builder.Services.AddSingleton<DatabaseWrites>();
        builder.Services.AddSingleton<IdPageCache>();
        builder.Services.AddDbContextPool<SlipwayDb>((services, db) =>
        {
            var connections = services.GetRequiredService<DbConnections>();
            if (connections.Provider == DatabaseProvider.Sqlite) db.UseSqlite(connections.ConnectionString).AddInterceptors(new SqlitePragmas());
            else db.UseNpgsql(connections.ConnectionString);
            db.UseQueryTrackingBehavior(QueryTrackingBehavior.NoTracking).AddInterceptors(services.GetRequiredService<OutboxSignal>(),
                services.GetRequiredService<DatabaseWrites>());
        });
        builder.Services.AddSingleton<MigrationRunner>();
        return builder;
    }

    /// <summary>
    /// The data directory holds the database, the JWT and master keys, artifacts and releases: 0700, whether it is created
    /// now or an earlier version (or an operator's <c>mkdir</c>) left it wider.
    /// </summary>
    private static void OwnerOnlyDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return;
        }
        const UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        Directory.CreateDirectory(path, mode);
        File.SetUnixFileMode(path, mode);
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
