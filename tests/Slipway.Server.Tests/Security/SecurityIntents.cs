using System.IO.Compression;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Slipway.Server.Tests.Support;

namespace Slipway.Server.Tests.Security;

/// <summary>SARIF documents built like a scanner writes them, and the calls that upload and read them.</summary>
internal static class SecurityIntents
{
    public static async Task<ApiResponse> UploadSarifAsync(this SlipwayServer server, string token, string repositoryId, string sarif,
        string query = "", bool gzip = false, string mediaType = "application/sarif+json")
    {
        var bytes = Encoding.UTF8.GetBytes(sarif);
        if (gzip) bytes = Gzip(bytes);
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        if (gzip) content.Headers.ContentEncoding.Add("gzip");
        return await server.SendAsync(HttpMethod.Post, $"/api/v1/repositories/{repositoryId}/sarif{query}", content, token);
    }

    public static async Task UseScannersAsync(this SlipwayServer server, string token, string repositoryId, params string[] scanners) =>
        (await server.PatchAsync($"/api/v1/repositories/{repositoryId}", new { security = new { scanners } }, token)).AssertStatus(200);

    public static async Task<JsonArray> FindingsAsync(this SlipwayServer server, string token, string repositoryId, string query = "") =>
        (await server.GetAsync($"/api/v1/repositories/{repositoryId}/findings?limit=100{query}", token)).AssertStatus(200).Json["data"]!.AsArray();

    public static byte[] Gzip(byte[] bytes)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest)) gzip.Write(bytes);
        return output.ToArray();
    }

    public static string Sarif(string tool, IEnumerable<JsonObject> results, string? automationId = null, IEnumerable<JsonObject>? rules = null)
    {
        var run = new JsonObject
        {
            ["tool"] = new JsonObject { ["driver"] = new JsonObject { ["name"] = tool, ["rules"] = new JsonArray([.. (rules ?? []).Select(r => r.DeepClone())]) } },
            ["results"] = new JsonArray([.. results]),
        };
        if (automationId is not null) run["automationDetails"] = new JsonObject { ["id"] = automationId };
        return new JsonObject { ["version"] = "2.1.0", ["runs"] = new JsonArray(run) }.ToJsonString();
    }

    public static JsonObject Rule(string id, string? severity = null, params string[] tags)
    {
        var properties = new JsonObject { ["tags"] = new JsonArray([.. tags.Select(t => (JsonNode)t)]) };
        if (severity is not null) properties["security-severity"] = severity;
        return new JsonObject
        {
            ["id"] = id, ["name"] = id.Replace('/', '-'), ["shortDescription"] = new JsonObject { ["text"] = $"Rule {id}" },
            ["help"] = new JsonObject { ["text"] = $"How to fix {id}" }, ["properties"] = properties,
        };
    }

    public static JsonObject Result(string ruleId, string path, int line, string fingerprint, string level = "warning", string? snippet = null)
    {
        var region = new JsonObject { ["startLine"] = line, ["startColumn"] = 1 };
        if (snippet is not null) region["snippet"] = new JsonObject { ["text"] = snippet };
        return new JsonObject
        {
            ["ruleId"] = ruleId, ["level"] = level, ["message"] = new JsonObject { ["text"] = $"{ruleId} in {path}" },
            ["locations"] = new JsonArray(new JsonObject
            {
                ["physicalLocation"] = new JsonObject { ["artifactLocation"] = new JsonObject { ["uri"] = path }, ["region"] = region },
            }),
            ["partialFingerprints"] = new JsonObject { ["primaryLocationLineHash"] = fingerprint },
        };
    }
}
