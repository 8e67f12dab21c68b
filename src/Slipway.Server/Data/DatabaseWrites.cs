using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Slipway.Server.Data;

/// <summary>
/// A counter that moves after every write this process makes through EF Core, once it is committed: after every
/// <c>SaveChanges</c> (its <c>INSERT … RETURNING</c> commits only when its reader is done), every other statement that is
/// not a <c>SELECT</c> (<c>ExecuteUpdate</c>, <c>ExecuteDelete</c>, raw SQL) and every commit. A cache of query results
/// keeps the value read before its query and answers only while the counter still has it, so a read after a write sees
/// the write without every writer knowing every cache. Writes made with a plain connection (webhook deliveries, log
/// lines, the start-up migrations) do not move it.
/// </summary>
internal sealed class DatabaseWrites : IDbCommandInterceptor, IDbTransactionInterceptor, ISaveChangesInterceptor
{
    private long version;

    public long Version => Interlocked.Read(ref version);

    public int NonQueryExecuted(DbCommand command, CommandExecutedEventData eventData, int result)
    {
        Moved(command);
        return result;
    }

    public ValueTask<int> NonQueryExecutedAsync(DbCommand command, CommandExecutedEventData eventData, int result,
        CancellationToken cancellationToken = default)
    {
        Moved(command);
        return ValueTask.FromResult(result);
    }

    public object? ScalarExecuted(DbCommand command, CommandExecutedEventData eventData, object? result)
    {
        Moved(command);
        return result;
    }

    public ValueTask<object?> ScalarExecutedAsync(DbCommand command, CommandExecutedEventData eventData, object? result,
        CancellationToken cancellationToken = default)
    {
        Moved(command);
        return ValueTask.FromResult(result);
    }

    public int SavedChanges(SaveChangesCompletedEventData eventData, int result)
    {
        Interlocked.Increment(ref version);
        return result;
    }

    public ValueTask<int> SavedChangesAsync(SaveChangesCompletedEventData eventData, int result, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref version);
        return ValueTask.FromResult(result);
    }

    public void TransactionCommitted(DbTransaction transaction, TransactionEndEventData eventData) => Interlocked.Increment(ref version);

    public Task TransactionCommittedAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref version);
        return Task.CompletedTask;
    }

    private void Moved(DbCommand command)
    {
        if (!command.CommandText.AsSpan().TrimStart().StartsWith("SELECT", StringComparison.OrdinalIgnoreCase)) Interlocked.Increment(ref version);
    }
}
