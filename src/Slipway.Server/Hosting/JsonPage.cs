using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Metadata;

namespace Slipway.Server.Hosting;

/// <summary>
/// A <see cref="Page{T}"/> written from items serialized beforehand (<see cref="JsonMemo{TOwner,TKey}"/>): the same bytes
/// and the same OpenAPI description as returning the page, without serializing every item of every page again.
/// </summary>
internal sealed class JsonPage<T>(IReadOnlyList<byte[]> items, string? nextCursor) : IResult, IEndpointMetadataProvider
{
    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        response.ContentType = "application/json; charset=utf-8";
        await using (var writer = new Utf8JsonWriter(response.BodyWriter))
        {
            writer.WriteStartObject();
            writer.WriteStartArray("data");
            foreach (var item in items) writer.WriteRawValue(item, skipInputValidation: true);
            writer.WriteEndArray();
            writer.WriteString("next_cursor", nextCursor);
            writer.WriteEndObject();
        }
        await response.BodyWriter.FlushAsync(httpContext.RequestAborted);
    }

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(Page<T>), ["application/json"]));
}

/// <summary>
/// The serialized response made from an object (a cached project, a finished deployment), kept as long as the object
/// lives and remade when <typeparamref name="TKey"/> (what else the response depends on) differs from the last time.
/// </summary>
internal sealed class JsonMemo<TOwner, TKey>(IEqualityComparer<TKey>? comparer = null) where TOwner : class
{
    private readonly ConditionalWeakTable<TOwner, Entry> entries = new();
    private readonly IEqualityComparer<TKey> comparer = comparer ?? EqualityComparer<TKey>.Default;

    private sealed record Entry(TKey Key, byte[] Json);

    public byte[] Get<TResponse>(TOwner owner, TKey key, Func<TResponse> response)
    {
        if (entries.TryGetValue(owner, out var entry) && comparer.Equals(entry.Key, key)) return entry.Json;
        var json = JsonSerializer.SerializeToUtf8Bytes(response(), SlipwayJson.Options);
        entries.AddOrUpdate(owner, new Entry(key, json));
        return json;
    }
}
