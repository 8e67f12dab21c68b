using System.Collections.Concurrent;
using Slipway.Server.Hosting;

namespace Slipway.Server.Data;

/// <summary>
/// The ids of list pages (<c>GET /projects</c>, <c>GET /deployments</c>), by everything the page query depends on,
/// valid until the next database write (<see cref="DatabaseWrites"/>) or <see cref="GenerationCache{TKey,TValue}.Lifetime"/>
/// (writes by another process). The caller checks access before it asks; the items come from the read caches.
/// </summary>
internal sealed class IdPageCache(DatabaseWrites writes, TimeProvider time)
{
    private const int MaxEntries = 10_000;
    private readonly ConcurrentDictionary<string, Entry> entries = new();

    private sealed record Entry(Page<string> Page, long Version, long LoadedAt);

    public async Task<Page<string>> GetAsync(string key, Func<Task<Page<string>>> load)
    {
        var version = writes.Version;
        if (entries.TryGetValue(key, out var cached) && cached.Version == version
            && time.GetElapsedTime(cached.LoadedAt) < GenerationCache<string, Page<string>>.Lifetime)
        {
            return cached.Page;
        }
        var page = await load();
        if (entries.Count >= MaxEntries) entries.Clear();
        entries[key] = new Entry(page, version, time.GetTimestamp());
        return page;
    }
}
