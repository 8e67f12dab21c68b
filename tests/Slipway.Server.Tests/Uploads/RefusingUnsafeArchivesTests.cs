using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Uploads;

/// <summary>Hostile archives end <c>rejected</c> with the reason, nothing lands outside staging and nothing of them stays on disk.</summary>
public sealed class RefusingUnsafeArchivesTests : IAsyncLifetime
{
    private SlipwayServer server = null!;
    private TestUser user = null!;
    private string project = null!;
    private readonly string outside = Path.Combine(Path.GetTempPath(), "slipway-escape-" + Guid.NewGuid().ToString("N"));

    public async Task InitializeAsync()
    {
        server = await SlipwayServer.StartAsync(EngineSettings.Fast);
        user = await server.RegisterUserAsync();
        project = await server.UploadProjectAsync(user.Token, "hostile", new { framework = "static" });
    }

    public async Task DisposeAsync()
    {
        await server.DisposeAsync();
        if (File.Exists(outside)) File.Delete(outside);
    }

    private string UploadsDirectory => Path.Combine(server.DataDirectory, "uploads");

    private async Task<string> RejectedAsync(byte[] archive, string fileName)
    {
        var created = (await server.UploadAsync(user.Token, project, archive, fileName)).AssertStatus(201).Json;
        var id = created["id"]!.GetValue<string>();
        var deadline = DateTime.UtcNow + UploadIntents.Patience;
        while (true)
        {
            var upload = (await server.GetAsync($"/api/v1/uploads/{id}", user.Token)).AssertStatus(200).Json;
            var status = upload["status"]!.GetValue<string>();
            if (status == "rejected")
            {
                Assert.False(upload["files_kept"]!.GetValue<bool>());
                Assert.Null(upload["deployment_id"]);
                Assert.Empty(Directory.EnumerateFileSystemEntries(UploadsDirectory));
                Assert.Null((await server.GetAsync($"/api/v1/projects/{project}", user.Token)).Json["live_deployment_id"]);
                return upload["reason"]!.GetValue<string>();
            }
            Assert.True(status is "uploaded" or "validating", $"upload {id} is {status}: {upload["reason"]}");
            Assert.True(DateTime.UtcNow < deadline, "validation did not finish");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task ZipSlip_IsRejected_AndNothingEscapes()
    {
        var files = UploadIntents.Site("ok");
        files["../escaped.txt"] = "climbed out";
        files["../../" + Path.GetFileName(outside)] = "climbed further";
        var reason = await RejectedAsync(UploadIntents.Zip(files), "slip.zip");
        Assert.Contains("..", reason);
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "escaped.txt")));
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "uploads", "escaped.txt")));
    }

    [Fact]
    public async Task AbsolutePath_IsRejected_AndNothingEscapes()
    {
        var archive = UploadIntents.TarGz(UploadIntents.Site("ok"), tar => tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, outside)
        {
            DataStream = new MemoryStream(Encoding.UTF8.GetBytes("absolute")),
        }));
        Assert.Contains("absolute", await RejectedAsync(archive, "absolute.tar.gz"));
        Assert.False(File.Exists(outside));
    }

    [Fact]
    public async Task EscapingSymlink_IsRejected_AndNothingEscapes()
    {
        var archive = UploadIntents.TarGz(UploadIntents.Site("ok"), tar =>
        {
            tar.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "assets") { LinkName = "../../../../../../tmp" });
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "assets/" + Path.GetFileName(outside))
            {
                DataStream = new MemoryStream(Encoding.UTF8.GetBytes("through the link")),
            });
        });
        var reason = await RejectedAsync(archive, "link.tar.gz");
        Assert.True(reason.Contains("link", StringComparison.Ordinal), reason);
        Assert.False(File.Exists(outside));
    }

    [Fact]
    public async Task GigabyteOfZeros_IsRefusedAsABomb()
    {
        var path = Path.Combine(server.DataDirectory, "bomb.zip");
        using (var file = File.Create(path))
        using (var zip = new ZipArchive(file, ZipArchiveMode.Create))
        {
            using var entry = zip.CreateEntry("zeros.bin", CompressionLevel.Fastest).Open();
            var zeros = new byte[1 << 20];
            for (var i = 0; i < 1024; i++) entry.Write(zeros);
        }
        var archive = await File.ReadAllBytesAsync(path);
        File.Delete(path);
        Assert.True(archive.Length < 16 << 20);
        Assert.Contains("bomb", await RejectedAsync(archive, "bomb.zip"));
    }

    [Fact]
    public async Task TruncatedArchive_IsRejected()
    {
        var big = UploadIntents.Site("ok");
        big["data.bin"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(200_000));
        var whole = UploadIntents.TarGz(big);
        Assert.Contains("not a readable", await RejectedAsync(whole[..(whole.Length / 2)], "cut.tar.gz"));
        var zip = UploadIntents.Zip(big);
        Assert.Contains("not a readable", await RejectedAsync(zip[..(zip.Length / 2)], "cut.zip"));
    }

    [Fact]
    public async Task ChecksumMismatch_IsRefusedAtOnce_AndNothingIsStored()
    {
        var archive = UploadIntents.Zip(UploadIntents.Site("ok"));
        var wrong = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("something else")));
        var response = await server.UploadAsync(user.Token, project, archive, "site.zip", new Dictionary<string, string> { ["sha256"] = wrong });
        response.AssertError(422, "rejected");
        Assert.Contains("sha256", response.Json["error"]!["message"]!.GetValue<string>());
        Assert.Empty((await server.GetAsync($"/api/v1/projects/{project}/uploads", user.Token)).Json["data"]!.AsArray());
        Assert.Empty(Directory.EnumerateFileSystemEntries(UploadsDirectory));

        var right = Convert.ToHexStringLower(SHA256.HashData(archive));
        var accepted = (await server.UploadAsync(user.Token, project, archive, "site.zip", new Dictionary<string, string> { ["sha256"] = right }))
            .AssertStatus(201).Json;
        Assert.Equal(right, accepted["sha256"]!.GetValue<string>());
        Assert.Equal(archive.Length, accepted["size"]!.GetValue<long>());
    }

    [Fact]
    public async Task OverTheSizeLimit_Is413_AndNotAnArchive_Is422()
    {
        await using var small = await SlipwayServer.StartAsync(new Dictionary<string, string?>(EngineSettings.Fast) { ["Slipway:Uploads:MaxUploadBytes"] = "100000" });
        var owner = await small.RegisterUserAsync();
        var id = await small.UploadProjectAsync(owner.Token, "small");
        (await small.UploadAsync(owner.Token, id, RandomNumberGenerator.GetBytes(300_000), "big.zip")).AssertError(413, "payload_too_large");
        (await small.UploadAsync(owner.Token, id, Encoding.UTF8.GetBytes("just text"), "notes.zip")).AssertError(422, "rejected");
        (await small.PostAsync($"/api/v1/projects/{id}/uploads", new { file = "x" }, owner.Token)).AssertError(415, "unsupported_media_type");
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(small.DataDirectory, "uploads")));
    }
}
