using System.Buffers;
using System.Text;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore.Metadata;
using Npgsql;
using SQLitePCL;

namespace Slipway.Server.Data;

/// <summary>
/// Inserts many new rows of one entity type inside the context's current transaction, without the change tracker (which
/// costs several times the statements for ingests of tens of thousands of rows): SQLite re-binds one prepared statement
/// per row through its own API, PostgreSQL sends one binary COPY. Columns, their names and their value conversions (enums as their API
/// spelling) come from the EF model, so EF reads the rows back exactly as if it had written them.
/// </summary>
internal static class BulkInsert
{
    public static async Task InsertAsync<T>(this SlipwayDb db, IReadOnlyCollection<T> rows, CancellationToken ct) where T : class
    {
        if (rows.Count == 0) return;
        if (db.Database.CurrentTransaction is null) throw new InvalidOperationException("A bulk insert runs inside a transaction.");
        var entity = db.Model.FindEntityType(typeof(T)) ?? throw new InvalidOperationException($"{typeof(T).Name} is not in the model.");
        var table = StoreObjectIdentifier.Table(entity.GetTableName()!, entity.GetSchema());
        var columns = entity.GetProperties().Select(p => new Column(p, p.GetColumnName(table)!)).ToArray();
        switch (db.Database.GetDbConnection())
        {
            case NpgsqlConnection postgres:
                await CopyAsync(postgres, table.Name, columns, rows, ct);
                break;
            case SqliteConnection sqlite:
                InsertEach(sqlite, table.Name, columns, rows);
                break;
            default:
                throw new NotSupportedException($"No bulk insert for {db.Database.ProviderName}.");
        }
    }

    private static async Task CopyAsync<T>(NpgsqlConnection connection, string table, Column[] columns, IReadOnlyCollection<T> rows, CancellationToken ct)
    {
        var names = string.Join(", ", columns.Select(c => $"\"{c.Name}\""));
        await using var copy = await connection.BeginBinaryImportAsync($"COPY \"{table}\" ({names}) FROM STDIN (FORMAT BINARY)", ct);
        foreach (var row in rows)
        {
            await copy.StartRowAsync(ct);
            foreach (var column in columns)
            {
                if (column.Value(row!) is { } value) await copy.WriteAsync(value, column.StoreType, ct);
                else await copy.WriteNullAsync(ct);
            }
        }
        // Without Complete, disposing cancels the COPY and nothing is stored.
        await copy.CompleteAsync(ct);
    }

    /// <summary>
    /// One statement prepared once and re-bound per row through SQLite's own API (Microsoft.Data.Sqlite's
    /// <c>ExecuteNonQuery</c> costs several times the insert itself), in the caller's transaction on this connection.
    /// </summary>
    private static void InsertEach<T>(SqliteConnection connection, string table, Column[] columns, IReadOnlyCollection<T> rows)
    {
        var db = connection.Handle!;
        var sql = $"INSERT INTO \"{table}\" ({string.Join(", ", columns.Select(c => $"\"{c.Name}\""))}) " +
            $"VALUES ({string.Join(", ", columns.Select((_, i) => $"?{i + 1}"))})";
        Check(raw.sqlite3_prepare_v2(db, sql, out var insert), db);
        var text = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            Span<byte> timestamp = stackalloc byte[32];
            foreach (var row in rows)
            {
                for (var i = 0; i < columns.Length; i++)
                {
                    var index = i + 1;
                    var rc = columns[i].Value(row!) switch
                    {
                        null => raw.sqlite3_bind_null(insert, index),
                        string s => BindText(insert, index, s, ref text),
                        DateTime t => raw.sqlite3_bind_text(insert, index, SqliteTimestamp(t, timestamp)),
                        int n => raw.sqlite3_bind_int64(insert, index, n),
                        long n => raw.sqlite3_bind_int64(insert, index, n),
                        bool b => raw.sqlite3_bind_int64(insert, index, b ? 1 : 0),
                        double d => raw.sqlite3_bind_double(insert, index, d),
                        var other => throw new NotSupportedException($"No SQLite binding for {other.GetType().Name} ({columns[i].Name})."),
                    };
                    Check(rc, db);
                }
                var step = raw.sqlite3_step(insert);
                raw.sqlite3_reset(insert);
                if (step != raw.SQLITE_DONE) SqliteException.ThrowExceptionForRC(step, db);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(text);
            insert.Dispose();
        }
    }

    /// <summary>Binds UTF-8 from one reused buffer (SQLite copies it: SQLITE_TRANSIENT).</summary>
    internal static int BindText(sqlite3_stmt statement, int index, string value, ref byte[] buffer)
    {
        var max = Encoding.UTF8.GetMaxByteCount(value.Length);
        if (max > buffer.Length)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            buffer = ArrayPool<byte>.Shared.Rent(max);
        }
        var length = Encoding.UTF8.GetBytes(value, buffer);
        return raw.sqlite3_bind_text(statement, index, buffer.AsSpan(0, length));
    }

    internal static void Check(int rc, sqlite3 db)
    {
        if (rc != raw.SQLITE_OK) SqliteException.ThrowExceptionForRC(rc, db);
    }

    /// <summary><c>yyyy-MM-dd HH:mm:ss.FFFFFFF</c>: what Microsoft.Data.Sqlite writes for a DateTime, so EF reads it back unchanged.</summary>
    internal static ReadOnlySpan<byte> SqliteTimestamp(DateTime value, Span<byte> into)
    {
        Hosting.SlipwayJson.FormatTimestamp(value, into);
        into[10] = (byte)' ';
        // Seven fraction digits (ticks), trailing zeros and then a bare dot dropped.
        var fraction = (int)(value.Ticks % TimeSpan.TicksPerSecond);
        var length = 19;
        if (fraction != 0)
        {
            into[19] = (byte)'.';
            for (var i = 26; i >= 20; i--, fraction /= 10) into[i] = (byte)('0' + fraction % 10);
            length = 27;
            while (into[length - 1] == '0') length--;
        }
        return into[..length];
    }

    /// <summary>One column: its name, its store type, and the row's value as the provider stores it.</summary>
    private sealed class Column(IProperty property, string name)
    {
        private readonly IClrPropertyGetter getter = property.GetGetter();
        private readonly Microsoft.EntityFrameworkCore.Storage.ValueConversion.ValueConverter? converter =
            property.GetTypeMapping().Converter;

        public string Name => name;
        public string StoreType { get; } = property.GetColumnType();

        public object? Value(object row)
        {
            var value = getter.GetClrValue(row);
            return value is null || converter is null ? value : converter.ConvertToProvider(value);
        }
    }
}
