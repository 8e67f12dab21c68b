using System.Collections.Concurrent;

namespace Slipway.Server.Hosting;

/// <summary>
/// An in-memory read cache that every writer of the cached data empties (<see cref="Forget"/>, <see cref="Clear"/>), so a
/// read after a write sees the write. A load that races a forget is not stored (generation check, again after storing:
/// a forget between the check and the store must not leave the old value cached). One process only: <see cref="Lifetime"/>
/// bounds how stale a read can be when another process (the CLI, a second server) writes; see docs/operations.md.
/// </summary>
internal sealed class GenerationCache<TKey, TValue>(TimeProvider time, int maxEntries) where TKey : notnull
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(30);
    private readonly ConcurrentDictionary<TKey, Entry> entries = new();
    private long generation;

    private sealed record Entry(TValue Value, long LoadedAt);

    /// <summary>Read before a load; hand it to <see cref="Store"/> with what was loaded.</summary>
    public long Generation => Interlocked.Read(ref generation);

    public bool TryGet(TKey key, out TValue value)
    {
        if (entries.TryGetValue(key, out var cached) && time.GetElapsedTime(cached.LoadedAt) < Lifetime)
        {
            value = cached.Value;
            return true;
        }
        value = default!;
        return false;
    }

    public async ValueTask<TValue> GetAsync(TKey key, Func<Task<TValue>> load)
    {
        if (TryGet(key, out var cached)) return cached;
        var before = Generation;
        var value = await load();
        Store(key, value, before);
        return value;
    }

    /// <summary>
    /// The values of those keys that exist: the ones not cached are loaded together by <paramref name="load"/> (which
    /// leaves out what does not exist), and kept when <paramref name="keep"/> says so.
    /// </summary>
    public async Task<Dictionary<TKey, TValue>> GetManyAsync(IEnumerable<TKey> keys, Func<List<TKey>, Task<IEnumerable<(TKey Key, TValue Value)>>> load,
        Func<TValue, bool>? keep = null)
    {
        var found = new Dictionary<TKey, TValue>(entries.Comparer);
        var missing = new List<TKey>();
        foreach (var key in keys)
        {
            if (TryGet(key, out var cached)) found[key] = cached;
            else if (!found.ContainsKey(key) && !missing.Contains(key)) missing.Add(key);
        }
        if (missing.Count == 0) return found;
        var before = Generation;
        foreach (var (key, value) in await load(missing))
        {
            found[key] = value;
            if (keep is null || keep(value)) Store(key, value, before);
        }
        return found;
    }

    /// <summary>Keeps a value loaded after <paramref name="before"/> was read from <see cref="Generation"/>, unless a forget came since.</summary>
    public void Store(TKey key, TValue value, long before)
    {
        if (entries.Count >= maxEntries) entries.Clear();
        if (Generation != before) return;
        entries[key] = new Entry(value, time.GetTimestamp());
        if (Generation != before) entries.TryRemove(key, out _);
    }

    public void Forget(TKey key)
    {
        Interlocked.Increment(ref generation);
        entries.TryRemove(key, out _);
    }

    public void Clear()
    {
        Interlocked.Increment(ref generation);
        entries.Clear();
    }
}
