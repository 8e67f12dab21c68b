using System.CommandLine;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace Slipway.Cli;

/// <summary><c>projects ls|create|show|rm</c> and <c>link</c>.</summary>
internal static class ProjectCommands
{
    public static void AddTo(RootCommand root)
    {
        var projects = new Command("projects", "List, create, show and delete projects");
        projects.Aliases.Add("project");

        var ls = new Command("ls", "The projects you can see");
        ls.Aliases.Add("list");
        ls.Handle(async (s, _, ct) =>
        {
            var all = await s.Api.ListAsync("projects", ct);
            if (s.Output.Json) Output.Print(new JsonObject { ["data"] = all });
            else s.Output.Table(["name", "live", "url", "id"], all.Select(p => new[] { p!["name"]!.ToString(), p["live_status"]?.ToString(), p["url"]?.ToString(), p["id"]!.ToString() }));
            return 0;
        });

        var name = new Argument<string>("name") { Description = "Project name (a DNS label: lowercase letters, digits, dashes)" };
        var repo = new Option<string?>("--repo") { Description = "Git repository URL (or a local path when the server allows it); without it the project deploys uploads only (deploy --upload)" };
        var branch = new Option<string?>("--branch") { Description = "Branch to deploy (default: main)" };
        var build = new Option<string?>("--build-command") { Description = "Build command (default: detected)" };
        var start = new Option<string?>("--start-command") { Description = "Start command (default: detected)" };
        var workspace = new Option<string?>("--workspace") { Description = "Workspace id (default: your personal workspace)" };
        var create = new Command("create", "Create a project").With(name, repo, branch, build, start, workspace);
        create.Handle(async (s, p, ct) =>
        {
            var body = new JsonObject { ["name"] = p.GetValue(name) };
            AddIfSet(body, "repo_url", p.GetValue(repo));
            AddIfSet(body, "branch", p.GetValue(branch));
            AddIfSet(body, "build_command", p.GetValue(build));
            AddIfSet(body, "start_command", p.GetValue(start));
            AddIfSet(body, "workspace_id", p.GetValue(workspace));
            var project = await s.Api.PostAsync("projects", body, ct);
            if (s.Output.Json) Output.Print(project);
            else s.Output.Say($"Created {project["name"]} ({project["id"]}): {project["url"]}", "green");
            return 0;
        });

        var which = new Argument<string?>("project") { Description = "Project name or id (default: --project, then the linked one)", Arity = ArgumentArity.ZeroOrOne };
        var show = new Command("show", "A project's settings and live release").With(which);
        show.Handle(async (s, p, ct) =>
        {
            var project = await s.Api.GetAsync("projects/" + Uri.EscapeDataString(p.GetValue(which) ?? s.Project), ct);
            if (s.Output.Json) Output.Print(project);
            else Describe(s.Output, project);
            return 0;
        });

        var target = new Argument<string>("project") { Description = "Project name or id" };
        var yes = new Option<bool>("--yes", "-y") { Description = "Do not ask for confirmation" };
        var rm = new Command("rm", "Delete a project with its environments, env vars and domains").With(target, yes);
        rm.Aliases.Add("delete");
        rm.Handle(async (s, p, ct) =>
        {
            var project = p.GetValue(target)!;
            if (!p.GetValue(yes))
            {
                if (!s.Output.Terminal || Console.IsInputRedirected) throw new CliError($"Deleting {project} cannot be undone: pass --yes to confirm.");
                if (!s.Output.Console.Confirm($"Delete project {project} and everything in it?", defaultValue: false)) return 1;
            }
            await s.Api.DeleteAsync("projects/" + Uri.EscapeDataString(project), null, ct);
            if (s.Output.Json) Output.Print(new JsonObject { ["deleted"] = project });
            else s.Output.Say($"Deleted {project}.");
            return 0;
        });
        root.Subcommands.Add(projects.With(ls, create, show, rm));

        var linked = new Argument<string>("project") { Description = "Project name or id" };
        var link = new Command("link", "Remember a project for the current directory (kept in the config directory)").With(linked);
        link.Handle(async (s, p, ct) =>
        {
            var project = await s.Api.GetAsync("projects/" + Uri.EscapeDataString(p.GetValue(linked)!), ct);
            s.Config.SaveLink(Environment.CurrentDirectory, new Link(project["id"]!.GetValue<string>(), project["name"]!.GetValue<string>()));
            if (s.Output.Json) Output.Print(project);
            else s.Output.Say($"Linked {Environment.CurrentDirectory} to {project["name"]}.", "green");
            return 0;
        });
        root.Subcommands.Add(link);
    }

    public static void AddIfSet(JsonObject body, string field, string? value)
    {
        if (value is not null) body[field] = value;
    }

    private static void Describe(Output output, JsonNode project)
    {
        output.Say($"{project["name"]}  {project["url"]}", "bold");
        output.Table(["field", "value"], new[]
        {
            new[] { "id", project["id"]?.ToString() },
            ["repository", project["repo_url"]?.ToString()],
            ["branch", project["branch"]?.ToString()],
            ["framework", project["framework"]?.ToString()],
            ["build command", project["build_command"]?.ToString()],
            ["start command", project["start_command"]?.ToString()],
            ["live deployment", project["live_deployment_id"]?.ToString()],
            ["live status", project["live_status"]?.ToString()],
            ["environments", string.Join(", ", project["environments"]?.AsArray().Select(e => e?["name"]?.ToString()) ?? [])],
            ["domains", string.Join(", ", project["domains"]?.AsArray().Select(d => d?["domain"]?.ToString()) ?? [])],
        });
    }
}
