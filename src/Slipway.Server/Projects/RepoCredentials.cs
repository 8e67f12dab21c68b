using System.Text.RegularExpressions;
using Slipway.Server.Builds;
using Slipway.Server.Data;
using Slipway.Server.EnvVars;
using Slipway.Server.Hosting;

namespace Slipway.Server.Projects;

/// <summary>
/// The user-info part of a repository URL (<c>https://deploy:TOKEN@host/r.git</c>) is a credential: it is sealed with the
/// master keys, bound to its project, and <c>repo_url</c> stores the URL with <c>****</c> in its place (what the API shows).
/// Only the clone puts it back. A singleton with its own scopes for the start-up and re-encrypt passes.
/// </summary>
internal sealed class RepoCredentials(IServiceScopeFactory scopes, SecretBox box, DbConnections connections, ILogger<RepoCredentials> logger)
{
    /// <summary>The first part of the associated data: no env var row can have it (theirs start with a project id).</summary>
    private const string Purpose = "repo-credential";

    /// <summary>The URL's own user-info (at its start, not one inside a query), or null.</summary>
    private static Match? UserInfo(string url) => SecretMasker.UrlUserInfo().Match(url) is { Success: true, Index: 0 } match ? match : null;

    /// <summary>The URL carries <c>****</c>, the masked form responses show, as its credential.</summary>
    public static bool HasMaskedCredential(string url) => UserInfo(url)?.Groups["userinfo"].Value == SecretMasker.Hidden;

    /// <summary>
    /// Changes an existing project's URL; true when the credential columns changed. <c>****</c> as the user-info stands for
    /// the stored credential: it is kept when scheme, host and port stay the same, and refused (400) otherwise, since the
    /// credential was given for that server only (or there is none to keep).
    /// </summary>
    public bool Change(Project project, string repoUrl)
    {
        if (!HasMaskedCredential(repoUrl))
        {
            Store(project, repoUrl);
            return true;
        }
        if (project.RepoCredentialSealed is null || !SameServer(project.RepoUrl, repoUrl))
        {
            throw ApiException.Validation("repo_url", MaskedCredentialProblem);
        }
        project.RepoUrl = repoUrl;
        return false;
    }

    public const string MaskedCredentialProblem = "'****' stands for the stored credential, which is kept only for the same scheme, host and port; "
                                                  + "send the credential itself, or a URL without one";

    private static bool SameServer(string a, string b) =>
        Uri.TryCreate(a, UriKind.Absolute, out var x) && Uri.TryCreate(b, UriKind.Absolute, out var y)
        && x.Scheme == y.Scheme && string.Equals(x.IdnHost, y.IdnHost, StringComparison.OrdinalIgnoreCase) && x.Port == y.Port;

    /// <summary>Sets the project's URL: the credential, if any, sealed; the stored URL masked.</summary>
    public void Store(Project project, string repoUrl)
    {
        if (UserInfo(repoUrl) is not { } match)
        {
            (project.RepoUrl, project.RepoCredentialSealed, project.RepoCredentialKeyId) = (repoUrl, null, null);
            return;
        }
        var (sealedCredential, keyId) = box.Seal(match.Groups["userinfo"].Value, Purpose, project.Id, "repo_url");
        project.RepoUrl = Masked(repoUrl, match);
        (project.RepoCredentialSealed, project.RepoCredentialKeyId) = (sealedCredential, keyId);
    }

    /// <summary>The URL to clone, credential included. Throws <see cref="SecretUnavailableException"/> when its key is gone.</summary>
    public string CloneUrl(Project project)
    {
        if (project.RepoCredentialSealed is not { } sealedCredential || project.RepoCredentialKeyId is not { } keyId) return project.RepoUrl;
        var credential = box.Open(sealedCredential, keyId, Purpose, project.Id, "repo_url");
        return UserInfo(project.RepoUrl) is { } match
            ? match.Groups["scheme"].Value + credential + "@" + project.RepoUrl[match.Length..]
            : project.RepoUrl;
    }

    private static string Masked(string url, Match match) => match.Groups["scheme"].Value + SecretMasker.Hidden + "@" + url[match.Length..];

