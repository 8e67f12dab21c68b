using Slipway.Server.Hosting;

namespace Slipway.Server.Tests.Hosting;

/// <summary>The one read cache behind projects, finished deployments, roles and token versions: a forget always wins over a load.</summary>
public sealed class ForgettingCachedReadsTests
{
    private readonly GenerationCache<string, string> cache = new(TimeProvider.System, maxEntries: 100);

    [Fact]
    public async Task Load_ThenRead_IsServedFromMemory()
    {
        var loads = 0;
        Task<string> Load() => Task.FromResult($"v{++loads}");

        Assert.Equal("v1", await cache.GetAsync("k", Load));
        Assert.Equal("v1", await cache.GetAsync("k", Load));
        Assert.Equal(1, loads);
    }

    [Fact]
    public async Task Forget_DuringALoad_KeepsTheLoadedValueOutOfTheCache()
    {
        // The load read the old row; the writer committed and forgot before the load finished.
        var stale = await cache.GetAsync("k", () =>
        {
            cache.Forget("k");
            return Task.FromResult("old");
        });

        Assert.Equal("old", stale);
        Assert.False(cache.TryGet("k", out _));
        Assert.Equal("new", await cache.GetAsync("k", () => Task.FromResult("new")));
    }

    [Fact]
    public async Task Clear_DuringABatchLoad_KeepsNoneOfIt()
    {
        var found = await cache.GetManyAsync(["a", "b"], missing =>
        {
            cache.Clear();
            return Task.FromResult(missing.Select(k => (k, "old-" + k)));
        });

        Assert.Equal("old-a", found["a"]);
        Assert.False(cache.TryGet("a", out _));
        Assert.False(cache.TryGet("b", out _));
    }

    [Fact]
    public async Task BatchLoad_KeepsOnlyWhatItMayKeep_AndLeavesOutWhatDoesNotExist()
    {
        var found = await cache.GetManyAsync(["done", "running", "gone"],
            missing => Task.FromResult(missing.Where(k => k != "gone").Select(k => (k, k))), keep: v => v == "done");

        Assert.Equal(["done", "running"], found.Keys.Order());
        Assert.True(cache.TryGet("done", out _));
        Assert.False(cache.TryGet("running", out _));
        Assert.False(cache.TryGet("gone", out _));
    }

    [Fact]
    public async Task Forget_OfOneKey_LeavesTheOthers()
    {
        await cache.GetAsync("a", () => Task.FromResult("a"));
        await cache.GetAsync("b", () => Task.FromResult("b"));

        cache.Forget("a");

        Assert.False(cache.TryGet("a", out _));
        Assert.True(cache.TryGet("b", out var b));
        Assert.Equal("b", b);
    }
}
