using System.Text.Json;
using System.Text.Json.Nodes;

namespace Slipway.Cli;

/// <summary>The signed-in server and token, and the projects linked to directories.</summary>
internal sealed record Credentials(string Url, string Token, string? Email);

internal sealed record Link(string Id, string Name);

/// <summary>
/// Files in the user's config directory (<c>$SLIPWAY_CONFIG_DIR</c>, else <c>~/.config/slipway</c>): the directory is 0700
/// and the credentials file 0600, written by creating a new file with that mode and renaming it over the old one.
/// <c>SLIPWAY_URL</c> and <c>SLIPWAY_TOKEN</c> override the file (for CI).
/// </summary>
internal sealed class Config
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public string Directory { get; } = Environment.GetEnvironmentVariable("SLIPWAY_CONFIG_DIR") is { Length: > 0 } dir
        ? dir
        : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.ApplicationData, Environment.SpecialFolderOption.DoNotVerify), "slipway");

    public string CredentialsPath => Path.Combine(Directory, "credentials.json");

    private string LinksPath => Path.Combine(Directory, "links.json");

    public Credentials? Credentials()
    {
        var stored = File.Exists(CredentialsPath) ? JsonSerializer.Deserialize(File.ReadAllText(CredentialsPath), CliJson.Context.Credentials) : null;
        var url = Environment.GetEnvironmentVariable("SLIPWAY_URL") is { Length: > 0 } u ? u : stored?.Url;
        var token = Environment.GetEnvironmentVariable("SLIPWAY_TOKEN") is { Length: > 0 } t ? t : stored?.Token;
        return url is null || token is null ? null : new Credentials(url, token, stored?.Email);
    }

    public void Save(Credentials credentials) => Write(CredentialsPath, JsonSerializer.Serialize(credentials, CliJson.Context.Credentials));

    /// <summary>True when there was a credentials file to remove.</summary>
    public bool Forget()
    {
        if (!File.Exists(CredentialsPath)) return false;
        File.Delete(CredentialsPath);
        return true;
    }

    public Link? LinkOf(string directory) =>
        ReadLinks().TryGetPropertyValue(Path.GetFullPath(directory), out var node) && node is JsonObject o
            ? new Link(o["id"]!.GetValue<string>(), o["name"]!.GetValue<string>())
            : null;

    public void SaveLink(string directory, Link link)
    {
        var links = ReadLinks();
        links[Path.GetFullPath(directory)] = new JsonObject { ["id"] = link.Id, ["name"] = link.Name };
        Write(LinksPath, links.ToJsonString(CliJson.Indented));
    }

    private JsonObject ReadLinks() => File.Exists(LinksPath) ? JsonNode.Parse(File.ReadAllText(LinksPath)) as JsonObject ?? [] : [];

    private void Write(string path, string text)
    {
        var temporary = path + ".tmp";
        if (OperatingSystem.IsWindows())
        {
            System.IO.Directory.CreateDirectory(Directory);
            File.WriteAllText(temporary, text);
        }
        else
        {
            System.IO.Directory.CreateDirectory(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            File.Delete(temporary);
            using var file = new FileStream(temporary, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = OwnerOnly });
            using var writer = new StreamWriter(file);
            writer.Write(text);
        }
        File.Move(temporary, path, overwrite: true);
    }
}
