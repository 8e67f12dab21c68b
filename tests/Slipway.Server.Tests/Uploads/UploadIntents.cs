using System.Formats.Tar;
using System.IO.Compression;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Uploads;

/// <summary>Archives built the way clients build them (and the way attackers do), and the upload intents.</summary>
internal static class UploadIntents
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    public static byte[] Zip(IReadOnlyDictionary<string, string> files)
    {
        using var memory = new MemoryStream();
        using (var zip = new ZipArchive(memory, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (name, content) in files)
            {
                using var entry = zip.CreateEntry(name).Open();
                entry.Write(Encoding.UTF8.GetBytes(content));
            }
        }
        return memory.ToArray();
    }

    public static byte[] TarGz(IReadOnlyDictionary<string, string> files, Action<TarWriter>? more = null)
    {
        using var memory = new MemoryStream();
        using (var gzip = new GZipStream(memory, CompressionLevel.Fastest, leaveOpen: true))
        using (var tar = new TarWriter(gzip, TarEntryFormat.Pax))
        {
            foreach (var (name, content) in files)
            {
                tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name)
                {
                    DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)), Mode = (UnixFileMode)0x1A4,
                });
            }
            more?.Invoke(tar);
        }
        return memory.ToArray();
    }

    public static Dictionary<string, string> Site(string title) => SampleApps.Static(title);

    public static Dictionary<string, string> Node(string version) => SampleApps.Node(version, buildScript: null);

    public static async Task<string> UploadProjectAsync(this SlipwayServer server, string token, string name, object? extra = null)
    {
        var body = new Dictionary<string, object?> { ["name"] = name };
        foreach (var (key, value) in System.Text.Json.JsonSerializer.SerializeToNode(extra ?? new { })!.AsObject()) body[key] = value?.DeepClone();
        var project = (await server.PostAsync("/api/v1/projects", body, token)).AssertStatus(201).Json;
        Assert.Null(project["repo_url"]);
        return project["id"]!.GetValue<string>();
    }

    public static MultipartFormDataContent Form(byte[] archive, string fileName, IReadOnlyDictionary<string, string>? fields = null)
    {
        var form = new MultipartFormDataContent();
        foreach (var (key, value) in fields ?? new Dictionary<string, string>()) form.Add(new StringContent(value), key);
        var file = new ByteArrayContent(archive);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(file, "file", fileName);
        return form;
    }

    public static Task<ApiResponse> UploadAsync(this SlipwayServer server, string token, string projectId, byte[] archive, string fileName,
        IReadOnlyDictionary<string, string>? fields = null) =>
        server.SendAsync(HttpMethod.Post, $"/api/v1/projects/{projectId}/uploads", Form(archive, fileName, fields), token);

    /// <summary>Polls the upload until it reaches one of the statuses; fails fast on another final one.</summary>
    public static async Task<JsonNode> WaitForUploadAsync(this SlipwayServer server, string token, string uploadId, params string[] statuses)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        JsonNode upload;
        while (true)
        {
            upload = (await server.GetAsync($"/api/v1/uploads/{uploadId}", token)).AssertStatus(200).Json;
            var status = upload["status"]!.GetValue<string>();
            if (statuses.Contains(status)) return upload;
            if (status is "rejected" or "failed" || watch.Elapsed > Patience) break;
            await Task.Delay(50);
        }
        throw new Xunit.Sdk.XunitException($"Upload {uploadId} is {upload["status"]} (wanted {string.Join("/", statuses)}): {upload["reason"]}");
    }

    /// <summary>Uploads and waits until the router serves it (automatic approval, auto release).</summary>
    public static async Task<JsonNode> UploadLiveAsync(this SlipwayServer server, string token, string projectId, byte[] archive, string fileName)
    {
        var created = (await server.UploadAsync(token, projectId, archive, fileName)).AssertStatus(201).Json;
        var upload = await server.WaitForUploadAsync(token, created["id"]!.GetValue<string>(), "distributed");
        var deployment = (await server.GetAsync($"/api/v1/deployments/{upload["deployment_id"]}", token)).AssertStatus(200).Json;
        Assert.Equal("upload", deployment["trigger"]!.GetValue<string>());
        Assert.True(deployment["is_live"]!.GetValue<bool>());
        return upload;
    }
}
