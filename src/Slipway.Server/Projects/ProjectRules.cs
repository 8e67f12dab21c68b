using System.Text.RegularExpressions;
using Slipway.Server.Hosting;

namespace Slipway.Server.Projects;

internal sealed class ProjectOptions
{
    public const string SectionName = "Slipway:Projects";

    /// <summary>Allow local paths and <c>file://</c> repositories (tests, single-user installs). Off by default.</summary>
    public bool AllowLocalRepositories { get; set; }
}

/// <summary>Validation rules for project and environment fields, shared by create and update.</summary>
internal static partial class ProjectRules
{
    [GeneratedRegex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]
    public static partial Regex DnsLabel();

    [GeneratedRegex(@"^git@[A-Za-z0-9.-]+:[A-Za-z0-9._~/-]+$")]
    private static partial Regex ScpStyle();

    /// <summary>An empty string clears an optional text field: stored as null.</summary>
    public static string? Blank(string? value) => string.IsNullOrEmpty(value) ? null : value;

    public static bool IsDnsLabel(string? value) => value is not null && DnsLabel().IsMatch(value);

    public static string? RepoUrlProblem(string url, bool allowLocal)
    {
        if (url.Length > 2048) return "must be at most 2048 characters";
        if (url.StartsWith('-') || Validator.HasControlChars(url) || url.Any(char.IsWhiteSpace)) return "must not start with '-' or contain spaces or control characters";
        if (ScpStyle().IsMatch(url)) return null;
        if (Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            switch (uri.Scheme)
            {
                case "https" or "ssh" when uri.Host.Length > 0 && !uri.Host.StartsWith('-'):
                    return uri.AbsolutePath.Length > 1 ? null : "must name a repository path";
                case "file":
                    return allowLocal ? null : "local repositories are not allowed on this server";
                default:
                    return "must be an https:// or ssh URL, or git@host:path";
            }
        }
        if (url.StartsWith('/')) return allowLocal ? null : "local repositories are not allowed on this server";
        return "must be an https:// or ssh URL, or git@host:path";
    }

    /// <summary>git check-ref-format rules for a branch name.</summary>
    public static bool IsRefName(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 255 || name == "@") return false;
        if (name.StartsWith('/') || name.EndsWith('/') || name.EndsWith('.') || name.EndsWith(".lock", StringComparison.Ordinal)) return false;
        if (name.Contains("..", StringComparison.Ordinal) || name.Contains("//", StringComparison.Ordinal) || name.Contains("@{", StringComparison.Ordinal)) return false;
        if (name.Any(c => c < 0x20 || c == 0x7F || c is ' ' or '~' or '^' or ':' or '?' or '*' or '[' or '\\')) return false;
        return name.Split('/').All(part => part.Length > 0 && !part.StartsWith('.') && !part.StartsWith('-'));
    }

    public static bool IsCommand(string? command) =>
        command is null || (command.Length <= 4096 && !command.Any(c => char.IsControl(c) && c != '\t'));

    public static bool IsRelativeDirectory(string? path) =>
        path is null || (path.Length <= 1024 && !Validator.HasControlChars(path) && !path.StartsWith('/') && !path.StartsWith('-')
                         && !path.Contains('\\', StringComparison.Ordinal) && path.Split('/').All(p => p != ".."));

    public static bool IsUrlPath(string? path) =>
        path is not null && path.Length <= 2048 && path.StartsWith('/') && !path.Any(c => char.IsControl(c) || char.IsWhiteSpace(c));

    public static Framework? ParseFramework(string? value) =>
        value is not null && value.All(char.IsAsciiLetterLower) && Enum.TryParse<Framework>(value, ignoreCase: true, out var f) ? f : null;
}