    /// <summary>
    /// Seals the credentials of rows written before they were sealed (at start, after the migrations). On SQLite the
    /// freed bytes are zeroed (<c>secure_delete</c>) and the WAL is checkpointed and truncated, so no old frame keeps them.
    /// </summary>
    public async Task<int> SealPlaintextAsync(CancellationToken ct)
    {
        // Almost always nothing to seal: asked in plain SQL, so the start-up does not wait for EF Core's model.
        if (!await connections.AnyAsync("SELECT 1 FROM projects WHERE repo_credential_key_id IS NULL AND repo_url LIKE '%@%' LIMIT 1", ct)) return 0;
        var result = await SecretReencryption.RunAsync(scopes,
            db => db.Projects.Where(p => p.RepoCredentialKeyId == null && EF.Functions.Like(p.RepoUrl, "%@%")),
            async (db, project, token) =>
            {
                if (UserInfo(project.RepoUrl) is null) return 0;
                var old = project.RepoUrl;
                Store(project, old);
                await PrepareAsync(db, token);
                return await db.Projects.Where(p => p.Id == project.Id && p.RepoUrl == old && p.RepoCredentialKeyId == null)
                    .ExecuteUpdateAsync(s => s.SetProperty(p => p.RepoUrl, project.RepoUrl)
                        .SetProperty(p => p.RepoCredentialSealed, project.RepoCredentialSealed)
                        .SetProperty(p => p.RepoCredentialKeyId, project.RepoCredentialKeyId), token);
            }, _ => { }, ct);
        if (result.Reencrypted == 0) return 0;
        if (connections.Provider == DatabaseProvider.Sqlite)
        {
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<SlipwayDb>().Database.ExecuteSqlRawAsync("PRAGMA wal_checkpoint(TRUNCATE);", ct);
        }
        ProjectLog.CredentialsSealed(logger, result.Reencrypted);
        return result.Reencrypted;
    }

    private async Task PrepareAsync(SlipwayDb db, CancellationToken ct)
    {
        if (connections.Provider != DatabaseProvider.Sqlite) return;
        // The same connection for the pragma and the update that follows it.
        await db.Database.OpenConnectionAsync(ct);
        await db.Database.ExecuteSqlRawAsync("PRAGMA secure_delete = ON;", ct);
    }

    /// <summary>Re-seals every credential not yet under the active key (see <see cref="SecretReencryption"/>); failures are logged by project id.</summary>
    public async Task<ReencryptResult> ReencryptAllAsync(CancellationToken ct)
    {
        var active = box.ActiveKeyId;
        var result = await SecretReencryption.RunAsync(scopes, db => db.Projects.Where(p => p.RepoCredentialKeyId != null && p.RepoCredentialKeyId != active),
            async (db, project, token) =>
            {
                var (old, oldKeyId) = (project.RepoCredentialSealed, project.RepoCredentialKeyId);
                Store(project, CloneUrl(project));
                return await db.Projects.Where(p => p.Id == project.Id && p.RepoCredentialKeyId == oldKeyId && p.RepoCredentialSealed == old)
                    .ExecuteUpdateAsync(s => s.SetProperty(p => p.RepoCredentialSealed, project.RepoCredentialSealed)
                        .SetProperty(p => p.RepoCredentialKeyId, project.RepoCredentialKeyId), token);
            }, project => ProjectLog.ReencryptFailed(logger, project.Id, project.RepoCredentialKeyId!), ct);
        ProjectLog.Reencrypted(logger, result.Reencrypted, active, result.Failed);
        return result;
    }
}

internal static partial class ProjectLog
{
    [LoggerMessage(EventId = 4201, Level = LogLevel.Information, Message = "Sealed the repository credentials of {Count} project(s) stored before they were sealed")]
    public static partial void CredentialsSealed(ILogger logger, int count);

    [LoggerMessage(EventId = 4202, Level = LogLevel.Information,
        Message = "Re-encrypted {Count} repository credential(s) to key '{KeyId}'; {Failed} could not be opened")]
    public static partial void Reencrypted(ILogger logger, int count, string keyId, int failed);

    [LoggerMessage(EventId = 4203, Level = LogLevel.Warning, Message = "The repository credential of project {ProjectId} does not open with key '{KeyId}'; left as it is")]
    public static partial void ReencryptFailed(ILogger logger, string projectId, string keyId);
}

/// <summary>The start-up step that seals credentials stored in plaintext by earlier versions.</summary>
internal sealed class RepoCredentialSealing(RepoCredentials credentials) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => credentials.SealPlaintextAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
