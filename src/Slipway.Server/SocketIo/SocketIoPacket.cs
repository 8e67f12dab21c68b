using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Slipway.Server.SocketIo;

internal enum SocketIoPacketType
{
    Connect = 0,
    Disconnect = 1,
    Event = 2,
    Ack = 3,
    ConnectError = 4,
    BinaryEvent = 5,
    BinaryAck = 6,
}

/// <summary>
/// A Socket.IO v5 packet: <c>&lt;type&gt;[&lt;attachments&gt;-][&lt;namespace&gt;,][&lt;ack id&gt;][JSON]</c>, the namespace
/// left out when it is <c>/</c>. Binary packets are recognised only to be refused.
/// </summary>
internal sealed record SocketIoPacket(SocketIoPacketType Type, string Namespace, long? AckId, JsonElement? Data)
{
    private const int MaxNamespaceLength = 256;

    /// <summary>The packet, or null when it is not one this server understands.</summary>
    public static SocketIoPacket? Parse(string text)
    {
        if (text.Length == 0 || text[0] is < '0' or > '6') return null;
        var type = (SocketIoPacketType)(text[0] - '0');
        var i = 1;
        if (type is SocketIoPacketType.BinaryEvent or SocketIoPacketType.BinaryAck) return null;

        var nsp = "/";
        if (i < text.Length && text[i] == '/')
        {
            var comma = text.IndexOf(',', i);
            var end = comma < 0 ? text.Length : comma;
            if (end - i > MaxNamespaceLength) return null;
            nsp = text[i..end];
            i = comma < 0 ? text.Length : comma + 1;
        }

        long? ackId = null;
        var digits = i;
        while (i < text.Length && char.IsAsciiDigit(text[i])) i++;
        if (i > digits)
        {
            if (i - digits > 15) return null;
            ackId = long.Parse(text.AsSpan(digits, i - digits), NumberStyles.None, CultureInfo.InvariantCulture);
        }

        JsonElement? data = null;
        if (i < text.Length)
        {
            try
            {
                using var document = JsonDocument.Parse(text.AsMemory(i), new JsonDocumentOptions { MaxDepth = 32 });
                data = document.RootElement.Clone();
            }
            catch (JsonException)
            {
                return null;
            }
        }

        var valid = type switch
        {
            SocketIoPacketType.Connect => data is null || data.Value.ValueKind == JsonValueKind.Object,
            SocketIoPacketType.Disconnect => data is null,
            SocketIoPacketType.Event => data is { ValueKind: JsonValueKind.Array } array && array.GetArrayLength() > 0
                                        && array[0].ValueKind == JsonValueKind.String,
            SocketIoPacketType.Ack => ackId is not null && data is { ValueKind: JsonValueKind.Array },
            _ => false,
        };
        return valid ? new SocketIoPacket(type, nsp, ackId, data) : null;
    }

    /// <summary>Encodes a packet the server sends; <paramref name="json"/> is already serialized.</summary>
    public static string Encode(SocketIoPacketType type, string nsp, long? ackId, string? json)
    {
        var text = new StringBuilder();
        text.Append((char)('0' + (int)type));
        if (nsp != "/") text.Append(nsp).Append(',');
        if (ackId is { } id) text.Append(id.ToString(CultureInfo.InvariantCulture));
        if (json is not null) text.Append(json);
        return text.ToString();
    }
}
