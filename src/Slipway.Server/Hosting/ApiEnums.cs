namespace Slipway.Server.Hosting;

/// <summary>Enum values as the API spells them (snake_case, as <see cref="SlipwayJson"/> writes them), parsed strictly.</summary>
internal static class ApiEnums
{
    /// <summary>Only the exact lowercase spelling: no numbers, no case variants, no comma-joined flag combinations.</summary>
    public static bool TryParse<T>(string text, out T? value) where T : struct, Enum
    {
        value = null;
        if (!text.All(c => char.IsAsciiLetterLower(c) || c == '_') || !Enum.TryParse<T>(text.Replace("_", "", StringComparison.Ordinal), ignoreCase: true, out var parsed))
        {
            return false;
        }
        value = parsed;
        return true;
    }

    /// <summary>The value as the API (and the database) spells it: <c>redeploy_queued</c> for <c>RedeployQueued</c>.</summary>
    public static string Text<T>(T value) where T : struct, Enum => System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(value.ToString());

    /// <summary>"a, b or c": the values of <typeparamref name="T"/> for an error message.</summary>
    public static string Names<T>() where T : struct, Enum
    {
        var names = Enum.GetValues<T>().Select(Text).ToList();
        return names.Count == 1 ? names[0] : string.Join(", ", names[..^1]) + " or " + names[^1];
    }
}
