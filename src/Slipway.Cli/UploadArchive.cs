using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;

namespace Slipway.Cli;

/// <summary>
/// The current directory as a <c>.tar.gz</c> for <c>deploy --upload</c>: files, directories and symbolic links in name order,
/// without <c>.git</c> and <c>node_modules</c> (anywhere), nor what <c>.slipwayignore</c> (else <c>.gitignore</c>) excludes.
/// </summary>
internal static class UploadArchive
{
    private static readonly string[] AlwaysExcluded = [".git", "node_modules"];
    private static readonly string[] IgnoreFiles = [".slipwayignore", ".gitignore"];

    /// <summary>Writes the archive of <paramref name="root"/> to <paramref name="output"/>; returns how many files it holds.</summary>
    public static int Write(string root, Stream output)
    {
        var ignore = IgnoreRules.Load(root);
        var files = 0;
        using var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true);
        using var tar = new TarWriter(gzip, TarEntryFormat.Pax, leaveOpen: true);
        Add(root);
        return files;

        void Add(string directory)
        {
            foreach (var entry in new DirectoryInfo(directory).EnumerateFileSystemInfos().OrderBy(e => e.Name, StringComparer.Ordinal))
            {
                var relative = Path.GetRelativePath(root, entry.FullName).Replace(Path.DirectorySeparatorChar, '/');
                var isDirectory = entry is DirectoryInfo && entry.LinkTarget is null;
                if (AlwaysExcluded.Contains(entry.Name) || ignore.Excludes(relative, isDirectory)) continue;
                tar.WriteEntry(entry.FullName, relative);
                if (isDirectory) Add(entry.FullName);
                else if (entry is FileInfo && entry.LinkTarget is null) files++;
            }
        }
    }

    /// <summary>
    /// The part of the <c>.gitignore</c> syntax a deploy needs: comments, <c>*</c>, <c>**</c>, <c>?</c>, a trailing <c>/</c>
    /// for directories only, a leading or inner <c>/</c> anchoring the pattern at the root (else it matches a name at
    /// any depth), and <c>!</c> to include again what an earlier pattern excluded.
    /// </summary>
    internal sealed class IgnoreRules(IReadOnlyList<(Regex Pattern, bool DirectoryOnly, bool Negated)> rules)
    {
        public static IgnoreRules Load(string root)
        {
            var file = IgnoreFiles.Select(name => Path.Combine(root, name)).FirstOrDefault(File.Exists);
            return Parse(file is null ? [] : File.ReadAllLines(file));
        }

        public static IgnoreRules Parse(IEnumerable<string> lines)
        {
            var rules = new List<(Regex, bool, bool)>();
            foreach (var raw in lines)
            {
                var line = raw.TrimEnd();
                if (line.Length == 0 || line.StartsWith('#')) continue;
                var negated = line.StartsWith('!');
                if (negated) line = line[1..];
                var directoryOnly = line.EndsWith('/');
                line = line.TrimEnd('/');
                var anchored = line.Contains('/');
                line = line.TrimStart('/');
                if (line.Length == 0) continue;
                rules.Add((new Regex((anchored ? "^" : "(^|/)") + Glob(line) + "$", RegexOptions.CultureInvariant), directoryOnly, negated));
            }
            return new IgnoreRules(rules);
        }

        public bool Excludes(string relativePath, bool isDirectory)
        {
            var excluded = false;
            foreach (var (pattern, directoryOnly, negated) in rules)
            {
                if ((!directoryOnly || isDirectory) && pattern.IsMatch(relativePath)) excluded = !negated;
            }
            return excluded;
        }

        private static string Glob(string pattern)
        {
            var regex = new StringBuilder();
            for (var i = 0; i < pattern.Length; i++)
            {
                var c = pattern[i];
                if (c == '*' && i + 1 < pattern.Length && pattern[i + 1] == '*')
                {
                    // "**/" is any number of directories, "**" at the end anything below.
                    var slash = i + 2 < pattern.Length && pattern[i + 2] == '/';
                    regex.Append(slash ? "(.*/)?" : ".*");
                    i += slash ? 2 : 1;
                }
                else if (c == '*') regex.Append("[^/]*");
                else if (c == '?') regex.Append("[^/]");
                else regex.Append(Regex.Escape(c.ToString()));
            }
            return regex.ToString();
        }
    }
}
