using Microsoft.Data.Sqlite;
using Npgsql;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Webhooks;

/// <summary>
/// The database of a server running as a child process, written from outside it: events inserted here reach the
/// server only through its own polling, as rows committed by another writer would.
/// </summary>
internal sealed class OutsideDatabase : IAsyncDisposable
{
    private readonly string? postgresDatabase;
    private readonly string connectionString;

    private OutsideDatabase(string connectionString, string? postgresDatabase, Dictionary<string, string> settings)
    {
        this.connectionString = connectionString;
        this.postgresDatabase = postgresDatabase;
        Settings = settings;
    }

    public Dictionary<string, string> Settings { get; }

    public List<string> InsertedIds { get; } = [];

    public static async Task<OutsideDatabase> CreateAsync(string dataDirectory)
    {
        if (!SlipwayServer.UsePostgres)
        {
            return new OutsideDatabase($"Data Source={Path.Combine(dataDirectory, "slipway.db")};Default Timeout=30", null, []);
        }
        var name = "slipway_test_" + Guid.NewGuid().ToString("N")[..12];
        await using (var admin = new NpgsqlConnection(SlipwayServer.PostgresAdminConnection))
        {
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", admin);
            await create.ExecuteNonQueryAsync();
        }
        var connection = new NpgsqlConnectionStringBuilder(SlipwayServer.PostgresAdminConnection) { Database = name }.ToString();
        return new OutsideDatabase(connection, name, new Dictionary<string, string>
        {
            ["Slipway:Database:Provider"] = "postgres",
            ["Slipway:Database:ConnectionString"] = connection,
        });
    }

    public async Task InsertEventsAsync(string workspaceId, int count)
    {
        const string Sql = "INSERT INTO events (id, workspace_id, project_id, type, data, created_at) VALUES (@id, @workspace, NULL, 'deployment.status_changed', @data, @created)";
        var now = DateTime.UtcNow;
        if (postgresDatabase is null)
        {
            await using var connection = new SqliteConnection(connectionString);
            await connection.OpenAsync();
            await using var tx = (SqliteTransaction)await connection.BeginTransactionAsync();
            for (var i = 0; i < count; i++)
            {
                await using var command = new SqliteCommand(Sql, connection, tx);
                Add(command.Parameters, i, now);
                await command.ExecuteNonQueryAsync();
            }
            await tx.CommitAsync();
        }
        else
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            await using var tx = await connection.BeginTransactionAsync();
            for (var i = 0; i < count; i++)
            {
                await using var command = new NpgsqlCommand(Sql, connection, tx);
                Add(command.Parameters, i, now);
                await command.ExecuteNonQueryAsync();
            }
            await tx.CommitAsync();
        }

        void Add(System.Data.Common.DbParameterCollection parameters, int i, DateTime at)
        {
            var id = Guid.CreateVersion7().ToString();
            InsertedIds.Add(id);
            parameters.Add(postgresDatabase is null ? new SqliteParameter("@id", id) : new NpgsqlParameter("id", id));
            parameters.Add(postgresDatabase is null ? new SqliteParameter("@workspace", workspaceId) : new NpgsqlParameter("workspace", workspaceId));
            parameters.Add(postgresDatabase is null ? new SqliteParameter("@data", $$"""{"n":{{i}}}""") : new NpgsqlParameter("data", $$"""{"n":{{i}}}"""));
            parameters.Add(postgresDatabase is null
                ? new SqliteParameter("@created", at.ToString("yyyy-MM-dd HH:mm:ss.FFFFFFF", System.Globalization.CultureInfo.InvariantCulture))
                : new NpgsqlParameter("created", at));
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (postgresDatabase is null) return;
        NpgsqlConnection.ClearAllPools();
        await using var admin = new NpgsqlConnection(SlipwayServer.PostgresAdminConnection);
        await admin.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {postgresDatabase} WITH (FORCE)", admin);
        await drop.ExecuteNonQueryAsync();
    }
}
