using Slipway.Server.Data;
using Slipway.Server.Hosting;

namespace Slipway.Server.EnvVars;

internal sealed record ReencryptResult(int Reencrypted, int Failed);

/// <summary>
/// The one re-encrypt pass after a master key rotation, for every kind of sealed secret (env var values, GitHub hook
/// secrets, webhook signing secrets): rows not yet under the active key, in id-ordered batches (so an interrupted pass
/// is finished by running it again). <c>reseal</c> opens, seals with the active key and writes the row only if it still
/// holds what was read (a value changed through the API meanwhile is never overwritten), returning the rows written;
/// a row that does not open (<see cref="SecretUnavailableException"/>) is counted, reported to <c>failed</c>, and left.
/// </summary>
internal static class SecretReencryption
{
    private const int BatchSize = 200;

    public static async Task<ReencryptResult> RunAsync<T>(IServiceScopeFactory scopes, Func<SlipwayDb, IQueryable<T>> stale,
        Func<SlipwayDb, T, CancellationToken, Task<int>> reseal, Action<T> failed, CancellationToken ct) where T : class, IHasId
    {
        var reencrypted = 0;
        var failures = 0;
        var after = "";
        while (true)
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
            var from = after;
            var batch = await stale(db).Where(r => string.Compare(r.Id, from) > 0).OrderBy(r => r.Id).Take(BatchSize).ToListAsync(ct);
            if (batch.Count == 0) break;
            after = batch[^1].Id;
            foreach (var row in batch)
            {
                try
                {
                    reencrypted += await reseal(db, row, ct);
                }
                catch (SecretUnavailableException)
                {
                    failed(row);
                    failures++;
                }
            }
        }
        return new ReencryptResult(reencrypted, failures);
    }
}
