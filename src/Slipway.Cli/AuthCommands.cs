using System.CommandLine;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace Slipway.Cli;

/// <summary><c>login</c>, <c>logout</c>, <c>whoami</c>.</summary>
internal static class AuthCommands
{
    private const string DefaultUrl = "http://127.0.0.1:8080";

    public static void AddTo(RootCommand root)
    {
        var url = new Option<string?>("--url") { Description = $"The server (default: the last one, else {DefaultUrl})" };
        var email = new Option<string?>("--email") { Description = "Sign in with this account; the password is read from stdin or asked for" };
        var token = new Option<string?>("--token") { Description = "Sign in with an API key (slp_…) instead" };
        var login = new Command("login", "Sign in and keep the token in the user's config directory (mode 0600)").With(url, email, token);
        login.Handle((s, p, ct) => LoginAsync(s, p.GetValue(url), p.GetValue(email), p.GetValue(token), ct));
        root.Subcommands.Add(login);

        var logout = new Command("logout", "Forget the stored token");
        logout.Handle((s, _, _) =>
        {
            var removed = s.Config.Forget();
            if (s.Output.Json) Output.Print(new JsonObject { ["logged_out"] = removed });
            else s.Output.Say(removed ? "Logged out." : "Not logged in.");
            return Task.FromResult(0);
        });
        root.Subcommands.Add(logout);

        var whoami = new Command("whoami", "Who the stored token signs in as, and where");
        whoami.Handle(WhoAmIAsync);
        root.Subcommands.Add(whoami);
    }

    private static async Task<int> LoginAsync(Session session, string? url, string? email, string? key, CancellationToken ct)
    {
        url ??= Environment.GetEnvironmentVariable("SLIPWAY_URL") is { Length: > 0 } fromEnv ? fromEnv : session.Config.Credentials()?.Url ?? DefaultUrl;
        var output = session.Output;
        if (key is not null)
        {
            using var api = new Api(url, key);
            var workspaces = await api.GetAsync("workspaces", ct);
            session.Config.Save(new Credentials(api.Url, key, null));
            if (output.Json) Output.Print(workspaces);
            else output.Say($"Logged in to {api.Url} with an API key.", "green");
            return 0;
        }

        email ??= output.Terminal && !Console.IsInputRedirected ? output.Console.Prompt(new TextPrompt<string>("Email:")) : null;
        if (email is null) throw new CliError("Pass --email (the password on stdin), or --token with an API key.");
        var password = Console.IsInputRedirected
            ? (await Console.In.ReadLineAsync(ct))?.TrimEnd('\r')
            : output.Terminal ? output.Console.Prompt(new TextPrompt<string>("Password:").Secret()) : null;
        if (string.IsNullOrEmpty(password)) throw new CliError("No password: type it when asked, or pass it on stdin.");

        using (var anonymous = new Api(url, null))
        {
            var answer = (JsonObject)await anonymous.PostAsync("auth/login", new JsonObject { ["email"] = email, ["password"] = password }, ct);
            var jwt = answer["token"]!.GetValue<string>();
            answer.Remove("token");
            session.Config.Save(new Credentials(anonymous.Url, jwt, email));
            if (output.Json) Output.Print(answer);
            else output.Say($"Logged in to {anonymous.Url} as {email}.", "green");
        }
        return 0;
    }

    private static async Task<int> WhoAmIAsync(Session session, ParseResult parse, CancellationToken ct)
    {
        var credentials = session.Config.Credentials() ?? throw new CliError("Not logged in: run `slipway login` first.");
        var api = session.Api;
        if (credentials.Token.StartsWith("slp_", StringComparison.Ordinal))
        {
            var workspaces = await api.GetAsync("workspaces", ct);
            if (session.Output.Json) Output.Print(workspaces);
            else session.Output.Say($"An API key for workspace {workspaces["data"]?[0]?["name"]} on {api.Url}");
            return 0;
        }
        var me = await api.GetAsync("auth/me", ct);
        if (session.Output.Json)
        {
            Output.Print(me);
            return 0;
        }
        session.Output.Say($"{me["user"]!["email"]} ({me["user"]!["name"]}) on {api.Url}", "bold");
        session.Output.Table(["workspace", "role", "tier", "id"], me["workspaces"]!.AsArray().Select(w => new[]
        {
            w!["name"]!.ToString(), w["role"]!.ToString(), w["tier"]?.ToString(), w["id"]!.ToString(),
        }));
        return 0;
    }
}
