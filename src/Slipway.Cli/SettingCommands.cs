using System.CommandLine;
using System.Text.Json.Nodes;

namespace Slipway.Cli;

/// <summary><c>env ls|set|rm</c>, <c>domains ls|add|rm</c>, <c>keys ls|create|revoke</c>.</summary>
internal static class SettingCommands
{
    public static void AddTo(RootCommand root)
    {
        root.Subcommands.Add(Env());
        root.Subcommands.Add(Domains());
        root.Subcommands.Add(Keys());
    }

    private static Command Env()
    {
        var environment = Commands.EnvironmentOption();
        var ls = new Command("ls", "Variable names (values are never shown)").With(environment);
        ls.Aliases.Add("list");
        ls.Handle(async (s, p, ct) =>
        {
            var all = await s.Api.ListAsync($"env?project_id={s.ProjectPath}&environment={Uri.EscapeDataString(p.GetValue(environment) ?? "production")}", ct);
            if (s.Output.Json) Output.Print(new JsonObject { ["data"] = all });
            else s.Output.Table(["key", "environment", "updated"], all.Select(v => new[] { v!["key"]!.ToString(), v["environment"]?.ToString(), v["updated_at"]?.ToString() }));
            return 0;
        });

        var assignments = new Argument<string[]>("assignment")
        {
            Description = "KEY=VALUE, or KEY alone to read the value from stdin (keeps it out of the shell history)",
            Arity = ArgumentArity.OneOrMore,
        };
        var set = new Command("set", "Set variables; stored encrypted, never printed").With(assignments, environment);
        set.Handle(async (s, p, ct) =>
        {
            var pairs = new List<(string Key, string Value)>();
            foreach (var assignment in p.GetValue(assignments)!)
            {
                var equals = assignment.IndexOf('=', StringComparison.Ordinal);
                if (equals > 0) pairs.Add((assignment[..equals], assignment[(equals + 1)..]));
                else if (p.GetValue(assignments)!.Length == 1 && Console.IsInputRedirected) pairs.Add((assignment, (await Console.In.ReadToEndAsync(ct)).TrimEnd('\n', '\r')));
                else throw new CliError($"'{assignment}' has no value: write KEY=VALUE, or give one KEY and pipe its value on stdin.");
            }
            var results = new JsonArray();
            foreach (var (key, value) in pairs)
            {
                var body = new JsonObject { ["project_id"] = s.Project, ["key"] = key, ["value"] = value };
                ProjectCommands.AddIfSet(body, "environment", p.GetValue(environment));
                var stored = await s.Api.PostAsync("env", body, ct);
                results.Add(stored.DeepClone());
                s.Output.Say($"Set {key} in {stored["environment"]}.", "green");
            }
            if (s.Output.Json) Output.Print(new JsonObject { ["data"] = results });
            return 0;
        });

        var key = new Argument<string>("key") { Description = "Variable name" };
        var rm = new Command("rm", "Remove a variable").With(key, environment);
        rm.Handle(async (s, p, ct) =>
        {
            var body = new JsonObject { ["project_id"] = s.Project, ["key"] = p.GetValue(key) };
            ProjectCommands.AddIfSet(body, "environment", p.GetValue(environment));
            await s.Api.DeleteAsync("env", body, ct);
            if (s.Output.Json) Output.Print(new JsonObject { ["deleted"] = p.GetValue(key) });
            else s.Output.Say($"Removed {p.GetValue(key)}.");
            return 0;
        });
        return new Command("env", "Environment variables of the project").With(ls, set, rm);
    }

