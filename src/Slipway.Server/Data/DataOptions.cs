namespace Slipway.Server.Data;

internal enum DatabaseProvider
{
    Sqlite,
    Postgres,
}

internal sealed class DatabaseOptions
{
    public const string SectionName = "Slipway:Database";

    public DatabaseProvider Provider { get; set; } = DatabaseProvider.Sqlite;

    /// <summary>Empty with SQLite: <c>{DataDirectory}/slipway.db</c>. Required with PostgreSQL.</summary>
    public string? ConnectionString { get; set; }
}
