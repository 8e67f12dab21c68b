using System.Data.Common;
using System.Reflection;

namespace Slipway.Server.Data;

/// <summary>
/// Applies the provider's pending SQL files (<c>Migrations/{Provider}/NNNN_name.sql</c>) in order, all in one
/// transaction together with their rows in <c>schema_migrations</c>. EF Core's design-time tools do not
/// restore here, so the schema is plain, reviewable SQL that this runner owns. It runs on a plain ADO.NET connection:
/// nothing before serving waits for EF Core's model.
/// </summary>
internal sealed partial class MigrationRunner(DbConnections connections, ILogger<MigrationRunner> logger)
{
    public static IReadOnlyList<(string Version, string Sql)> Scripts(DatabaseProvider provider)
    {
        var prefix = $"migrations/{provider}/";
        var assembly = typeof(MigrationRunner).Assembly;
        return assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(prefix, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(n => (Path.GetFileNameWithoutExtension(n[prefix.Length..]), Read(assembly, n)))
            .ToList();
    }

    public async Task<int> MigrateAsync(CancellationToken ct)
    {
        await using var connection = await connections.OpenAsync(ct);
        if (connections.Provider == DatabaseProvider.Sqlite) await ExecAsync(connection, null, "PRAGMA journal_mode = WAL;", ct);
        await ExecAsync(connection, null,
            "CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT NOT NULL PRIMARY KEY, applied_at TEXT NOT NULL);", ct);
        // One transaction for every pending script: a new database is created with one commit, and an upgrade either
        // applies all of its scripts or none.
        await using var tx = await connection.BeginTransactionAsync(ct);
        if (connections.Provider == DatabaseProvider.Postgres)
        {
            // Two servers starting at once on one database: the second waits, then sees the rows.
            await ExecAsync(connection, tx, "SELECT pg_advisory_xact_lock(7336201);", ct);
        }
        var done = new HashSet<string>(StringComparer.Ordinal);
        await using (var check = connection.CreateCommand())
        {
            check.Transaction = tx;
            check.CommandText = "SELECT version FROM schema_migrations";
            await using var rows = await check.ExecuteReaderAsync(ct);
            while (await rows.ReadAsync(ct)) done.Add(rows.GetString(0));
        }
        var applied = new List<string>();
        foreach (var (version, sql) in Scripts(connections.Provider).Where(s => !done.Contains(s.Version)))
        {
            await ExecAsync(connection, tx, sql, ct);
            await using var record = connection.CreateCommand();
            record.Transaction = tx;
            record.CommandText = "INSERT INTO schema_migrations (version, applied_at) VALUES (@v, @t)";
            AddParameter(record, "@v", version);
            AddParameter(record, "@t", DateTime.UtcNow.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
            await record.ExecuteNonQueryAsync(ct);
            applied.Add(version);
        }
        await tx.CommitAsync(ct);
        foreach (var version in applied) Applied(logger, version);
        return applied.Count;
    }

    private static async Task ExecAsync(DbConnection connection, DbTransaction? tx, string sql, CancellationToken ct)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = tx;
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(ct);
    }

    private static void AddParameter(DbCommand command, string name, object value)
    {
        var p = command.CreateParameter();
        p.ParameterName = name;
        p.Value = value;
        command.Parameters.Add(p);
    }

    private static string Read(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    [LoggerMessage(EventId = 1100, Level = LogLevel.Information, Message = "Applied database migration {Version}")]
    private static partial void Applied(ILogger logger, string version);
}
