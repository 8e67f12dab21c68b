using System.Collections;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.Extensions.DependencyInjection;
using Slipway.Server.Data;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Data;

/// <summary>The EF model and the SQL migrations describe the same schema (run on SQLite, and on PostgreSQL in CI).</summary>
public sealed class SchemaTests : IAsyncLifetime
{
    private SlipwayServer server = null!;

    public async Task InitializeAsync() => server = await SlipwayServer.StartAsync();

    public async Task DisposeAsync() => await server.DisposeAsync();

    [Fact]
    public async Task EveryMappedEntity_MatchesMigratedTable_ColumnForColumn()
    {
        await using var scope = server.Service<IServiceScopeFactory>().CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
        var entities = db.Model.GetEntityTypes().ToList();
        Assert.NotEmpty(entities);
        foreach (var entity in entities)
        {
            var table = entity.GetTableName()!;
            var store = StoreObjectIdentifier.Table(table, entity.GetSchema());
            var modelColumns = entity.GetProperties().ToDictionary(p => p.GetColumnName(store)!, p => p.IsColumnNullable(store));
            var dbColumns = await ColumnsAsync(db, table);
            Assert.True(dbColumns.Count > 0, $"table {table} is missing");
            Assert.Equal(modelColumns.Keys.Order(StringComparer.Ordinal), dbColumns.Keys.Order(StringComparer.Ordinal));
            foreach (var (column, nullable) in modelColumns)
            {
                Assert.True(nullable == dbColumns[column], $"{table}.{column}: model nullable={nullable}, database nullable={dbColumns[column]}");
            }

            // And EF can really read the table through the model.
            var set = typeof(DbContext).GetMethod(nameof(DbContext.Set), Type.EmptyTypes)!.MakeGenericMethod(entity.ClrType).Invoke(db, null)!;
            var rows = ((IEnumerable)set).Cast<object>().Take(1).ToList();
            Assert.True(rows.Count <= 1);
        }
    }

    [Fact]
    public async Task Migrations_AreRecorded_AndNotAppliedTwice()
    {
        var applied = await server.Service<MigrationRunner>().MigrateAsync(CancellationToken.None);
        Assert.Equal(0, applied);
        await using var scope = server.Service<IServiceScopeFactory>().CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
        var provider = server.IsPostgres ? DatabaseProvider.Postgres : DatabaseProvider.Sqlite;
        var versions = await db.Database.SqlQueryRaw<string>("SELECT version AS \"Value\" FROM schema_migrations").ToListAsync();
        Assert.Equal(MigrationRunner.Scripts(provider).Select(s => s.Version).Order(), versions.Order());
    }

    [Fact]
    public void BothProviders_HaveTheSameMigrationVersions()
    {
        Assert.Equal(
            MigrationRunner.Scripts(DatabaseProvider.Sqlite).Select(s => s.Version),
            MigrationRunner.Scripts(DatabaseProvider.Postgres).Select(s => s.Version));
        Assert.NotEmpty(MigrationRunner.Scripts(DatabaseProvider.Sqlite));
    }

    private async Task<Dictionary<string, bool>> ColumnsAsync(SlipwayDb db, string table)
    {
        var sql = server.IsPostgres
            ? $"SELECT column_name || ':' || CASE WHEN is_nullable = 'YES' THEN '1' ELSE '0' END AS \"Value\" FROM information_schema.columns WHERE table_schema = 'public' AND table_name = '{table}'"
            : $"SELECT name || ':' || CASE WHEN \"notnull\" = 0 AND pk = 0 THEN '1' ELSE '0' END AS \"Value\" FROM pragma_table_info('{table}')";
        var rows = await db.Database.SqlQueryRaw<string>(sql).ToListAsync();
        return rows.Select(r => r.Split(':')).ToDictionary(p => p[0], p => p[1] == "1");
    }
}
