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
        Directory.CreateDirectory(dataDirectory);
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