    private static Command Domains()
    {
        var ls = new Command("ls", "The project's custom domains");
        ls.Aliases.Add("list");
        ls.Handle(async (s, _, ct) =>
        {
            var all = await s.Api.ListAsync($"domains?project_id={s.ProjectPath}", ct);
            if (s.Output.Json) Output.Print(new JsonObject { ["data"] = all });
            else s.Output.Table(["domain", "environment", "id"], all.Select(d => new[] { d!["domain"]!.ToString(), d["environment"]?.ToString(), d["id"]!.ToString() }));
            return 0;
        });

        var environment = Commands.EnvironmentOption();
        var domain = new Argument<string>("domain") { Description = "Host name, e.g. app.example.com" };
        var add = new Command("add", "Serve the project on a domain").With(domain, environment);
        add.Handle(async (s, p, ct) =>
        {
            var body = new JsonObject { ["project_id"] = s.Project, ["domain"] = p.GetValue(domain) };
            ProjectCommands.AddIfSet(body, "environment", p.GetValue(environment));
            var created = await s.Api.PostAsync("domains", body, ct);
            if (s.Output.Json) Output.Print(created);
            else s.Output.Say($"Added {created["domain"]} ({created["environment"]}).", "green");
            return 0;
        });

        var target = new Argument<string>("domain") { Description = "Host name or domain id" };
        var rm = new Command("rm", "Stop serving a domain").With(target);
        rm.Handle(async (s, p, ct) =>
        {
            var wanted = p.GetValue(target)!;
            var all = await s.Api.ListAsync($"domains?project_id={s.ProjectPath}", ct);
            var found = all.FirstOrDefault(d => d!["id"]!.ToString() == wanted || string.Equals(d["domain"]!.ToString(), wanted, StringComparison.OrdinalIgnoreCase))
                        ?? throw new CliError($"The project has no domain '{wanted}'.");
            await s.Api.DeleteAsync($"domains/{Uri.EscapeDataString(found["id"]!.ToString())}", null, ct);
            if (s.Output.Json) Output.Print(found);
            else s.Output.Say($"Removed {found["domain"]}.");
            return 0;
        });
        return new Command("domains", "Custom domains of the project").With(ls, add, rm);
    }

    private static Command Keys()
    {
        var ls = new Command("ls", "API keys of your workspaces (never the keys themselves)");
        ls.Aliases.Add("list");
        ls.Handle(async (s, _, ct) =>
        {
            var all = await s.Api.ListAsync("api-keys", ct);
            if (s.Output.Json) Output.Print(new JsonObject { ["data"] = all });
            else s.Output.Table(["name", "prefix", "scopes", "last used", "expires", "id"], all.Select(k => new[]
            {
                k!["name"]!.ToString(), k["prefix"]?.ToString(), string.Join(",", k["scopes"]!.AsArray().Select(x => x!.ToString())),
                k["last_used_at"]?.ToString(), k["expires_at"]?.ToString(), k["id"]!.ToString(),
            }));
            return 0;
        });

        var name = new Argument<string>("name") { Description = "What the key is for, e.g. ci" };
        var scopes = new Option<string[]>("--scope") { Description = "A scope such as deployments:write (repeatable; default *)", AllowMultipleArgumentsPerToken = true };
        var onlyProject = new Option<bool>("--restrict") { Description = "Restrict the key to the project (--project or the linked one)" };
        var expires = new Option<string?>("--expires") { Description = "Expiry, ISO 8601 (e.g. 2027-01-01T00:00:00Z)" };
        var create = new Command("create", "Mint an API key; it is shown this once").With(name, scopes, onlyProject, expires);
        create.Handle(async (s, p, ct) =>
        {
            var wanted = p.GetValue(scopes) is { Length: > 0 } given ? given : ["*"];
            var body = new JsonObject { ["name"] = p.GetValue(name), ["scopes"] = new JsonArray(wanted.Select(x => (JsonNode)x).ToArray()) };
            if (p.GetValue(onlyProject)) body["project_id"] = (await s.Api.GetAsync($"projects/{s.ProjectPath}", ct))["id"]!.GetValue<string>();
            ProjectCommands.AddIfSet(body, "expires_at", p.GetValue(expires));
            var created = await s.Api.PostAsync("api-keys", body, ct);
            if (s.Output.Json) Output.Print(created);
            else
            {
                s.Output.Say($"Created key {created["name"]} ({created["id"]}). It is shown this once:", "green");
                Console.Out.WriteLine(created["key"]);
            }
            return 0;
        });

        var target = new Argument<string>("key") { Description = "Key id or name" };
        var revoke = new Command("revoke", "Revoke a key, effective at once").With(target);
        revoke.Handle(async (s, p, ct) =>
        {
            var wanted = p.GetValue(target)!;
            var matches = (await s.Api.ListAsync("api-keys", ct)).Where(k => k!["id"]!.ToString() == wanted || k["name"]!.ToString() == wanted).ToList();
            if (matches.Count == 0) throw new CliError($"No API key '{wanted}'.");
            if (matches.Count > 1) throw new CliError($"{matches.Count} keys are named '{wanted}': revoke one by id (`slipway keys ls`).");
            await s.Api.DeleteAsync($"api-keys/{Uri.EscapeDataString(matches[0]!["id"]!.ToString())}", null, ct);
            if (s.Output.Json) Output.Print(matches[0]);
            else s.Output.Say($"Revoked {matches[0]!["name"]}.");
            return 0;
        });
        return new Command("keys", "API keys").With(ls, create, revoke);
    }
}
