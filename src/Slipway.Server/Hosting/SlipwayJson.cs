using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Slipway.Server.Hosting;

/// <summary>
/// snake_case everywhere, lowercase snake_case enums, ISO-8601 UTC timestamps with milliseconds, and human text as it
/// is (<c>'</c>, <c>&lt;</c>, <c>+</c>, accents): every answer is <c>application/json</c>, never inlined in HTML, so the
/// default encoder's <c>\u0027</c> escapes only make messages hard to read.
/// </summary>
internal static class SlipwayJson
{
    public static readonly JsonSerializerOptions Options = Configure(new JsonSerializerOptions(JsonSerializerDefaults.Web));

    public static readonly ErrorJsonContext Context = new(new JsonSerializerOptions(Options));

    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        options.DictionaryKeyPolicy = null;
        options.NumberHandling = JsonNumberHandling.Strict;
        options.AllowTrailingCommas = false;
        options.ReadCommentHandling = JsonCommentHandling.Disallow;
        options.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
        options.UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip;
        options.Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false));
        options.Converters.Add(new UtcTimestampConverter());
        return options;
    }

    /// <summary>
    /// Request bodies: as <see cref="Configure"/>, but a field the endpoint does not know is refused (a misspelt
    /// <c>start_comand</c> must not be dropped silently); stored JSON keeps skipping unknown members.
    /// </summary>
    public static JsonSerializerOptions ConfigureRequests(JsonSerializerOptions options)
    {
        Configure(options).UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        return options;
    }

    /// <summary>The field named by System.Text.Json's "could not be mapped" error, or null for any other JSON error.</summary>
    public static string? UnknownField(JsonException error) =>
        error.Message.StartsWith("The JSON property '", StringComparison.Ordinal) && error.Message.IndexOf('\'', 19) is var end and > 19
                                                                                && error.Message.Contains("could not be mapped", StringComparison.Ordinal)
            ? error.Message[19..end]
            : null;

    public static string Timestamp(DateTime value) =>
        DateTime.SpecifyKind(value, DateTimeKind.Utc).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary><c>yyyy-MM-ddTHH:mm:ss.fffZ</c> (UTC, milliseconds), as <see cref="Timestamp"/> writes it, without a string.</summary>
    public static ReadOnlySpan<byte> FormatTimestamp(DateTime value, Span<byte> into)
    {
        Digits(into[..4], value.Year);
        into[4] = (byte)'-';
        Digits(into.Slice(5, 2), value.Month);
        into[7] = (byte)'-';
        Digits(into.Slice(8, 2), value.Day);
        into[10] = (byte)'T';
        Digits(into.Slice(11, 2), value.Hour);
        into[13] = (byte)':';
        Digits(into.Slice(14, 2), value.Minute);
        into[16] = (byte)':';
        Digits(into.Slice(17, 2), value.Second);
        into[19] = (byte)'.';
        Digits(into.Slice(20, 3), value.Millisecond);
        into[23] = (byte)'Z';
        return into[..24];
    }

    private static void Digits(Span<byte> into, int value)
    {
        for (var i = into.Length - 1; i >= 0; i--, value /= 10) into[i] = (byte)('0' + value % 10);
    }

    private sealed class UtcTimestampConverter : JsonConverter<DateTime>
    {
        public override DateTime Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            var text = reader.GetString();
            if (text is null || !DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture,
                    DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed))
            {
                throw new JsonException("Expected an ISO 8601 timestamp.");
            }
            return parsed.UtcDateTime;
        }

        /// <summary>Straight to UTF-8, without <see cref="Timestamp"/>'s string: a page holds a hundred of these.</summary>
        public override void Write(Utf8JsonWriter writer, DateTime value, JsonSerializerOptions options) =>
            writer.WriteStringValue(FormatTimestamp(value, stackalloc byte[24]));
    }
}

[JsonSerializable(typeof(ErrorEnvelope))]
internal sealed partial class ErrorJsonContext : JsonSerializerContext;
