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

/// <summary>A row that belongs to one project: visible to whoever sees that project.</summary>
internal interface IProjectOwned
{
    string ProjectId { get; }
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
        var rows = await query.After(page).OrderByDescending(x => x.Id).Take(page.Limit + 1).ToListAsync(ct);
        return Trim(rows, page.Limit, x => x.Id, map);
    }

    /// <summary>Only the ids of a page (one index walk, nothing to materialize), for items built from a cache.</summary>
    public static async Task<Page<string>> ToIdPageAsync<T>(this IQueryable<T> query, PageQuery page, CancellationToken ct)
        where T : class, IHasId
    {
        var ids = await query.After(page).OrderByDescending(x => x.Id).Select(x => x.Id).Take(page.Limit + 1).ToListAsync(ct);
        return Trim(ids, page.Limit, id => id, id => id);
    }

    /// <summary>Rows fetched with one more than the limit: that extra row only says whether there is a next page.</summary>
    public static Page<TOut> Trim<T, TOut>(List<T> rows, int limit, Func<T, string> id, Func<T, TOut> map)
    {
        var more = rows.Count > limit;
        if (more) rows.RemoveAt(rows.Count - 1);
        return new Page<TOut>(rows.ConvertAll(x => map(x)), more ? PageQuery.EncodeCursor(id(rows[^1])) : null);
    }

    private static IQueryable<T> After<T>(this IQueryable<T> query, PageQuery page) where T : class, IHasId =>
        page.After is { } after ? query.Where(x => string.Compare(x.Id, after) < 0) : query;
}
