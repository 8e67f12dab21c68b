using System.Buffers.Text;
using System.Globalization;
using System.Reflection;
using System.Text;

namespace Slipway.Server.Hosting;

/// <summary>Anything with a UUIDv7 id can be cursor-paged, newest first.</summary>
internal interface IHasId
{
    string Id { get; }
}

internal sealed record Page<T>(IReadOnlyList<T> Data, string? NextCursor);

/// <summary><c>?limit=</c> (1–100, default 25) and an opaque <c>?cursor=</c>, bound and checked at the edge.</summary>
internal sealed record PageQuery(int Limit, string? After)
{
    public const int DefaultLimit = 25;
    public const int MaxLimit = 100;

    public static ValueTask<PageQuery> BindAsync(HttpContext context, ParameterInfo parameter)
    {
        _ = parameter;
        return ValueTask.FromResult(Parse(context.Request.Query["limit"], context.Request.Query["cursor"]));
    }

    public static PageQuery Parse(string? limitText, string? cursorText)
    {
        var limit = DefaultLimit;
        if (!string.IsNullOrEmpty(limitText)
            && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > MaxLimit))
        {
            throw ApiException.Validation("limit", $"must be an integer between 1 and {MaxLimit}");
        }
        return new PageQuery(limit, string.IsNullOrEmpty(cursorText) ? null : DecodeCursor(cursorText));
    }

    public static string EncodeCursor(string lastId) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes("v1:" + lastId));

    private static string DecodeCursor(string cursor)
    {
        try
        {
            if (cursor.Length <= 128)
            {
                var text = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(cursor));
                if (text.StartsWith("v1:", StringComparison.Ordinal) && Ids.IsValid(text[3..])) return text[3..];
            }
        }
        catch (FormatException)
        {
        }
        throw new ApiException(400, "invalid_cursor", "The cursor is not one this API returned.");
    }
}

internal static class PagingExtensions
{
    /// <summary>
    /// Keyset paging on the id: ids are time-ordered, so "id below the last one seen" never repeats an item
    /// and never skips an older one, whatever is created meanwhile.
    /// </summary>
    public static async Task<Page<TOut>> ToPageAsync<T, TOut>(this IQueryable<T> query, PageQuery page,
        Func<T, TOut> map, CancellationToken ct) where T : class, IHasId
    {
        if (page.After is { } after) query = query.Where(x => string.Compare(x.Id, after) < 0);
        var rows = await query.OrderByDescending(x => x.Id).Take(page.Limit + 1).ToListAsync(ct);
        var more = rows.Count > page.Limit;
        if (more) rows.RemoveAt(rows.Count - 1);
        return new Page<TOut>(rows.Select(map).ToList(), more ? PageQuery.EncodeCursor(rows[^1].Id) : null);
    }
}
