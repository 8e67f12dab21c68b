using System.Formats.Tar;
using System.IO.Compression;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Uploads;

/// <summary>
/// A project deleted while its upload is being extracted: the teardown removes what it finds, the extraction goes on and
/// moves its tree into place, and the validation then notices the upload is gone: nothing of it stays on disk.
/// </summary>
public sealed class DeletingAProjectWhileItsUploadValidatesTests : IAsyncLifetime
{
    private SlipwayServer server = null!;
    private TestUser user = null!;

    public async Task InitializeAsync()
    {
        // Zeros compress far beyond the default ratio limit; here they only make extraction long enough to be caught.
        server = await SlipwayServer.StartAsync(new Dictionary<string, string?>(EngineSettings.Fast) { ["Slipway:Uploads:MaxCompressionRatio"] = "100000" });
        user = await server.RegisterUserAsync();
    }

    public async Task DisposeAsync() => await server.DisposeAsync();

    private string UploadsDirectory => Path.Combine(server.DataDirectory, "uploads");

    [Fact]
    public async Task DeletedMidExtraction_LeavesNoStagingArchiveOrTree()
    {
        var doomed = await server.UploadProjectAsync(user.Token, "doomed", new { framework = "static" });
        var created = (await server.UploadAsync(user.Token, doomed, Zeros(entries: 8, megabytes: 32), "zeros.tar.gz")).AssertStatus(201).Json;
        var id = created["id"]!.GetValue<string>();

        // Extraction has begun once the first entry is in the staging directory.
        var deadline = DateTime.UtcNow + UploadIntents.Patience;
        while (!File.Exists(Path.Combine(UploadsDirectory, id + ".staging", "zeros-0.bin")))
        {
            var status = (await server.GetAsync($"/api/v1/uploads/{id}", user.Token)).AssertStatus(200).Json["status"]!.GetValue<string>();
            Assert.True(status is "uploaded" or "validating", $"the upload is {status} before it was caught extracting");
            Assert.True(DateTime.UtcNow < deadline, "extraction never started");
            await Task.Delay(10);
        }
        (await server.DeleteAsync($"/api/v1/projects/{doomed}", user.Token)).AssertStatus(204);
        (await server.GetAsync($"/api/v1/uploads/{id}", user.Token)).AssertError(404, "not_found");

        // The worker validates one upload at a time: once a later one is validated, the deleted one's validation is over.
        var next = await server.UploadProjectAsync(user.Token, "next", new { framework = "static", upload_approval = "manual" });
        var later = (await server.UploadAsync(user.Token, next, UploadIntents.Zip(UploadIntents.Site("later")), "later.zip")).AssertStatus(201).Json;
        await server.WaitForUploadAsync(user.Token, later["id"]!.GetValue<string>(), "pending_approval");

        Assert.Empty(Directory.EnumerateFileSystemEntries(UploadsDirectory, id + "*"));
        Assert.True(Directory.Exists(Path.Combine(UploadsDirectory, later["id"]!.GetValue<string>())));
    }

    private static byte[] Zeros(int entries, int megabytes)
    {
        using var memory = new MemoryStream();
        using (var gzip = new GZipStream(memory, CompressionLevel.Fastest, leaveOpen: true))
        using (var tar = new TarWriter(gzip, TarEntryFormat.Pax))
        {
            var zeros = new byte[megabytes << 20];
            for (var i = 0; i < entries; i++)
            {
                tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, $"zeros-{i}.bin") { DataStream = new MemoryStream(zeros, writable: false) });
            }
        }
        return memory.ToArray();
    }
}
