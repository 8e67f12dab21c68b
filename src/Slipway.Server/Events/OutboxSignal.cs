using System.Data.Common;
using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Slipway.Server.Events;

/// <summary>
/// Wakes the webhook worker the moment an event is committed, so delivery starts within milliseconds instead of at
/// the next poll. As an EF interceptor it notices saved <see cref="Event"/> rows and signals after the commit that
/// makes them visible (or at once when there is no explicit transaction). Polling stays as the safety net.
/// </summary>
internal sealed class OutboxSignal : IDbTransactionInterceptor, ISaveChangesInterceptor, IDisposable
{
    private readonly SemaphoreSlim signal = new(0, 1);
    private readonly ConditionalWeakTable<DbContext, StrongBox<bool>> pending = new();

    public void Dispose() => signal.Dispose();

    public void Notify()
    {
        try
        {
            if (signal.CurrentCount == 0) signal.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already signalled.
        }
    }

    /// <summary>Waits for a signal or the timeout, whichever comes first.</summary>
    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken ct) => signal.WaitAsync(timeout, ct);

    public InterceptionResult<int> SavingChanges(DbContextEventData eventData, InterceptionResult<int> result)
    {
        Mark(eventData.Context);
        return result;
    }

    public ValueTask<InterceptionResult<int>> SavingChangesAsync(DbContextEventData eventData, InterceptionResult<int> result,
        CancellationToken cancellationToken = default)
    {
        Mark(eventData.Context);
        return ValueTask.FromResult(result);
    }

    public int SavedChanges(SaveChangesCompletedEventData eventData, int result)
    {
        NotifyUnlessInTransaction(eventData.Context);
        return result;
    }

    public ValueTask<int> SavedChangesAsync(SaveChangesCompletedEventData eventData, int result, CancellationToken cancellationToken = default)
    {
        NotifyUnlessInTransaction(eventData.Context);
        return ValueTask.FromResult(result);
    }

    public void TransactionCommitted(DbTransaction transaction, TransactionEndEventData eventData) => NotifyIfPending(eventData.Context);

    public Task TransactionCommittedAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        NotifyIfPending(eventData.Context);
        return Task.CompletedTask;
    }

    private void Mark(DbContext? context)
    {
        if (context is null || !context.ChangeTracker.Entries<Event>().Any(e => e.State == EntityState.Added)) return;
        pending.GetOrCreateValue(context).Value = true;
    }

    private void NotifyUnlessInTransaction(DbContext? context)
    {
        if (context is null || context.Database.CurrentTransaction is not null) return;
        NotifyIfPending(context);
    }

    private void NotifyIfPending(DbContext? context)
    {
        if (context is null || !pending.TryGetValue(context, out var flag) || !flag.Value) return;
        flag.Value = false;
        Notify();
    }
}
