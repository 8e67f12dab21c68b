using Slipway.Server.RateLimiting;

namespace Slipway.Server.Tests.RateLimiting;

/// <summary>The bucket arithmetic on its own: exact under contention, swept only when full, and refusing nonsense configuration.</summary>
public sealed class CountingTokensTests
{
    private static readonly long Start = DateTimeOffset.UtcNow.UtcTicks;

    private static BucketSet Bucket(double perMinute, int burst) => new(new BucketPolicy("test", new BucketOptions { RequestsPerMinute = perMinute, Burst = burst }));

    [Fact]
    public void ConcurrentTakes_OnOneBucket_AllowExactlyTheBurst()
    {
        var set = Bucket(60, 50);
        var allowed = 0;
        Parallel.For(0, 2000, new ParallelOptions { MaxDegreeOfParallelism = 8 }, _ =>
        {
            if (set.Take("key", Start).Allowed) Interlocked.Increment(ref allowed);
        });

        Assert.Equal(50, allowed);
        Assert.Equal(0, set.Peek("key", Start).Remaining);
    }

    [Fact]
    public void Sweep_RemovesFullBuckets_KeepsOnesStillRefilling()
    {
        var set = Bucket(60, 10);
        for (var i = 0; i < 10; i++) Assert.True(set.Take("busy", Start).Allowed);
        for (var i = 0; i < 1022; i++) Assert.True(set.Take("idle-" + i, Start).Allowed);
        Assert.Equal(1023, set.Count);

        var fiveSecondsLater = Start + TimeSpan.TicksPerSecond * 5;
        set.Take("new", fiveSecondsLater);

        Assert.Equal(2, set.Count);
        // Still 5 s from full: swept away, it would have come back with all 10 tokens.
        Assert.Equal(4, set.Take("busy", fiveSecondsLater).Remaining);
        Assert.Equal(9, set.Take("idle-0", fiveSecondsLater).Remaining);
    }

    [Fact]
    public void Refund_GivesTheTokenBack()
    {
        var set = Bucket(0.5, 1);
        Assert.True(set.Take("user", Start).Allowed);
        Assert.False(set.Take("user", Start).Allowed);

        var refunded = set.Refund("user", Start);

        Assert.Equal(1, refunded.Remaining);
        Assert.True(set.Take("user", Start).Allowed);
    }

    [Theory]
    [InlineData(0, 10)]
    [InlineData(-1, 10)]
    [InlineData(60, 0)]
    [InlineData(double.NaN, 10)]
    public void NonsenseConfiguration_IsRefusedAtStart(double perMinute, int burst) =>
        Assert.Throws<InvalidOperationException>(() => Bucket(perMinute, burst));
}
