using System.Globalization;
using System.Text;

namespace Slipway.Server.OpenApi;

/// <summary>
/// Operation ids and summaries for endpoints that did not name themselves (<c>WithName</c>, <c>WithSummary</c>),
/// derived only from the HTTP method, the route and the handler's method name so they stay stable across runs.
/// </summary>
internal static class OperationNames
{
    private static readonly HashSet<string> CrudVerbs = new(StringComparer.Ordinal)
    {
        "Create", "List", "Get", "Update", "Delete", "Replace", "Add", "Remove", "Set",
    };

    /// <summary><c>GET api/v1/projects/{projectId}/environments/{envId}</c> → <c>getProjectsByProjectIdEnvironmentsByEnvId</c>.</summary>
    public static string OperationId(string method, string route)
    {
        var id = new StringBuilder(method.ToLowerInvariant());
        var segments = ResourceSegments(route);
        if (segments.Count == 0) id.Append("Root");
        foreach (var segment in segments)
        {
            if (IsParameter(segment)) id.Append("By").Append(Pascal(ParameterName(segment)));
            else id.Append(Pascal(segment));
        }
        return id.ToString();
    }

    /// <summary>
    /// A short imperative sentence: the handler's name in words (<c>ChangePasswordAsync</c> → "Change password"),
    /// completed with the resource for bare CRUD verbs (<c>ListAsync</c> on <c>/projects</c> → "List projects").
    /// Lambdas fall back to the method and the route (<c>isList</c>: the handler takes a page query).
    /// </summary>
    public static string Summary(string method, string route, string? handlerName, bool returnsCreated, bool isList)
    {
        var segments = ResourceSegments(route);
        var literals = segments.Where(s => !IsParameter(s)).ToList();
        var last = literals.Count > 0 ? literals[^1] : "root";
        var endsWithParameter = segments.Count > 0 && IsParameter(segments[^1]);

        if (handlerName is not null && !handlerName.Contains('<', StringComparison.Ordinal))
        {
            var name = handlerName.EndsWith("Async", StringComparison.Ordinal) ? handlerName[..^5] : handlerName;
            var words = SplitPascal(name);
            if (words.Count == 0) return Fallback();
            if (words.Count == 1 && CrudVerbs.Contains(words[0]))
            {
                return $"{words[0]} {(words[0] == "List" ? Words(last) : Singular(Words(last)))}";
            }
            return Sentence(string.Join(' ', words));
        }
        return Fallback();

        string Fallback() => method.ToUpperInvariant() switch
        {
            "GET" when isList => $"List {Words(last)}",
            "GET" => endsWithParameter ? $"Get {Singular(Words(last))}" : $"Get {Words(last)}",
            // A plural last segment is a collection (POST /api-keys: create one); a singular one an action (POST /deployments/{id}/cancel).
            "POST" when returnsCreated || endsWithParameter || (last.EndsWith('s') && !last.EndsWith("ss", StringComparison.Ordinal)) =>
                $"Create {Singular(Words(last))}",
            "POST" when literals.Count > 1 && segments.Count > 1 && IsParameter(segments[^2]) =>
                Sentence($"{Words(last)} {Singular(Words(literals[^2]))}"),
            "POST" => Sentence(Words(last)),
            "PUT" => $"Replace {Singular(Words(last))}",
            "PATCH" => $"Update {Singular(Words(last))}",
            "DELETE" => $"Delete {Singular(Words(last))}",
            var other => $"{Pascal(other.ToLowerInvariant())} {Words(last)}",
        };
    }

    /// <summary>The route without its <c>api/vN</c> prefix, split into segments.</summary>
    private static List<string> ResourceSegments(string route)
    {
        var segments = route.Split('/', StringSplitOptions.RemoveEmptyEntries).ToList();
        if (segments.Count > 0 && segments[0] == "api") segments.RemoveAt(0);
        if (segments.Count > 0 && segments[0].Length > 1 && segments[0][0] == 'v' && segments[0][1..].All(char.IsAsciiDigit)) segments.RemoveAt(0);
        return segments;
    }

    private static bool IsParameter(string segment) => segment.StartsWith('{') && segment.EndsWith('}');

    /// <summary><c>{id:guid}</c>, <c>{*path}</c>, <c>{name?}</c> → the bare name.</summary>
    private static string ParameterName(string segment)
    {
        var name = segment[1..^1].TrimStart('*');
        var colon = name.IndexOf(':', StringComparison.Ordinal);
        if (colon >= 0) name = name[..colon];
        return name.TrimEnd('?');
    }

    private static string Pascal(string text)
    {
        var result = new StringBuilder();
        foreach (var part in text.Split(['-', '_', '.'], StringSplitOptions.RemoveEmptyEntries))
        {
            result.Append(char.ToUpperInvariant(part[0])).Append(part.AsSpan(1));
        }
        return result.ToString();
    }

    private static List<string> SplitPascal(string name)
    {
        var words = new List<string>();
        var current = new StringBuilder();
        foreach (var c in name)
        {
            if (char.IsUpper(c) && current.Length > 0)
            {
                words.Add(current.ToString());
                current.Clear();
            }
            current.Append(c);
        }
        if (current.Length > 0) words.Add(current.ToString());
        return words;
    }

    /// <summary><c>api-keys</c> → "API keys", <c>env_vars</c> → "env vars".</summary>
    private static string Words(string segment) =>
        string.Join(' ', segment.Split(['-', '_', '.'], StringSplitOptions.RemoveEmptyEntries)
            .Select(w => w.ToLowerInvariant() switch
            {
                "api" => "API",
                "id" => "ID",
                var lower => lower,
            }));

    private static string Singular(string words)
    {
        if (words.EndsWith("ies", StringComparison.Ordinal)) return words[..^3] + "y";
        if (words.EndsWith("sses", StringComparison.Ordinal)) return words[..^2];
        if (words.EndsWith('s') && !words.EndsWith("ss", StringComparison.Ordinal)) return words[..^1];
        return words;
    }

    /// <summary>First letter upper case, the rest as written with later words lower case ("ChangePassword" → "Change password").</summary>
    private static string Sentence(string words)
    {
        var parts = words.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select((w, i) => i == 0 || w == "API" || w == "ID" ? w : w.ToLowerInvariant()).ToList();
        if (parts.Count == 0) return words;
        parts[0] = char.ToUpper(parts[0][0], CultureInfo.InvariantCulture) + parts[0][1..];
        return string.Join(' ', parts);
    }
}
