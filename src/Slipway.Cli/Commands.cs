using System.CommandLine;
using System.Text.Json.Nodes;

namespace Slipway.Cli;

/// <summary>The command tree, the options shared by every command, and the one error handler.</summary>
internal static class Commands
{
    public static readonly Option<bool> Json = new("--json") { Description = "Print the API's JSON (for scripts) instead of text", Recursive = true };

    public static readonly Option<string?> Project = new("--project", "-p")
    {
        Description = "Project name or id (default: the project linked to this directory)",
        Recursive = true,
    };

    public static RootCommand Root()
    {
        var root = new RootCommand("slipway: deploy and run apps on a Slipway server.");
        root.Options.Add(Json);
        root.Options.Add(Project);
        AuthCommands.AddTo(root);
        ProjectCommands.AddTo(root);
        DeployCommands.AddTo(root);
        SettingCommands.AddTo(root);
        return root;
    }

    public static Option<string?> EnvironmentOption() => new("--environment", "-e") { Description = "Environment name (default: production)" };

    public static Option<bool> NoWaitOption() => new("--no-wait") { Description = "Return once the deployment is queued" };

    /// <summary>Runs the action with a <see cref="Session"/>; API refusals and local mistakes end in one message and exit code 1.</summary>
    public static void Handle(this Command command, Func<Session, ParseResult, CancellationToken, Task<int>> action) =>
        command.SetAction(async (parse, ct) =>
        {
            var output = new Output(parse.GetValue(Json));
            using var session = new Session(output, new Config(), parse.GetValue(Project));
            try
            {
                return await action(session, parse, ct);
            }
            catch (ApiError e)
            {
                if (output.Json && e.Body is not null) Output.Print(e.Body);
                Output.Error(e.Describe());
                return 1;
            }
            catch (CliError e)
            {
                Output.Error(e.Message);
                return 1;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return 130;
            }
        });

    public static Command With(this Command command, params Symbol[] symbols)
    {
        foreach (var symbol in symbols)
        {
            switch (symbol)
            {
                case Option option:
                    command.Options.Add(option);
                    break;
                case Argument argument:
                    command.Arguments.Add(argument);
                    break;
                case Command sub:
                    command.Subcommands.Add(sub);
                    break;
                default:
                    throw new ArgumentException($"unexpected {symbol.GetType().Name}", nameof(symbols));
            }
        }
        return command;
    }
}

/// <summary>What one command run needs: the output, the config files, the API client and the project it is about.</summary>
internal sealed class Session(Output output, Config config, string? project) : IDisposable
{
    private Api? api;

    public Output Output { get; } = output;
    public Config Config { get; } = config;

    /// <summary>The API with the stored credentials.</summary>
    public Api Api => api ??= Config.Credentials() is { } c
        ? new Api(c.Url, c.Token)
        : throw new CliError("Not logged in: run `slipway login` first.");

    /// <summary>The project named with <c>--project</c>, else the one linked to the current directory (its id).</summary>
    public string Project => project ?? Config.LinkOf(Environment.CurrentDirectory)?.Id
        ?? throw new CliError("No project: pass --project NAME, or run `slipway link NAME` in this directory.");

    public string ProjectPath => Uri.EscapeDataString(Project);

    /// <summary>The project's newest deployment (optionally of one environment).</summary>
    public async Task<JsonNode> LatestDeploymentAsync(string? environment, CancellationToken ct)
    {
        var query = $"deployments?project_id={ProjectPath}&limit=1" + (environment is null ? "" : "&environment=" + Uri.EscapeDataString(environment));
        var page = await Api.GetAsync(query, ct);
        return page["data"]!.AsArray().FirstOrDefault() ?? throw new CliError("This project has no deployments yet: run `slipway deploy`.");
    }

    public void Dispose() => api?.Dispose();
}
