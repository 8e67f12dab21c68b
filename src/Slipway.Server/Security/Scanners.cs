namespace Slipway.Server.Security;

/// <summary>Where a scanner writes and what it reads, as the scanner's own process sees those paths.</summary>
internal sealed record ScanPaths(string Output, string ConfigDirectory, string Tools);

/// <summary>
/// A tool Slipway runs over a checkout to get SARIF: its shell command (run in the checkout, sandboxed like a build),
/// the config files it needs written next to its output, and, when it is not installed here, what to install.
/// </summary>
internal sealed record Scanner(string Name, string Description, bool BuiltIn, string? Missing,
    Func<ScanPaths, string> Command, Func<ScanPaths, IReadOnlyDictionary<string, string>> ConfigFiles)
{
    public bool Installed => Missing is null;
}

/// <summary>
/// The scanners this server offers: three presets, each a real tool that writes SARIF and is installed by the
/// operator (never downloaded at scan time), plus the operator's own commands from configuration
/// (<c>Slipway:Security:Scanners:{name}:Command</c>, writing SARIF to <c>$SARIF_OUTPUT</c>).
/// </summary>
internal sealed class ScannerCatalog
{
    private static readonly string[] EslintFiles = [".bin/eslint", "eslint-plugin-security/index.js", "@microsoft/eslint-formatter-sarif/sarif.js"];
    private static readonly string[] SecretlintFiles =
        [".bin/secretlint", "@secretlint/secretlint-rule-preset-recommend/package.json", "@secretlint/secretlint-formatter-sarif/package.json"];
    private readonly Dictionary<string, Scanner> scanners = new(StringComparer.Ordinal);

    public ScannerCatalog(SecurityOptions options)
    {
        var tools = options.ToolsDirectory ?? FindToolsDirectory();
        ToolsDirectory = tools;
        foreach (var scanner in new[] { Eslint(tools), Secretlint(tools), Flawfinder() }) scanners[scanner.Name] = scanner;
        foreach (var (name, custom) in options.Scanners)
        {
            if (string.IsNullOrWhiteSpace(custom.Command)) continue;
            scanners[name] = new Scanner(name, custom.Description ?? $"The operator's scanner '{name}'.", false, null,
                _ => custom.Command, _ => new Dictionary<string, string>());
        }
    }

    /// <summary>Where the npm-installed presets live (a directory with <c>node_modules/</c>).</summary>
    public string ToolsDirectory { get; }

    public IReadOnlyList<Scanner> All => [.. scanners.Values.OrderBy(s => s.Name, StringComparer.Ordinal)];

    public Scanner? Find(string name) => scanners.GetValueOrDefault(name);

    /// <summary>The scanners a repository runs: the ones it chose, or every installed one when it chose none (or has no settings).</summary>
    public IReadOnlyList<Scanner> For(RepositorySettings? settings) =>
        settings?.ScannerNames() is { Count: > 0 } chosen
            ? [.. chosen.Select(n => scanners.GetValueOrDefault(n)).OfType<Scanner>()]
            : [.. All.Where(s => s.Installed)];

    /// <summary>Why these scanners cannot run here (none installed, or one missing), or null when they can.</summary>
    public static string? Problem(IReadOnlyList<Scanner> chosen) =>
        chosen.Count == 0 ? "No scanner is installed on this server; see GET /api/v1/security/scanners for what to install."
        : chosen.FirstOrDefault(s => !s.Installed) is { } missing ? $"The scanner '{missing.Name}' is not installed on this server: {missing.Missing}."
        : null;

    private static Scanner Eslint(string tools)
    {
        var modules = Path.Combine(tools, "node_modules");
        var missing = EslintFiles.Any(p => !File.Exists(Path.Combine(modules, p)))
            ? $"npm install eslint@9 eslint-plugin-security @microsoft/eslint-formatter-sarif (in {tools}, or set Slipway:Security:ToolsDirectory)"
            : null;
        return new Scanner("eslint", "ESLint 9 with eslint-plugin-security's rules over JavaScript files (eval, child_process and dynamic require are errors).",
            true, missing,
            p => $"{Quote($"{p.Tools}/node_modules/.bin/eslint")} --no-config-lookup --no-error-on-unmatched-pattern -c {Quote($"{p.ConfigDirectory}/eslint.config.mjs")} " +
                 $"-f {Quote($"{p.Tools}/node_modules/@microsoft/eslint-formatter-sarif/sarif.js")} -o {Quote(p.Output)} .",
            p => new Dictionary<string, string> { ["eslint.config.mjs"] = EslintConfig(p.Tools) });
    }

    /// <summary>The preset's flat config: the plugin's recommended rules, the code-execution ones raised to errors.</summary>
    private static string EslintConfig(string tools) => $$"""
        import security from {{System.Text.Json.JsonSerializer.Serialize($"{tools}/node_modules/eslint-plugin-security/index.js")}};
        export default [
          { ignores: ["**/node_modules/**", "**/.git/**"] },
          {
            files: ["**/*.js", "**/*.mjs", "**/*.cjs", "**/*.jsx"],
            plugins: { security },
            rules: {
              ...security.configs.recommended.rules,
              "security/detect-eval-with-expression": "error",
              "security/detect-child-process": "error",
              "security/detect-non-literal-require": "error",
            },
          },
        ];
        """;

    private static Scanner Secretlint(string tools)
    {
        var modules = Path.Combine(tools, "node_modules");
        var missing = SecretlintFiles.Any(p => !File.Exists(Path.Combine(modules, p)))
            ? $"npm install secretlint @secretlint/secretlint-rule-preset-recommend @secretlint/secretlint-formatter-sarif (in {tools}, or set Slipway:Security:ToolsDirectory)"
            : null;
        return new Scanner("secretlint", "secretlint's recommended rules: credentials and keys committed to the repository (values are masked).", true, missing,
            p => $"{Quote($"{p.Tools}/node_modules/.bin/secretlint")} --secretlintrc {Quote($"{p.ConfigDirectory}/secretlintrc.json")} " +
                 $"--format @secretlint/secretlint-formatter-sarif --output {Quote(p.Output)} '**/*'",
            _ => new Dictionary<string, string> { ["secretlintrc.json"] = """{"rules": [{"id": "@secretlint/secretlint-rule-preset-recommend"}]}""" });
    }

    private static Scanner Flawfinder()
    {
        var installed = (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':').Any(d => File.Exists(Path.Combine(d, "flawfinder")));
        return new Scanner("flawfinder", "flawfinder: risky C and C++ calls (buffer overflows, format strings, races).", true,
            installed ? null : "apt-get install flawfinder",
            p => $"flawfinder --sarif . > {Quote(p.Output)}",
            _ => new Dictionary<string, string>());
    }

    /// <summary>The nearest directory above the server's binaries (or the current one) that has <c>node_modules/.bin</c>.</summary>
    private static string FindToolsDirectory()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (Directory.Exists(Path.Combine(dir.FullName, "node_modules", ".bin"))) return dir.FullName;
            }
        }
        return Directory.GetCurrentDirectory();
    }

    /// <summary>One shell word, whatever the path holds.</summary>
    public static string Quote(string value) => "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
