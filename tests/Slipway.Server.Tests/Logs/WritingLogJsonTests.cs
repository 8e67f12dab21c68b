using System.Text;
using System.Text.Json;
using Slipway.Server.Hosting;
using Slipway.Server.Logs;

namespace Slipway.Server.Tests.Logs;

/// <summary>The hand-written line JSON must be byte for byte what the serializer writes for the same shapes.</summary>
public sealed class WritingLogJsonTests
{
    private static readonly JsonSerializerOptions StreamOptions =
        new(SlipwayJson.Options) { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

    [Theory]
    [InlineData("plain line")]
    [InlineData("quotes \" and \\ backslash, tab\tand <html> & 'apostrophes'")]
    [InlineData("unicode: héllo → 🚀 and a control \u0001 character")]
    [InlineData("")]
    public void BothShapes_MatchTheSerializer(string message)
    {
        var line = new LogLine
        {
            DeploymentId = "01a2b3c4-0000-7000-8000-000000000001", Seq = 1234567, Level = "warn", Stream = "stderr", Message = message,
            Timestamp = new DateTime(2026, 1, 2, 3, 4, 5, 67, DateTimeKind.Utc),
        };

        var messageJson = LogJson.StreamMessage(line);
        var lineJson = "{"u8.ToArray().Concat(LogJson.LineTailOf(messageJson).ToArray()).ToArray();

        var expectedMessage = JsonSerializer.Serialize(
            new StreamMessage("log", "01a2b3c4-0000-7000-8000-000000000001.1234567", line.Seq, line.DeploymentId, line.Timestamp, line.Timestamp, line.Level,
                line.Stream, line.Message), StreamOptions);
        var expectedLine = JsonSerializer.Serialize(LogEndpoints.Response(line), SlipwayJson.Options);
        Assert.Equal(expectedMessage, Encoding.UTF8.GetString(messageJson));
        Assert.Equal(expectedLine, Encoding.UTF8.GetString(lineJson));
        var evt = LogEvent.ForLine(line);
        Assert.Equal(expectedMessage, Encoding.UTF8.GetString(evt.Json));
        Assert.Equal($"42[\"log\",{expectedLine}]", Encoding.UTF8.GetString(evt.SocketIoLogMessage));
    }

    [Theory]
    [InlineData(1, 1, 1, 0, 0, 0, 0)]
    [InlineData(2026, 12, 31, 23, 59, 59, 999)]
    [InlineData(9999, 6, 15, 12, 30, 7, 5)]
    public void Timestamps_AreUtcWithMilliseconds_AsEverywhereElse(int y, int mo, int d, int h, int mi, int s, int ms)
    {
        var value = new DateTime(y, mo, d, h, mi, s, ms, DateTimeKind.Utc);

        var written = Encoding.ASCII.GetString(SlipwayJson.FormatTimestamp(value, stackalloc byte[24]));

        Assert.Equal(SlipwayJson.Timestamp(value), written);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(120)]
    [InlineData(999)]
    [InlineData(1234567)]
    public void StoredTimestamps_AreTheTextMicrosoftDataSqliteWritesForADateTime(long ticksIntoTheSecond)
    {
        var value = new DateTime(2026, 11, 22, 10, 49, 12, DateTimeKind.Utc).AddTicks(ticksIntoTheSecond * (ticksIntoTheSecond < 1000 ? TimeSpan.TicksPerMillisecond : 1));

        var written = Encoding.ASCII.GetString(Slipway.Server.Data.BulkInsert.SqliteTimestamp(value, stackalloc byte[32]));

        Assert.Equal(value.ToString("yyyy-MM-dd HH:mm:ss.FFFFFFF", System.Globalization.CultureInfo.InvariantCulture), written);
    }
}
