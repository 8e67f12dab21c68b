using Slipway.Server.Data;

namespace Slipway.Server.EnvVars;

internal sealed record ReencryptResult(int Reencrypted, int Failed);

/// <summary>
/// Server-side uses of stored values: decrypting an environment's variables for a deployment, and moving every value
/// to the active key after a rotation. A singleton with its own scopes, so workers and the command line can use it.
/// </summary>
internal sealed class EnvVarSecrets(IServiceScopeFactory scopes, SecretBox box, ILogger<EnvVarSecrets> logger)
{
    private const int BatchSize = 200;

    /// <summary>Every variable of one environment, decrypted. Throws <see cref="SecretUnavailableException"/> if any fails to open.</summary>
    public async Task<IReadOnlyDictionary<string, string>> DecryptAllAsync(string projectId, string environmentId, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
        var rows = await db.EnvVars.Where(v => v.ProjectId == projectId && v.EnvironmentId == environmentId).ToListAsync(ct);
        return rows.ToDictionary(v => v.Key, v => box.Open(v.Sealed, v.KeyId, v.ProjectId, v.EnvironmentId, v.Key), StringComparer.Ordinal);
    }

    /// <summary>
    /// Re-seals every value not yet under the active key, in batches. Idempotent: values already under the active key
    /// are not touched, so an interrupted pass is finished by running it again. Each row is written only if it still
    /// holds the ciphertext that was read, so a value changed through the API meanwhile is never overwritten.
    /// A value that does not open is counted and logged (by id and name), and the pass goes on.
    /// </summary>
    public async Task<ReencryptResult> ReencryptAllAsync(CancellationToken ct)
    {
        var active = box.ActiveKeyId;
        var reencrypted = 0;
        var failed = 0;
        var after = "";
        while (true)
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<SlipwayDb>();
            var batch = await db.EnvVars.Where(v => v.KeyId != active && string.Compare(v.Id, after) > 0)
                .OrderBy(v => v.Id).Take(BatchSize).ToListAsync(ct);
            if (batch.Count == 0) break;
            after = batch[^1].Id;
            foreach (var row in batch)
            {
                string value;
                try
                {
                    value = box.Open(row.Sealed, row.KeyId, row.ProjectId, row.EnvironmentId, row.Key);
                }
                catch (SecretUnavailableException)
                {
                    EnvVarLog.ReencryptFailed(logger, row.Id, row.Key, row.KeyId);
                    failed++;
                    continue;
                }
                var (sealedValue, keyId) = box.Seal(value, row.ProjectId, row.EnvironmentId, row.Key);
                var old = row.Sealed;
                var oldKeyId = row.KeyId;
                var changed = await db.EnvVars.Where(v => v.Id == row.Id && v.KeyId == oldKeyId && v.Sealed == old)
                    .ExecuteUpdateAsync(s => s.SetProperty(v => v.Sealed, sealedValue).SetProperty(v => v.KeyId, keyId), ct);
                reencrypted += changed;
            }
        }
        EnvVarLog.Reencrypted(logger, reencrypted, active, failed);
        return new ReencryptResult(reencrypted, failed);
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
