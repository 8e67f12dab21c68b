using System.Text.Json;

namespace Slipway.Server.Security.Sarif;

/// <summary>
/// Forward-only JSON tokens from a stream of any length, holding only a window of it: a token, or one whole value
/// asked for with <see cref="ReadValue"/>, must fit in <paramref name="maxValueBytes"/>; everything else streams past.
/// <see cref="Utf8JsonReader"/> is a ref struct, so each step rebuilds it over the buffered bytes from the saved state.
/// </summary>
internal sealed class JsonStream(Stream stream, int maxValueBytes)
{
    private static readonly JsonReaderOptions Options = new() { MaxDepth = 64 };
    private byte[] buffer = new byte[64 * 1024];
    private int start;
    private int end;
    private bool final;
    private JsonReaderState state = new(Options);

    public JsonTokenType TokenType { get; private set; } = JsonTokenType.None;

    /// <summary>The text of the last property name or string token.</summary>
    public string? Text { get; private set; }

    /// <summary>Depth after the last token, as <see cref="Utf8JsonReader.CurrentDepth"/> counts it.</summary>
    public int Depth { get; private set; }

    /// <summary>Moves to the next token; false at the end of the document.</summary>
    public bool Read()
    {
        while (true)
        {
            var reader = new Utf8JsonReader(buffer.AsSpan(start, end - start), final, state);
            if (reader.Read())
            {
                Capture(ref reader);
                Advance(ref reader);
                return true;
            }
            if (final) return false;
            Fill();
        }
    }

    /// <summary>Reads the next value (object, array or primitive) whole, as a detached element.</summary>
    public JsonElement ReadValue() =>
        TryReadElement(out var value) ? value : throw new JsonException("A value was expected.");

    /// <summary>
    /// Reads the next element of the array being read, whole; false (having consumed the closing bracket) at its end.
    /// </summary>
    public bool TryReadElement(out JsonElement element)
    {
        while (true)
        {
            var reader = new Utf8JsonReader(buffer.AsSpan(start, end - start), final, state);
            if (reader.Read())
            {
                if (reader.TokenType is JsonTokenType.EndArray or JsonTokenType.EndObject)
                {
                    Capture(ref reader);
                    Advance(ref reader);
                    element = default;
                    return false;
                }
                var from = start + (int)reader.TokenStartIndex;
                if (reader.TrySkip())
                {
                    using var document = JsonDocument.Parse(buffer.AsMemory(from, start + (int)reader.BytesConsumed - from));
                    Capture(ref reader);
                    Advance(ref reader);
                    element = document.RootElement.Clone();
                    return true;
                }
            }
            if (final) throw new JsonException("The document ends inside a value.");
            Fill();
        }
    }

    /// <summary>Skips the next value without holding it: a value larger than the window streams past.</summary>
    public void Skip()
    {
        if (!Read()) throw new JsonException("The document ends where a value was expected.");
        if (TokenType is not (JsonTokenType.StartObject or JsonTokenType.StartArray)) return;
        var depth = Depth;
        while (Read())
        {
            if (TokenType is JsonTokenType.EndObject or JsonTokenType.EndArray && Depth == depth) return;
        }
        throw new JsonException("The document ends inside a value.");
    }

    private void Capture(ref Utf8JsonReader reader)
    {
        TokenType = reader.TokenType;
        Depth = reader.CurrentDepth;
        Text = reader.TokenType is JsonTokenType.PropertyName or JsonTokenType.String ? reader.GetString() : null;
    }

    private void Advance(ref Utf8JsonReader reader)
    {
        state = reader.CurrentState;
        start += (int)reader.BytesConsumed;
    }

    /// <summary>Keeps the unread bytes, makes room (up to the value limit) and reads more of the stream.</summary>
    private void Fill()
    {
        var pending = end - start;
        if (pending == buffer.Length)
        {
            if (buffer.Length >= maxValueBytes) throw new SarifTooLargeException($"a single JSON value is larger than {maxValueBytes / (1024 * 1024)} MB");
            Array.Resize(ref buffer, Math.Min(buffer.Length * 2, maxValueBytes));
        }
        Buffer.BlockCopy(buffer, start, buffer, 0, pending);
        start = 0;
        end = pending;
        var read = stream.Read(buffer, end, buffer.Length - end);
        if (read == 0) final = true;
        end += read;
    }
}
