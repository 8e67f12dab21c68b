using System.Text.RegularExpressions;
using Slipway.Server.Runtime;

namespace Slipway.Server.Builds;

/// <summary>
/// Checks a repository out with the git CLI. Every value from the user travels as its own argument (never through a
/// shell) and after <c>--</c>, so a URL or branch can never become an option. Git never prompts: no terminal, an
/// askpass that answers nothing, ssh in batch mode, the server's own credential helpers switched off.
/// </summary>
internal sealed partial class GitSource(BuildOptions options, TimeProvider time, ILogger<GitSource> logger)
{
    private static readonly Dictionary<string, string> GitEnvironment = new(StringComparer.Ordinal)
    {
        ["GIT_TERMINAL_PROMPT"] = "0",
        ["GIT_ASKPASS"] = "/bin/true",
        ["SSH_ASKPASS"] = "/bin/true",
        ["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes -o ConnectTimeout=30",
        ["GIT_CONFIG_NOSYSTEM"] = "1",
    };

    // Only real transports: never ext:: (runs commands) or anything a future git might add.
    private static readonly string[] GlobalArguments =
    [
        "-c", "core.askPass=", "-c", "credential.helper=", "-c", "advice.detachedHead=false", "-c", "init.defaultBranch=main",
        "-c", "protocol.allow=never", "-c", "protocol.https.allow=always", "-c", "protocol.http.allow=always",
        "-c", "protocol.ssh.allow=always", "-c", "protocol.git.allow=always", "-c", "protocol.file.allow=always",
    ];

    /// <summary>
    /// Checks out <paramref name="commitSha"/>, else the tip of <paramref name="branch"/>; an empty branch is the repository's
    /// own default (its <c>HEAD</c>), whose name the checkout returns.
    /// </summary>
    public async Task<SourceCheckout> CheckoutAsync(string repoUrl, string branch, string? commitSha, string workDirectory, LineSink log,
        CancellationToken ct)
    {
        var shown = SecretMasker.MaskUrlCredentials(repoUrl);
        Validate(repoUrl, branch, commitSha, shown);
        var sha = commitSha?.ToLowerInvariant();
        var directory = Path.GetFullPath(workDirectory);
        if (Directory.Exists(directory) && Directory.EnumerateFileSystemEntries(directory).Any())
            throw new InvalidOperationException($"The work directory {directory} is not empty.");
        Directory.CreateDirectory(directory);

        using var deadline = new CancellationTokenSource(options.CloneTimeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, deadline.Token);
        var token = linked.Token;
        try
        {
            log("system", $"Cloning {shown} at {sha ?? (branch.Length == 0 ? "its default branch" : branch)}");
            if (sha is null) await CloneBranchAsync(repoUrl, branch, directory, shown, token);
            else await CheckoutCommitAsync(repoUrl, sha, directory, shown, log, token);
            if (branch.Length == 0) branch = await DefaultBranchAsync(repoUrl, directory, sha is null, token);

            var head = (await GitAsync(["rev-parse", "HEAD"], directory, token)).Single();
            var subject = (await GitAsync(["log", "-1", "--format=%s"], directory, token)) is [var first, ..] ? first : "";
            if (SecretMasker.HasUrlCredentials(repoUrl) && Directory.Exists(Path.Combine(directory, ".git", "refs", "remotes", "origin")))
            {
                // The clone stored the URL with its token in .git/config; the work directory should not keep it.
                await GitAsync(["remote", "remove", "origin"], directory, token);
            }
            log("system", $"Checked out {head[..7]}: {subject}");
            BuildsLog.CheckedOut(logger, shown, head);
            return new SourceCheckout(directory, head, subject, branch);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            throw new GitSourceException(SourceFailure.TimedOut,
                $"Cloning {shown} timed out after {options.CloneTimeout.TotalSeconds:0} s.");
        }
    }

    /// <summary>Whether <paramref name="patchFile"/> applies cleanly to the checkout in <paramref name="directory"/>; else git's reason.</summary>
    public static async Task<string?> PatchProblemAsync(string directory, string patchFile, CancellationToken ct)
    {
        var result = await RunAsync(["apply", "--check", "--", patchFile], directory, ct);
        return result.ExitCode == 0 ? null : Summary(result.Lines);
    }

    /// <summary>
    /// Checks out <paramref name="baseCommit"/>, applies the patch, commits it as Slipway and pushes the commit as the new
    /// branch <paramref name="branch"/> (never over an existing one); returns the new commit's SHA.
    /// </summary>
    public async Task<string> PushPatchAsync(string repoUrl, string baseCommit, string branch, string patchFile, string message, string workDirectory,
        CancellationToken ct)
    {
        var shown = SecretMasker.MaskUrlCredentials(repoUrl);
        if (!BranchPattern().IsMatch(branch)) throw new GitSourceException(SourceFailure.InvalidInput, $"'{branch}' is not a valid branch name.");
        await CheckoutAsync(repoUrl, branch, baseCommit, workDirectory, (_, _) => { }, ct);
        var apply = await RunAsync(["apply", "--index", "--", patchFile], workDirectory, ct);
        if (apply.ExitCode != 0) throw new GitSourceException(SourceFailure.InvalidInput, $"The fix no longer applies to {baseCommit[..7]}: {Summary(apply.Lines)}");
        await GitAsync(["-c", "user.name=Slipway", "-c", "user.email=slipway@localhost", "commit", "--quiet", "--no-verify", "-m", message], workDirectory, ct);
        var sha = (await GitAsync(["rev-parse", "HEAD"], workDirectory, ct)).Single();
        var push = await RunAsync(["push", "--quiet", "--", repoUrl, $"HEAD:refs/heads/{branch}"], workDirectory, ct);
        if (push.ExitCode != 0) throw new GitSourceException(SourceFailure.Unreachable, $"Could not push the branch {branch} to {shown}: {Summary(push.Lines)}");
        return sha;
    }

    private static async Task CloneBranchAsync(string repoUrl, string branch, string directory, string shown, CancellationToken ct)
    {
        string[] which = branch.Length == 0 ? [] : ["--branch", branch];
        var result = await RunAsync(["clone", "--quiet", "--depth", "1", .. which, "--single-branch", "--no-tags", "--", repoUrl, directory],
            Parent(directory), ct);
        // Git succeeds without a checkout when the remote's HEAD names a branch that has no commits (or the repository none at all).
        if (result.ExitCode == 0 && result.Lines.Any(l => l.Contains("cloned an empty repository", StringComparison.Ordinal)
                || l.Contains("remote HEAD refers to nonexistent ref", StringComparison.Ordinal)))
            throw new GitSourceException(SourceFailure.UnknownBranch,
                $"The default branch (HEAD) of {shown} has no commits: push it, or set the project's branch.");
        if (result.ExitCode == 0) return;
        if (result.Lines.Any(l => l.Contains("Remote branch", StringComparison.Ordinal) && l.Contains("not found", StringComparison.Ordinal)))
            throw new GitSourceException(SourceFailure.UnknownBranch, $"The branch '{branch}' does not exist in {shown}.");
        throw Unreachable(shown, result.Lines);
    }

    /// <summary>
    /// Fetches exactly the commit when the server allows it (GitHub, GitLab and git's protocol v2 do, for any reachable
    /// commit); otherwise falls back to a full clone, so a commit that is no longer a branch tip still works.
    /// </summary>
    private static async Task CheckoutCommitAsync(string repoUrl, string sha, string directory, string shown, LineSink log, CancellationToken ct)
    {
        if (sha.Length == 40)
        {
            var init = await RunAsync(["init", "--quiet", "--", directory], Parent(directory), ct);
            if (init.ExitCode != 0) throw new InvalidOperationException("git init failed: " + string.Join(' ', init.Lines));
            var fetch = await RunAsync(["fetch", "--quiet", "--depth", "1", "--no-tags", "--", repoUrl, sha], directory, ct);
            if (fetch.ExitCode == 0)
            {
                var checkout = await RunAsync(["checkout", "--quiet", "--detach", "FETCH_HEAD"], directory, ct);
                if (checkout.ExitCode == 0) return;
            }
            log("system", "The server did not serve the commit on its own; fetching the full history");
            EmptyDirectory(directory);
        }

        var clone = await RunAsync(["clone", "--quiet", "--no-checkout", "--", repoUrl, directory], Parent(directory), ct);
        if (clone.ExitCode != 0) throw Unreachable(shown, clone.Lines);
        var known = await RunAsync(["rev-parse", "--verify", "--quiet", "--end-of-options", sha + "^{commit}"], directory, ct);
        if (known.ExitCode != 0)
            throw new GitSourceException(SourceFailure.UnknownCommit, $"The commit {sha} does not exist in {shown}.");
        var resolved = known.Lines.First(l => l.Length == 40);
        var detach = await RunAsync(["checkout", "--quiet", "--detach", resolved], directory, ct);
        if (detach.ExitCode != 0) throw new InvalidOperationException("git checkout failed: " + Summary(detach.Lines));
    }

    /// <summary>
    /// The name of the repository's default branch: a clone of it has it as its own HEAD; for a commit checkout the remote is
    /// asked (<c>ls-remote --symref</c>). Empty when the remote does not say (a server without symref support).
    /// </summary>
    private static async Task<string> DefaultBranchAsync(string repoUrl, string directory, bool clonedHead, CancellationToken ct)
    {
        if (clonedHead)
        {
            var local = await RunAsync(["symbolic-ref", "--quiet", "--short", "HEAD"], directory, ct);
            return local.ExitCode == 0 && local.Lines is [var name, ..] && BranchPattern().IsMatch(name) ? name : "";
        }
        var remote = await RunAsync(["ls-remote", "--symref", "--", repoUrl, "HEAD"], directory, ct);
        var symref = remote.ExitCode == 0 ? remote.Lines.FirstOrDefault(l => l.StartsWith("ref: refs/heads/", StringComparison.Ordinal)) : null;
        var branch = symref?["ref: refs/heads/".Length..].Split('\t')[0] ?? "";
        return BranchPattern().IsMatch(branch) ? branch : "";
    }

    private static void Validate(string repoUrl, string branch, string? commitSha, string shown)
    {
        if (string.IsNullOrWhiteSpace(repoUrl) || repoUrl.Any(char.IsControl))
            throw new GitSourceException(SourceFailure.InvalidInput, "The repository URL is empty or holds control characters.");
        if (commitSha is not null && !CommitPattern().IsMatch(commitSha))
            throw new GitSourceException(SourceFailure.InvalidInput, $"'{commitSha}' is not a commit SHA (4 to 40 hex digits).");
        if (commitSha is null && branch.Length > 0 && !BranchPattern().IsMatch(branch))
            throw new GitSourceException(SourceFailure.InvalidInput, $"'{branch}' is not a valid branch name for {shown}.");
    }

    private static GitSourceException Unreachable(string shown, IReadOnlyList<string> lines) =>
        new(SourceFailure.Unreachable, $"Could not read the repository {shown}: {Summary(lines)}");

    /// <summary>Git's own reason (its last fatal/error line), with credentials masked.</summary>
    private static string Summary(IReadOnlyList<string> lines)
    {
        var reason = lines.LastOrDefault(l => l.StartsWith("fatal:", StringComparison.Ordinal))
            ?? lines.LastOrDefault(l => l.StartsWith("error:", StringComparison.Ordinal))
            ?? lines.LastOrDefault(l => l.Length > 0)
            ?? "git failed without saying why";
        return SecretMasker.MaskUrlCredentials(reason.Trim());
    }

    private static string Parent(string directory) => Path.GetDirectoryName(directory) ?? directory;

    private static void EmptyDirectory(string directory)
    {
        foreach (var entry in new DirectoryInfo(directory).EnumerateFileSystemInfos())
        {
            if (entry is DirectoryInfo dir && dir.LinkTarget is null) dir.Delete(recursive: true);
            else entry.Delete();
        }
    }

    private static async Task<IReadOnlyList<string>> GitAsync(IReadOnlyList<string> arguments, string directory, CancellationToken ct)
    {
        var result = await RunAsync(arguments, directory, ct);
        if (result.ExitCode != 0) throw new InvalidOperationException($"git {arguments[0]} failed: {Summary(result.Lines)}");
        return result.Lines;
    }

    private sealed record GitResult(int ExitCode, IReadOnlyList<string> Lines);

    private static async Task<GitResult> RunAsync(IReadOnlyList<string> arguments, string directory, CancellationToken ct)
    {
        var lines = new List<string>();
        LineSink collect = (_, line) =>
        {
            lock (lines) lines.Add(line);
        };
        await using var group = ProcessGroup.StartProgram("git", [.. GlobalArguments, .. arguments], directory, GitEnvironment, collect);
        try
        {
            var code = await group.Exited.WaitAsync(ct);
            group.KillAll();
            await group.OutputClosed.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            lock (lines) return new GitResult(code, [.. lines]);
        }
        catch (OperationCanceledException)
        {
            await group.StopAsync(TimeSpan.FromSeconds(1));
            throw;
        }
    }

    [GeneratedRegex("^[0-9a-fA-F]{4,40}$")]
    private static partial Regex CommitPattern();

    // A conservative subset of git-check-ref-format: no leading '-', no spaces, no '..', none of ~^:?*[\ or control characters.
    [GeneratedRegex(@"^(?!-)(?!.*\.\.)(?!.*@\{)(?!.*//)(?!/)(?!.*/$)(?!.*\.lock$)(?!.*\.$)[^\s~^:?*\[\\\x00-\x1f\x7f]{1,255}$")]
    private static partial Regex BranchPattern();
}
