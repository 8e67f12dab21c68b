using Slipway.Server.Security.Sarif;

namespace Slipway.Server.Security;

/// <summary>
/// The scanned files of one commit, checked out under <see cref="Root"/>: where fingerprints are computed when a tool
/// gave none, and snippets come from. Reads never leave the root (a SARIF path is data from outside). A sandboxed
/// scanner saw the checkout elsewhere (<paramref name="scannerRoot"/>); its absolute paths are cut at that root too.
/// </summary>
internal sealed class SourceTree(string root, string? scannerRoot = null)
{
    private const int MaxSnippetLines = 10;
    private const int MaxSnippetChars = 2000;
    private readonly Dictionary<string, IReadOnlyList<string>?> hashes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string[]?> lines = new(StringComparer.Ordinal);

    public string Root { get; } = Path.GetFullPath(root);

    /// <summary>The repository-relative form of a SARIF URI: <c>file://</c> and this checkout's root removed, decoded.</summary>
    public string Relative(string uri)
    {
        var path = RepoPaths.Normalize(uri, Root);
        return scannerRoot is null ? path : RepoPaths.WithoutRoot(path, scannerRoot);
    }

    /// <summary>GitHub's line hash of a line, or null when the file is not in the tree or has no such line.</summary>
    public string? LineHash(string relativePath, int line)
    {
        if (!hashes.TryGetValue(relativePath, out var values))
        {
            values = FullPath(relativePath) is { } full ? LineFingerprints.Compute(full) : null;
            hashes[relativePath] = values;
        }
        return values is not null && line >= 1 && line <= values.Count ? values[line - 1] : null;
    }

    /// <summary>The lines from <paramref name="start"/> to <paramref name="end"/> (at most ten, 2,000 characters).</summary>
    public string? Snippet(string relativePath, int? start, int? end)
    {
        if (start is not { } first) return null;
        if (!lines.TryGetValue(relativePath, out var text))
        {
            text = FullPath(relativePath) is { } full ? File.ReadAllLines(full) : null;
            lines[relativePath] = text;
        }
        if (text is null || first > text.Length) return null;
        var last = Math.Clamp(end ?? first, first, Math.Min(text.Length, first + MaxSnippetLines - 1));
        var snippet = string.Join('\n', text[(first - 1)..last]);
        return snippet.Length <= MaxSnippetChars ? snippet : snippet[..MaxSnippetChars];
    }

    /// <summary>The whole file as text, or null when it is not a regular file inside the tree.</summary>
    public string? Text(string relativePath) => FullPath(relativePath) is { } full ? File.ReadAllText(full) : null;

    /// <summary>The file's absolute path when it is a regular file inside the tree (symbolic links are not followed out).</summary>
    private string? FullPath(string relativePath)
    {
        var full = Path.GetFullPath(Path.Combine(Root, relativePath));
        if (!full.StartsWith(Root + Path.DirectorySeparatorChar, StringComparison.Ordinal)) return null;
        var info = new FileInfo(full);
        return info.Exists && info.LinkTarget is null ? full : null;
    }
}

internal static class RepoPaths
{
    /// <summary>
    /// A SARIF artifact URI as a path relative to the repository: percent-decoding undone, <c>file://</c> dropped, the
    /// checkout root (when known) cut off, <c>./</c> and backslashes normalised.
    /// </summary>
    public static string Normalize(string uri, string? root)
    {
        var path = uri;
        try
        {
            path = Uri.UnescapeDataString(path);
        }
        catch (UriFormatException)
        {
            // Not percent-encoded after all: keep it as given.
        }
        if (path.StartsWith("file://", StringComparison.OrdinalIgnoreCase)) path = path["file://".Length..];
        return WithoutRoot(path.Replace('\\', '/'), root);
    }

    /// <summary>An already decoded path with <paramref name="root"/> (when it starts with it) and leading <c>./</c> cut off.</summary>
    public static string WithoutRoot(string path, string? root)
    {
        if (root is not null && path.StartsWith(root + "/", StringComparison.Ordinal)) path = path[(root.Length + 1)..];
        while (path.StartsWith("./", StringComparison.Ordinal)) path = path[2..];
        return path;
    }
}
