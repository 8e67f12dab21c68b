using System.Text.Json;
using System.Text.RegularExpressions;
using Slipway.Server.Projects;

namespace Slipway.Server.Builds;

/// <summary>
/// Decides what to build and run for a source tree. Explicit build/start commands always win over anything detected;
/// for <see cref="Framework.Auto"/> the tree is inspected in a fixed order (see the table in docs/deployments.md).
/// </summary>
internal static partial class FrameworkDetection
{
    private sealed record Toolchain(string Framework, string? Build, string? Start);

    private static readonly string[] PythonEntryPoints = ["app.py", "main.py"];

    private const string VenvPath = "export PATH=\"$PWD/.venv/bin:$PATH\" VIRTUAL_ENV=\"$PWD/.venv\"; ";

    public static BuildPlan Plan(string sourceDirectory, Framework framework, string? buildCommand, string? startCommand, string? outputDirectory)
    {
        var build = Blank(buildCommand);
        var start = Blank(startCommand);
        var output = NormalizeOutput(outputDirectory);

        switch (framework)
        {
            case Framework.Static:
                // No process: the router serves the directory. A start command has no meaning here and is ignored.
                return new BuildPlan("static", build, null, output ?? ".", IsStatic: true);
            case Framework.Custom:
                if (start is null) throw new BuildPlanException("The framework is 'custom': set a start command (and a build command if the app needs one).");
                return new BuildPlan("custom", build, start, output, IsStatic: false);
            case Framework.Auto:
                return Auto(sourceDirectory, build, start, output);
            case Framework.Node:
            case Framework.Nextjs:
            case Framework.Python:
            case Framework.Dotnet:
            case Framework.Go:
                var name = Name(framework);
                var toolchain = framework switch
                {
                    Framework.Node or Framework.Nextjs => Node(sourceDirectory),
                    Framework.Python => Python(sourceDirectory),
                    Framework.Dotnet => Dotnet(sourceDirectory),
                    _ => Go(sourceDirectory),
                };
                start ??= Procfile(sourceDirectory, toolchain) ?? toolchain?.Start;
                if (start is null)
                {
                    throw new BuildPlanException(toolchain is null
                        ? $"The framework is '{name}' but {Expected(framework)} is missing at the root of the source: add it, or set build and start commands."
                        : $"Could not tell how to start this {name} app: set a start command.");
                }
                return new BuildPlan(name, build ?? toolchain?.Build, start, output, IsStatic: false);
            default:
                throw new ArgumentOutOfRangeException(nameof(framework), framework, null);
        }
    }

    private static BuildPlan Auto(string root, string? build, string? start, string? output)
    {
        var toolchain = Node(root) ?? Python(root) ?? Dotnet(root) ?? Go(root);

        if (start is null && Procfile(root, toolchain) is { } web)
            return new BuildPlan(toolchain?.Framework ?? "custom", build ?? toolchain?.Build, web, output, IsStatic: false);

        // An output directory without a start command means "build, then serve these files" (a Vite or Hugo site).
        if (start is null && output is not null)
            return new BuildPlan("static", build ?? toolchain?.Build, null, output, IsStatic: true);

        if (toolchain is not null)
        {
            start ??= toolchain.Start ?? throw new BuildPlanException(
                $"Detected a {toolchain.Framework} app but could not tell how to start it: set a start command (or add a Procfile with a 'web:' line).");
            return new BuildPlan(toolchain.Framework, build ?? toolchain.Build, start, output, IsStatic: false);
        }

        if (start is null && File.Exists(Path.Combine(root, "index.html")))
            return new BuildPlan("static", build, null, ".", IsStatic: true);

        if (start is not null) return new BuildPlan("custom", build, start, output, IsStatic: false);

        throw new BuildPlanException(
            "Could not detect the framework: no Procfile, package.json, requirements.txt, pyproject.toml, *.csproj, go.mod or index.html at the root " +
            "of the source. Set the project's build and start commands (or an output directory for a static site).");
    }

    /// <summary>The command of the Procfile's <c>web:</c> process, run inside the Python venv when there is one.</summary>
    private static string? Procfile(string root, Toolchain? toolchain)
    {
        var path = Path.Combine(root, "Procfile");
        if (!File.Exists(path)) return null;
        foreach (var line in File.ReadLines(path))
        {
            var match = ProcfileLine().Match(line);
            if (!match.Success || match.Groups["name"].Value != "web") continue;
            var command = match.Groups["command"].Value.Trim();
            if (command.Length == 0) return null;
            return toolchain?.Framework == "python" ? VenvPath + command : command;
        }
        return null;
    }

