using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Mvc;
using Slipway.Server.Auth;
using Slipway.Server.Data;
using Slipway.Server.Hosting;
using Slipway.Server.Projects;
using Slipway.Server.Workspaces;

namespace Slipway.Server.EnvVars;

/// <summary><c>value</c> is a <see cref="JsonElement"/> so a number or object is a field error on <c>value</c>, not unreadable JSON.</summary>
internal sealed record SetEnvVarRequest(string? ProjectId, string? Key, JsonElement? Value, string? Environment);

internal sealed record DeleteEnvVarRequest(string? ProjectId, string? Key, string? Environment);

/// <summary>Names only: no response ever carries a value.</summary>
internal sealed record EnvVarResponse(string Id, string ProjectId, string Environment, string Key, bool HasValue, DateTime CreatedAt, DateTime UpdatedAt)
{
    public static EnvVarResponse From(EnvVar v, string environment) =>
        new(v.Id, v.ProjectId, environment, v.Key, true, v.CreatedAt, v.UpdatedAt);
}

internal static partial class EnvVarEndpoints
{
    public const int MaxKeyLength = 255;
    public const int MaxValueBytes = 64 * 1024;
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static WebApplicationBuilder AddEnvVars(this WebApplicationBuilder builder)
    {
        // Built now, not on first use: a malformed or missing key stops the server at start, not at the first deployment.
        builder.Services.AddSingleton(SecretBox.FromConfiguration(builder.Configuration));
        builder.Services.AddSingleton<EnvVarSecrets>();
        return builder;
    }

