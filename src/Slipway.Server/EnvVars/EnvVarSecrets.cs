using Slipway.Server.Data;

namespace Slipway.Server.EnvVars;

/// <summary>
/// Server-side uses of stored values: decrypting an environment's variables for a deployment, and moving every value
/// to the active key after a rotation. A singleton with its own scopes, so workers and the command line can use it.
/// </summary>
internal sealed class EnvVarSecrets(IServiceScopeFactory scopes, SecretBox box, ILogger<EnvVarSecrets> logger)
{
    /// <summary>Every variable of one environment, decrypted. Throws <see cref="SecretUnavailableException"/> if any fails to open.</summary>
    public async Task<IReadOnlyDictionary<string, string>> DecryptAllAsync(string projectId, string environmentId, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
        var rows = await db.EnvVars.Where(v => v.ProjectId == projectId && v.EnvironmentId == environmentId).ToListAsync(ct);
        return rows.ToDictionary(v => v.Key, v => box.Open(v.Sealed, v.KeyId, v.ProjectId, v.EnvironmentId, v.Key), StringComparer.Ordinal);
    }

    /// <summary>Re-seals every value not yet under the active key (see <see cref="SecretReencryption"/>); failures are logged by id and name.</summary>
    public async Task<ReencryptResult> ReencryptAllAsync(CancellationToken ct)
    {
        var active = box.ActiveKeyId;
        var result = await SecretReencryption.RunAsync(scopes, db => db.EnvVars.Where(v => v.KeyId != active), async (db, row, token) =>
        {
            var (sealedValue, keyId) = box.Seal(box.Open(row.Sealed, row.KeyId, row.ProjectId, row.EnvironmentId, row.Key), row.ProjectId, row.EnvironmentId, row.Key);
            var (old, oldKeyId) = (row.Sealed, row.KeyId);
            return await db.EnvVars.Where(v => v.Id == row.Id && v.KeyId == oldKeyId && v.Sealed == old)
                .ExecuteUpdateAsync(s => s.SetProperty(v => v.Sealed, sealedValue).SetProperty(v => v.KeyId, keyId), token);
        }, row => EnvVarLog.ReencryptFailed(logger, row.Id, row.Key, row.KeyId), ct);
        EnvVarLog.Reencrypted(logger, result.Reencrypted, active, result.Failed);
        return result;
    }
}

internal static partial class EnvVarLog
{
    [LoggerMessage(EventId = 4101, Level = LogLevel.Information,
        Message = "Re-encrypted {Count} env var value(s) to key '{KeyId}'; {Failed} could not be opened")]
    public static partial void Reencrypted(ILogger logger, int count, string keyId, int failed);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Warning,
        Message = "Env var {EnvVarId} ('{Name}') does not open with key '{KeyId}'; left as it is")]
    public static partial void ReencryptFailed(ILogger logger, string envVarId, string name, string keyId);

    [LoggerMessage(EventId = 4103, Level = LogLevel.Information, Message = "Env var '{Name}' set in environment {EnvironmentId} of project {ProjectId}")]
    public static partial void Set(ILogger logger, string name, string environmentId, string projectId);

    [LoggerMessage(EventId = 4104, Level = LogLevel.Information, Message = "Env var '{Name}' deleted from environment {EnvironmentId} of project {ProjectId}")]
    public static partial void Deleted(ILogger logger, string name, string environmentId, string projectId);
}
