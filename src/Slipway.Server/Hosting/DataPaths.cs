using System.Security.Cryptography;

namespace Slipway.Server.Hosting;

internal static class DataPaths
{
    public const string Key = "Slipway:DataDirectory";

    /// <summary>The one local directory Slipway owns (database, secrets, later artifacts); default <c>./.slipway</c>.</summary>
    public static string DataDirectory(this IConfiguration configuration) =>
        Path.GetFullPath(configuration[Key] is { Length: > 0 } dir ? dir : ".slipway");

    /// <summary>Unpacked releases, one directory per deployment id (the engine and the router both read it).</summary>
    public static string ReleasesDirectory(this IConfiguration configuration) => Path.Combine(configuration.DataDirectory(), "releases");

    /// <summary>
    /// Reads a secret file, or creates it with fresh random bytes, readable by the owner only (0600).
    /// Creation uses CreateNew so two processes starting together cannot both write different secrets.
    /// </summary>
    public static byte[] ReadOrCreateSecret(string path, int length)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        if (!File.Exists(path))
        {
            try
            {
                var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
                if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
                using var stream = new FileStream(path, options);
                using var writer = new StreamWriter(stream);
                writer.Write(Convert.ToBase64String(RandomNumberGenerator.GetBytes(length)));
            }
            catch (IOException) when (File.Exists(path))
            {
            }
        }
        var bytes = Convert.FromBase64String(File.ReadAllText(path).Trim());
        if (bytes.Length != length) throw new InvalidOperationException($"Secret file {Path.GetFileName(path)} must hold {length} bytes.");
        return bytes;
    }
}