    private static Toolchain? Node(string root)
    {
        var path = Path.Combine(root, "package.json");
        if (!File.Exists(path)) return null;
        JsonElement package;
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path), new JsonDocumentOptions { AllowTrailingCommas = true });
            package = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new BuildPlanException($"package.json is not valid JSON: {e.Message}");
        }
        if (package.ValueKind != JsonValueKind.Object) throw new BuildPlanException("package.json must hold a JSON object.");

        var locked = File.Exists(Path.Combine(root, "package-lock.json")) || File.Exists(Path.Combine(root, "npm-shrinkwrap.json"));
        var install = locked ? "npm ci" : "npm install";
        var build = HasMember(package, "scripts", "build") ? install + " && npm run build" : install;
        var isNext = HasMember(package, "dependencies", "next") || HasMember(package, "devDependencies", "next");
        string start;
        if (HasMember(package, "scripts", "start")) start = "npm start";
        else if (isNext) start = "node_modules/.bin/next start";
        else
        {
            var main = package.TryGetProperty("main", out var m) && m.ValueKind == JsonValueKind.String && m.GetString() is { Length: > 0 } value
                ? value
                : "index.js";
            start = "node " + Quote(main);
        }
        return new Toolchain(isNext ? "nextjs" : "node", build, start);
    }

    private static Toolchain? Python(string root)
    {
        var requirements = File.Exists(Path.Combine(root, "requirements.txt"));
        if (!requirements && !File.Exists(Path.Combine(root, "pyproject.toml"))) return null;
        // --copies and `python -m pip`: the venv keeps working after the release is unpacked elsewhere.
        var build = "python3 -m venv --copies .venv && .venv/bin/python -m pip install " + (requirements ? "-r requirements.txt" : ".");
        var entry = PythonEntryPoints.FirstOrDefault(f => File.Exists(Path.Combine(root, f)));
        return new Toolchain("python", build, entry is null ? null : ".venv/bin/python " + entry);
    }

    private static Toolchain? Dotnet(string root)
    {
        if (!Directory.Exists(root)) return null;
        var projects = Directory.GetFiles(root, "*.csproj").Order(StringComparer.Ordinal).ToArray();
        if (projects.Length == 0) return null;
        if (projects.Length > 1)
        {
            throw new BuildPlanException(
                $"Found several .NET projects at the root ({string.Join(", ", projects.Select(Path.GetFileName))}): set build and start commands.");
        }
        var assembly = AssemblyName().Match(File.ReadAllText(projects[0])) is { Success: true } match
            ? match.Groups["name"].Value.Trim()
            : Path.GetFileNameWithoutExtension(projects[0]);
        return new Toolchain("dotnet", "dotnet publish -c Release -o out", "dotnet " + Quote($"out/{assembly}.dll"));
    }

    private static Toolchain? Go(string root) =>
        File.Exists(Path.Combine(root, "go.mod")) ? new Toolchain("go", "go build -o app .", "./app") : null;

    private static bool HasMember(JsonElement package, string section, string name) =>
        package.TryGetProperty(section, out var value) && value.ValueKind == JsonValueKind.Object && value.TryGetProperty(name, out _);

    private static string Name(Framework framework) => framework.ToString().ToLowerInvariant();

    private static string Expected(Framework framework) => framework switch
    {
        Framework.Node or Framework.Nextjs => "package.json",
        Framework.Python => "requirements.txt or pyproject.toml",
        Framework.Dotnet => "a *.csproj file",
        _ => "go.mod",
    };

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    /// <summary>Relative to the source root, without <c>..</c>: the router must never serve files outside the release.</summary>
    private static string? NormalizeOutput(string? value)
    {
        var text = Blank(value)?.Replace('\\', '/');
        if (text is null) return null;
        if (text.StartsWith('/')) throw new BuildPlanException($"The output directory '{text}' must be relative to the source root.");
        var segments = text.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(s => s != ".").ToArray();
        if (segments.Contains("..")) throw new BuildPlanException($"The output directory '{text}' must stay inside the source tree.");
        return segments.Length == 0 ? "." : string.Join('/', segments);
    }

    /// <summary>Single-quotes a value for /bin/sh unless it is made only of characters the shell leaves alone.</summary>
    internal static string Quote(string value) =>
        SafeWord().IsMatch(value) ? value : "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    [GeneratedRegex(@"^(?<name>[A-Za-z0-9_-]+)\s*:(?<command>.*)$")]
    private static partial Regex ProcfileLine();

    [GeneratedRegex(@"<AssemblyName>(?<name>[^<]+)</AssemblyName>")]
    private static partial Regex AssemblyName();

    [GeneratedRegex(@"^[A-Za-z0-9_./@%+=:,-]+$")]
    private static partial Regex SafeWord();
}
