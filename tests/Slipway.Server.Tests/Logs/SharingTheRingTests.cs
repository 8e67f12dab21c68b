using Slipway.Server.Logs;

namespace Slipway.Server.Tests.Logs;

/// <summary>
/// A followed deployment's ring is read without a lock while a writer appends: a reader that is lapped during its copy
/// must say so (false) rather than hand out events that were overwritten under it.
/// </summary>
public sealed class SharingTheRingTests
{
    [Fact]
    public async Task AReaderLappedWhileItCopies_IsToldSo_AndEveryBatchItGetsIsExactlyTheEventsAtItsCursor()
    {
        const int capacity = 16;
        var feed = new LogHub.Feed(capacity);
        long cursor = 0;
        var batch = new List<LogEvent>();
        var good = 0L;
        var lapped = 0;
        var wrong = new List<string>();
        // The writer appends until the reader has both read enough and been lapped (a loaded machine may give the reader
        // little time), within a bound.
        using var enough = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var writer = Task.Run(() =>
        {
            for (var i = 0; !enough.IsCancellationRequested; i++) feed.Append(LogEvent.Gap(i));
        });
        while (!writer.IsCompleted || cursor < feed.End)
        {
            if (good > 1000 && lapped > 0) enough.Cancel();
            var from = cursor;
            batch.Clear();
            if (!feed.Read(ref cursor, batch, 8))
            {
                Assert.Empty(batch);
                Assert.Equal(from, cursor);
                lapped++;
                cursor = feed.End; // what a follower does: start again from the present (it catches up from storage)
                continue;
            }
            for (var k = 0; k < batch.Count; k++)
            {
                var expected = from + k;
                if (batch[k].From != expected && wrong.Count < 5) wrong.Add($"event {expected} read as {batch[k].From}");
            }
            good += batch.Count;
            Assert.Equal(from + batch.Count, cursor);
        }
        await writer;

        Assert.Empty(wrong);
        Assert.True(good > 1000, $"only {good} events read");
        Assert.True(lapped > 0, "the writer never lapped the reader: the test did not exercise the overwrite check");
    }
}
