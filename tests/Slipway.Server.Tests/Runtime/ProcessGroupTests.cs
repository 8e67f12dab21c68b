using Slipway.Server.Runtime;

namespace Slipway.Server.Tests.Runtime;

public sealed class ProcessGroupTests
{
    [Fact]
    public async Task Exited_LastLinesWrittenJustBeforeExit_AreDeliveredFirst()
    {
        for (var run = 0; run < 10; run++)
        {
            var lines = new System.Collections.Concurrent.ConcurrentQueue<string>();
            await using var group = ProcessGroup.Start("seq 1 2000; echo last >&2; exit 7", Path.GetTempPath(), new Dictionary<string, string>(),
                (stream, line) => lines.Enqueue(stream + ":" + line));

            Assert.Equal(7, await group.Exited.WaitAsync(RuntimeTesting.Patience));

            Assert.Contains("stdout:2000", lines);
            Assert.Contains("stderr:last", lines);
        }
    }
}
