using System.Formats.Tar;
using System.IO.Compression;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Uploads;

/// <summary>The real server killed with SIGKILL while it validates an upload: after a restart the upload is failed, never stuck.</summary>
public sealed class SurvivingAKillMidValidationTests
{
    [Fact]
    public async Task KillDuringValidation_LeavesTheUploadFailed_AfterRestart()
    {
        var data = Directory.CreateTempSubdirectory("slipway-kill-upload-").FullName;
        var settings = new Dictionary<string, string>
        {
            ["Slipway:DataDirectory"] = data, ["Slipway:Auth:Registration"] = "open", ["Slipway:Auth:PasswordIterations"] = "1000",
            // Large and highly compressible: validation takes seconds, long enough to be caught in the middle.
            ["Slipway:Uploads:MaxCompressionRatio"] = "100000",
        };
        if (SlipwayServer.UsePostgres)
        {
            var database = "slipway_test_" + Guid.NewGuid().ToString("N")[..12];
            await using var admin = new Npgsql.NpgsqlConnection(SlipwayServer.PostgresAdminConnection);
            await admin.OpenAsync();
            await using (var create = new Npgsql.NpgsqlCommand($"CREATE DATABASE {database}", admin)) await create.ExecuteNonQueryAsync();
            settings["Slipway:Database:Provider"] = "postgres";
            settings["Slipway:Database:ConnectionString"] = new Npgsql.NpgsqlConnectionStringBuilder(SlipwayServer.PostgresAdminConnection) { Database = database }.ToString();
        }
        var archive = Path.Combine(data, "big.tar.gz");
        await using (var file = File.Create(archive))
        await using (var gzip = new GZipStream(file, CompressionLevel.Fastest))
        await using (var tar = new TarWriter(gzip, TarEntryFormat.Pax))
        {
            for (var i = 0; i < 4; i++)
            {
                await tar.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, $"zeros-{i}.bin") { DataStream = new ZeroStream(256L << 20) });
            }
        }

        string token, uploadId;
        await using (var first = await ServerProcess.StartAsync(settings))
        {
            using var http = new HttpClient { BaseAddress = first.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
            var registered = await (await http.PostAsJsonAsync("/api/v1/auth/register", new { email = "kill@example.test", name = "K", password = "correct horse battery" }))
                .Content.ReadFromJsonAsync<JsonNode>();
            token = registered!["token"]!.GetValue<string>();
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            var project = await (await http.PostAsJsonAsync("/api/v1/projects", new { name = "killed", framework = "static" })).Content.ReadFromJsonAsync<JsonNode>();
            await using var stream = File.OpenRead(archive);
            using var form = new MultipartFormDataContent { { new StreamContent(stream), "file", "big.tar.gz" } };
            var created = await http.PostAsync($"/api/v1/projects/{project!["id"]}/uploads", form);
            Assert.Equal(201, (int)created.StatusCode);
            uploadId = (await created.Content.ReadFromJsonAsync<JsonNode>())!["id"]!.GetValue<string>();
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            string status;
            do
            {
                status = (await http.GetFromJsonAsync<JsonNode>($"/api/v1/uploads/{uploadId}"))!["status"]!.GetValue<string>();
                if (status == "validating") break;
                await Task.Delay(20);
            } while (DateTime.UtcNow < deadline);
            Assert.Equal("validating", status);
            // At once: on a quiet machine a gigabyte validates in a second or two.
            await first.KillAsync();
        }
        Assert.True(Directory.Exists(Path.Combine(data, "uploads", uploadId + ".staging")) || File.Exists(Path.Combine(data, "uploads", uploadId + ".archive")));

        await using var second = await ServerProcess.StartAsync(settings);
        using var again = new HttpClient { BaseAddress = second.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        again.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var upload = await WaitAsync(again, uploadId);
        Assert.Equal("failed", upload["status"]!.GetValue<string>());
        Assert.Contains("restart", upload["reason"]!.GetValue<string>());
        Assert.False(Directory.Exists(Path.Combine(data, "uploads", uploadId + ".staging")));
        Assert.False(File.Exists(Path.Combine(data, "uploads", uploadId + ".archive")));
        Assert.False(Directory.Exists(Path.Combine(data, "uploads", uploadId)));
        await second.KillAsync();
        Directory.Delete(data, recursive: true);
    }

    private static async Task<JsonNode> WaitAsync(HttpClient http, string uploadId)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var upload = (await http.GetFromJsonAsync<JsonNode>($"/api/v1/uploads/{uploadId}"))!;
            if (upload["status"]!.GetValue<string>() is not ("uploaded" or "validating") || DateTime.UtcNow > deadline) return upload;
            await Task.Delay(50);
        }
    }

    /// <summary>Reads as <paramref name="length"/> zero bytes.</summary>
    private sealed class ZeroStream(long length) : Stream
    {
        private long position;
        public override bool CanRead => true;
        // Seekable, so a TarWriter over a gzip stream can learn its length.
        public override bool CanSeek => true;
        public override bool CanWrite => false;
        public override long Length => length;
        public override long Position { get => position; set => position = value; }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => position + offset,
            _ => length + offset,
        };
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = (int)Math.Min(count, length - position);
            Array.Clear(buffer, offset, n);
            position += n;
            return n;
        }
    }
}
