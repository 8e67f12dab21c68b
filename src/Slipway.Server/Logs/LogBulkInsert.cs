using Microsoft.Data.Sqlite;
using Npgsql;
using NpgsqlTypes;
using Slipway.Server.Data;

namespace Slipway.Server.Logs;

/// <summary>
/// Stores a batch of log lines the fastest way each provider has, bypassing EF's change tracker (which cost more than the
/// insert itself): SQLite gets one transaction with one prepared INSERT re-bound per line, PostgreSQL one binary COPY.
/// Values are bound exactly as EF binds them (text columns, <c>timestamp</c> as a UTC <see cref="DateTime"/>), so EF reads
/// the rows back unchanged. A batch is stored whole or not at all.
/// </summary>
internal static class LogBulkInsert
{
    private const string Columns = "deployment_id, seq, timestamp, level, stream, message";

    /// <summary>Synchronous: the log writer calls it from a thread of its own.</summary>
    public static void Insert(SlipwayDb db, IReadOnlyList<LogLine> lines)
    {
        // Opened through EF so the connection interceptors (SQLite's busy_timeout) apply.
        db.Database.OpenConnection();
        try
        {
            switch (db.Database.GetDbConnection())
            {
                case SqliteConnection sqlite:
                    InsertSqlite(sqlite, lines);
                    break;
                case NpgsqlConnection postgres:
                    CopyPostgres(postgres, lines);
                    break;
                default:
                    throw new NotSupportedException($"No bulk insert for {db.Database.ProviderName}.");
            }
        }
        finally
        {
            db.Database.CloseConnection();
        }
    }

    /// <summary>A deployment of the batch is gone (deleted meanwhile): a foreign-key violation.</summary>
    public static bool IsMissingDeployment(Exception ex) => ex switch
    {
        SqliteException s => s.SqliteErrorCode == 19 && s.SqliteExtendedErrorCode == 787,
        PostgresException p => p.SqlState == PostgresErrorCodes.ForeignKeyViolation,
        _ => false,
    };

    // Microsoft.Data.Sqlite is synchronous underneath; the async overloads would only add a state machine per line.
    private static void InsertSqlite(SqliteConnection connection, IReadOnlyList<LogLine> lines)
    {
        using var transaction = connection.BeginTransaction(deferred: false);
        using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = $"INSERT INTO deployment_logs ({Columns}) VALUES ($d, $s, $t, $l, $st, $m)";
        var deployment = insert.Parameters.Add("$d", SqliteType.Text);
        var seq = insert.Parameters.Add("$s", SqliteType.Integer);
        var timestamp = insert.Parameters.Add("$t", SqliteType.Text);
        var level = insert.Parameters.Add("$l", SqliteType.Text);
        var stream = insert.Parameters.Add("$st", SqliteType.Text);
        var message = insert.Parameters.Add("$m", SqliteType.Text);
        insert.Prepare();
        foreach (var line in lines)
        {
            deployment.Value = line.DeploymentId;
            seq.Value = line.Seq;
            // A DateTime value: Microsoft.Data.Sqlite writes it as EF does ("yyyy-MM-dd HH:mm:ss.FFFFFFF").
            timestamp.Value = line.Timestamp;
            level.Value = line.Level;
            stream.Value = line.Stream;
            message.Value = line.Message;
            insert.ExecuteNonQuery();
        }
        transaction.Commit();
    }

    private static void CopyPostgres(NpgsqlConnection connection, IReadOnlyList<LogLine> lines)
    {
        using var copy = connection.BeginBinaryImport($"COPY deployment_logs ({Columns}) FROM STDIN (FORMAT BINARY)");
        foreach (var line in lines)
        {
            copy.StartRow();
            copy.Write(line.DeploymentId, NpgsqlDbType.Text);
            copy.Write(line.Seq, NpgsqlDbType.Bigint);
            copy.Write(line.Timestamp, NpgsqlDbType.TimestampTz);
            copy.Write(line.Level, NpgsqlDbType.Text);
            copy.Write(line.Stream, NpgsqlDbType.Text);
            copy.Write(line.Message, NpgsqlDbType.Text);
        }
        // Without Complete, disposing cancels the COPY and nothing is stored.
        copy.Complete();
    }
}