    public static IEndpointRouteBuilder MapEnvVarEndpoints(this IEndpointRouteBuilder app)
    {
        var env = app.MapGroup("/api/v1/env").WithTags("Environment variables");
        env.MapPost("/", SetAsync).RequireScope(Scopes.EnvWrite);
        env.MapGet("/", ListAsync).RequireScope(Scopes.EnvRead);
        env.MapDelete("/", DeleteAsync).RequireScope(Scopes.EnvWrite);
        return app;
    }

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]*\z")]
    private static partial Regex KeyPattern();

    /// <summary>Creates (201) or replaces (200) a value; the response is the same either way and never holds the value.</summary>
    private static async Task<Results<Created<EnvVarResponse>, Ok<EnvVarResponse>>> SetAsync(SetEnvVarRequest body, Caller caller,
        Access access, SlipwayDb db, SecretBox box, TimeProvider time, ILoggerFactory loggers, CancellationToken ct)
    {
        var v = new Validator().Required(body.ProjectId, "project_id");
        CheckKey(v, body.Key);
        var value = CheckValue(v, body.Value);
        v.ThrowIfInvalid();
        var (project, _) = await access.ProjectAsync(caller, body.ProjectId, Need.Write, ct);
        var environment = await EnvironmentEndpoints.ByNameAsync(db, project.Id, body.Environment, ct);
        var key = body.Key!;
        var (sealedValue, keyId) = box.Seal(value!, project.Id, environment.Id, key);
        var now = time.UtcNowMs();
        var logger = loggers.CreateLogger("Slipway.EnvVars");

        var existing = await db.EnvVars.FirstOrDefaultAsync(x => x.EnvironmentId == environment.Id && x.Key == key, ct);
        if (existing is null)
        {
            var created = new EnvVar
            {
                Id = Ids.New(time), ProjectId = project.Id, EnvironmentId = environment.Id, Key = key, Sealed = sealedValue, KeyId = keyId,
                CreatedAt = now, UpdatedAt = now,
            };
            db.EnvVars.Add(created);
            try
            {
                await db.SaveChangesAsync(ct);
                EnvVarLog.Set(logger, key, environment.Id, project.Id);
                return TypedResults.Created((string?)null, EnvVarResponse.From(created, environment.Name));
            }
            catch (DbUpdateException ex) when (DbExtensions.IsUniqueViolation(ex))
            {
                // A concurrent request created it first: this one becomes the update, as if it had come second.
                db.ChangeTracker.Clear();
                existing = await db.EnvVars.FirstOrDefaultAsync(x => x.EnvironmentId == environment.Id && x.Key == key, ct)
                           ?? throw ApiException.Conflict($"Env var '{key}' was changed concurrently; retry.");
            }
        }
        var updated = await db.EnvVars.Where(x => x.Id == existing.Id)
            .ExecuteUpdateAsync(s => s.SetProperty(x => x.Sealed, sealedValue).SetProperty(x => x.KeyId, keyId).SetProperty(x => x.UpdatedAt, now), ct);
        if (updated == 0) throw ApiException.Conflict($"Env var '{key}' was deleted while being set; retry.");
        existing.UpdatedAt = now;
        EnvVarLog.Set(logger, key, environment.Id, project.Id);
        return TypedResults.Ok(EnvVarResponse.From(existing, environment.Name));
    }

    /// <summary>One environment's variable names (default production), newest first.</summary>
    private static async Task<Page<EnvVarResponse>> ListAsync([FromQuery(Name = "project_id")] string? projectId, string? environment,
        Caller caller, Access access, SlipwayDb db, PageQuery page, CancellationToken ct)
    {
        var (project, _) = await access.ProjectAsync(caller, projectId, Need.Read, ct);
        var env = await EnvironmentEndpoints.ByNameAsync(db, project.Id, environment, ct);
        return await db.EnvVars.Where(x => x.ProjectId == project.Id && x.EnvironmentId == env.Id)
            .ToPageAsync(page, x => EnvVarResponse.From(x, env.Name), ct);
    }

    private static async Task<NoContent> DeleteAsync([FromBody] DeleteEnvVarRequest body, Caller caller, Access access, SlipwayDb db,
        ILoggerFactory loggers, CancellationToken ct)
    {
        var v = new Validator().Required(body.ProjectId, "project_id");
        CheckKey(v, body.Key);
        v.ThrowIfInvalid();
        var (project, _) = await access.ProjectAsync(caller, body.ProjectId, Need.Write, ct);
        var environment = await EnvironmentEndpoints.ByNameAsync(db, project.Id, body.Environment, ct);
        var key = body.Key!;
        var deleted = await db.EnvVars.Where(x => x.EnvironmentId == environment.Id && x.Key == key).ExecuteDeleteAsync(ct);
        if (deleted == 0) throw ApiException.NotFound($"Env var '{key}' not found in environment '{environment.Name}'.");
        var logger = loggers.CreateLogger("Slipway.EnvVars");
        EnvVarLog.Deleted(logger, key, environment.Id, project.Id);
        return TypedResults.NoContent();
    }

    private static void CheckKey(Validator v, string? key) =>
        v.Required(key, "key")
            .MaxLength(key, MaxKeyLength, "key")
            .Check(key is null or "" || KeyPattern().IsMatch(key), "key", "must start with a letter or '_' and hold only letters, digits and '_'");

    /// <summary>
    /// A string of at most 64 KiB as UTF-8 (may be empty). NUL and unpaired surrogates are refused: neither survives
    /// the trip into a process environment, so accepting them would only fail later, at deploy time.
    /// </summary>
    private static string? CheckValue(Validator v, JsonElement? value)
    {
        if (value is not { ValueKind: JsonValueKind.String } element)
        {
            v.Check(value is not null && value.Value.ValueKind != JsonValueKind.Null, "value", "is required")
                .Check(false, "value", "must be a string");
            return null;
        }
        string text;
        try
        {
            // The value is kept as a JsonElement, so its bytes are decoded only here: invalid UTF-8 or an escaped unpaired
            // surrogate is a malformed body, as in the typed string fields of every other request.
            text = element.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw new ApiException(400, "invalid_json", "The value is not valid UTF-8 or holds an unpaired surrogate.");
        }
        int bytes;
        try
        {
            bytes = StrictUtf8.GetByteCount(text);
        }
        catch (ArgumentException)
        {
            v.Check(false, "value", "must be valid Unicode text");
            return null;
        }
        v.Check(bytes <= MaxValueBytes, "value", $"must be at most {MaxValueBytes} bytes as UTF-8")
            .Check(!text.Contains('\0', StringComparison.Ordinal), "value", "must not contain NUL characters");
        return text;
    }
}
