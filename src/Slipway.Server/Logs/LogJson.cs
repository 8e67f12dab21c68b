using System.Buffers;
using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using Slipway.Server.Hosting;

namespace Slipway.Server.Logs;

/// <summary>
/// A log line's two JSON shapes, written by hand because a busy build serializes a hundred thousand lines a second: the
/// stream message (<c>{"type":"log","seq":...}</c>, <see cref="StreamMessage"/>) and the REST/Socket.IO shape
/// (<see cref="LogLineResponse"/>). Same names, order, timestamp format and escaping as <see cref="SlipwayJson.Options"/>
/// would give (a test holds them equal).
/// </summary>
internal static class LogJson
{
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = SlipwayJson.Options.Encoder, SkipValidation = true };

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? writer;

    private static ReadOnlySpan<byte> TypeLog => "{\"type\":\"log\","u8;

    /// <summary>
    /// <c>{"type":"log","id":...,"seq":...,"deployment_id":...,"timestamp":...,"created_at":...,"level":...,"stream":...,"message":...}</c>
    /// </summary>
    /// <param name="line">The line.</param>
    /// <param name="longLived">
    /// True for a line a followed deployment's ring keeps (its JSON goes on the pinned object heap, see <see cref="OldAtOnce"/>);
    /// false for one read back from storage for a single follower, which lives as long as one write.
    /// </param>
    public static byte[] StreamMessage(LogLine line, bool longLived = true)
    {
        var output = buffer ??= new ArrayBufferWriter<byte>(512);
        output.ResetWrittenCount();
        var json = writer ??= new Utf8JsonWriter(output, WriterOptions);
        json.Reset(output);
        json.WriteStartObject();
        json.WriteString("type"u8, "log"u8);
        // The id, the deployment id and the timestamps are ASCII without anything to escape: they are written as raw quoted
        // values, the deployment id transcoded once for both of its uses.
        Span<byte> id = stackalloc byte[line.DeploymentId.Length + 23];
        id[0] = (byte)'"';
        var idLength = Id(line, id[1..]).Length;
        id[idLength + 1] = (byte)'"';
        json.WritePropertyName("id"u8);
        json.WriteRawValue(id[..(idLength + 2)], skipInputValidation: true);
        json.WriteNumber("seq"u8, line.Seq);
        json.WritePropertyName("deployment_id"u8);
        id[line.DeploymentId.Length + 1] = (byte)'"';
        json.WriteRawValue(id[..(line.DeploymentId.Length + 2)], skipInputValidation: true);
        Span<byte> timestamp = stackalloc byte[26];
        timestamp[0] = timestamp[25] = (byte)'"';
        SlipwayJson.FormatTimestamp(line.Timestamp, timestamp[1..]);
        json.WritePropertyName("timestamp"u8);
        json.WriteRawValue(timestamp, skipInputValidation: true);
        json.WritePropertyName("created_at"u8);
        json.WriteRawValue(timestamp, skipInputValidation: true);
        json.WriteString("level"u8, line.Level);
        json.WriteString("stream"u8, line.Stream);
        json.WriteString("message"u8, line.Message);
        json.WriteEndObject();
        json.Flush();
        return longLived ? OldAtOnce(output.WrittenSpan) : output.WrittenSpan.ToArray();
    }

    /// <summary>
    /// A line's <c>id</c> (Pushpaka's log item field): <c>&lt;deployment_id&gt;.&lt;seq&gt;</c>, the stored row's key, so the same line
    /// has the same id on every read and every transport, and no column or index is spent on it.
    /// </summary>
    public static string Id(LogLine line) => Encoding.ASCII.GetString(Id(line, stackalloc byte[line.DeploymentId.Length + 21]));

    /// <summary>Writes the id into <paramref name="into"/> (the deployment id's length + 21 bytes: a dot and at most 20 digits).</summary>
    private static ReadOnlySpan<byte> Id(LogLine line, Span<byte> into)
    {
        var written = Encoding.ASCII.GetBytes(line.DeploymentId, into);
        into[written++] = (byte)'.';
        Utf8Formatter.TryFormat(line.Seq, into[written..], out var digits);
        return into[..(written + digits)];
    }

    /// <summary>
    /// A copy of <paramref name="bytes"/> on the pinned object heap. A line's JSON lives as long as its followed
    /// deployment's ring keeps it (seconds, during a busy build): in the ordinary heap every young-generation collection
    /// would copy it once or twice on its way to the old generation, and that copying was most of each collection's
    /// pause. Pinned-heap arrays are old from the start and never moved; the background full collection frees them.
    /// </summary>
    public static byte[] OldAtOnce(ReadOnlySpan<byte> bytes)
    {
        var copy = GC.AllocateUninitializedArray<byte>(bytes.Length, pinned: true);
        bytes.CopyTo(copy);
        return copy;
    }

    /// <summary>
    /// The REST shape of a line: its stream message without the leading <c>"type":"log",</c>, i.e. <c>{</c> followed by
    /// the message from its second field on; this returns that tail (from the <c>"seq"</c> field), which callers put
    /// after a <c>{</c> of their own, so no copy is made per line.
    /// </summary>
    public static ReadOnlySpan<byte> LineTailOf(ReadOnlySpan<byte> message) =>
        message.StartsWith(TypeLog) ? message[TypeLog.Length..] : throw new ArgumentException("Not a log stream message.", nameof(message));
}
