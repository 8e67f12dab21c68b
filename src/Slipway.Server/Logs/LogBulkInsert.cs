using System.Buffers;
using Microsoft.Data.Sqlite;
using Npgsql;
using NpgsqlTypes;
using Slipway.Server.Data;
using SQLitePCL;
using static Slipway.Server.Data.BulkInsert;

namespace Slipway.Server.Logs;

/// <summary>
/// Stores a batch of log lines the fastest way each provider has, bypassing EF's change tracker (which cost more than the
/// insert itself): SQLite gets one transaction with one prepared INSERT re-bound per line through SQLite's own API,
/// PostgreSQL one binary COPY.
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

    /// <summary>
    /// One transaction, one statement prepared once and re-bound per line through SQLite's own API: Microsoft.Data.Sqlite's
    /// <c>ExecuteNonQuery</c> costs several times the insert itself per call. Text goes in as UTF-8 from one reused
    /// buffer; the timestamp as the text EF writes for a <see cref="DateTime"/> (<c>yyyy-MM-dd HH:mm:ss.FFFFFFF</c>).
    /// </summary>
    private static void InsertSqlite(SqliteConnection connection, IReadOnlyList<LogLine> lines)
    {
        using var transaction = connection.BeginTransaction(deferred: false);
        var db = connection.Handle!;
        Check(raw.sqlite3_prepare_v2(db, $"INSERT INTO deployment_logs ({Columns}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", out var insert), db);
        var text = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            Span<byte> timestamp = stackalloc byte[32];
            foreach (var line in lines)
            {
                Check(BindText(insert, 1, line.DeploymentId, ref text), db);
                Check(raw.sqlite3_bind_int64(insert, 2, line.Seq), db);
                Check(raw.sqlite3_bind_text(insert, 3, SqliteTimestamp(line.Timestamp, timestamp)), db);
                Check(BindText(insert, 4, line.Level, ref text), db);
                Check(BindText(insert, 5, line.Stream, ref text), db);
                Check(BindText(insert, 6, line.Message, ref text), db);
                var rc = raw.sqlite3_step(insert);
                raw.sqlite3_reset(insert);
                if (rc != raw.SQLITE_DONE) SqliteException.ThrowExceptionForRC(rc, db);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(text);
            insert.Dispose();
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
