using System.Security.Cryptography;

namespace Slipway.Server.Hosting;

/// <summary>
/// UUIDv7 ids in canonical text form. Monotonic within this process (a 12-bit counter fills <c>rand_a</c>
/// inside one millisecond), so ids sort by creation time and cursor pages are stable.
/// </summary>
internal static class Ids
{
    private static readonly Lock Gate = new();
    private static long lastMs;
    private static int counter;

    public static string New(TimeProvider? time = null)
    {
        var now = (time ?? TimeProvider.System).GetUtcNow().ToUnixTimeMilliseconds();
        long ms;
        int seq;
        lock (Gate)
        {
            if (now > lastMs)
            {
                lastMs = now;
                counter = RandomNumberGenerator.GetInt32(0, 0x400);
            }
            else if (++counter > 0xFFF)
            {
                lastMs++;
                counter = 0;
            }
            ms = lastMs;
            seq = counter;
        }

        Span<byte> b = stackalloc byte[16];
        RandomNumberGenerator.Fill(b[8..]);
        for (var i = 0; i < 6; i++) b[i] = (byte)(ms >> (8 * (5 - i)));
        b[6] = (byte)(0x70 | (seq >> 8));
        b[7] = (byte)seq;
        b[8] = (byte)(0x80 | (b[8] & 0x3F));
        return new Guid(b, bigEndian: true).ToString("D");
    }

    /// <summary>True for a canonical lowercase UUID; anything else can never name a stored row.</summary>
    public static bool IsValid(string? id) =>
        id is { Length: 36 } && Guid.TryParseExact(id, "D", out _) && !id.Any(char.IsAsciiLetterUpper);
}
