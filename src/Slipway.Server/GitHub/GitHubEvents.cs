using System.Text.Json;
using System.Text.RegularExpressions;
using Slipway.Server.Hosting;
using Slipway.Server.Projects;

namespace Slipway.Server.GitHub;

/// <summary>One deployment a delivery asks for.</summary>
internal sealed record GitHubTarget(ProjectEnvironment Environment, string Branch, string CommitSha, string? CommitMessage);

/// <summary>What a verified delivery means for the project: deployments to queue, or why there are none.</summary>
internal sealed record GitHubDecision(GitHubDeliveryStatus Status, string? Reason, string Message, IReadOnlyList<GitHubTarget> Targets)
{
    public static GitHubDecision Ignore(string reason, string message) => new(GitHubDeliveryStatus.Ignored, reason, message, []);
}

/// <summary>Stable codes for <c>reason</c> in an ignored delivery's answer.</summary>
internal static class IgnoredBecause
{
    public const string EventNotHandled = "event_not_handled";
    public const string TagPush = "tag_push";
    public const string BranchDeleted = "branch_deleted";
    public const string NotABranch = "not_a_branch";
    public const string RepositoryMismatch = "repository_mismatch";
    public const string NoMatchingEnvironment = "no_matching_environment";
    public const string AutoDeployDisabled = "auto_deploy_disabled";
    public const string PullRequestAction = "pull_request_action";
    public const string ForkPullRequest = "fork_pull_request";
    public const string NoPreviewEnvironment = "no_preview_environment";
}

/// <summary>
/// Reads GitHub's <c>push</c>, <c>pull_request</c> and <c>ping</c> payloads (only the fields used; GitHub adds
/// fields freely) and decides, from the project and its environments alone, what a delivery deploys:
/// <list type="bullet">
/// <item>a push to <c>refs/heads/B</c> deploys its <c>after</c> commit to every environment whose effective branch is
/// B and whose effective <c>auto_deploy</c> is on;</item>
/// <item>tag pushes, branch deletions and pushes to other refs deploy nothing;</item>
/// <item>a pull request <c>opened</c>, <c>synchronize</c>d or <c>reopened</c> from a branch of the same repository
/// deploys its head commit to the project's environment named <c>preview</c>, when there is one (a fork's code is never
/// built with the project's env vars);</item>
/// <item>when the project's <c>repo_url</c> is on the same host as the payload's repository, the two must name the same
/// repository (owner/name, case-insensitive, <c>.git</c> ignored); a project whose repository lives elsewhere (a
/// mirror, a local path) is matched on the hook's secret alone.</item>
/// </list>
/// </summary>
internal static partial class GitHubEvents
{
    public const string Push = "push";
    public const string PullRequest = "pull_request";
    public const string Ping = "ping";
    public const string PreviewEnvironment = "preview";
    private const int MaxMessageLength = 1024;

    private static readonly string[] DeployingActions = ["opened", "synchronize", "reopened"];

    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex FullSha();

    [GeneratedRegex(@"^[^@/\s]+@(?<host>[^:/\s]+):(?<path>[^\s]+)$")]
    private static partial Regex ScpStyle();

    public static GitHubDecision Decide(string eventName, JsonElement payload, Project project, IReadOnlyList<ProjectEnvironment> environments) =>
        eventName switch
        {
            Ping => new GitHubDecision(GitHubDeliveryStatus.Pong, null,
                Text(payload, "zen") is { Length: > 0 } zen ? $"pong: {zen}" : "pong", []),
            Push => DecidePush(payload, project, environments),
            PullRequest => DecidePullRequest(payload, project, environments),
            _ => GitHubDecision.Ignore(IgnoredBecause.EventNotHandled,
                $"The '{eventName}' event is not used: Slipway deploys on push and pull_request events."),
        };

    private static GitHubDecision DecidePush(JsonElement payload, Project project, IReadOnlyList<ProjectEnvironment> environments)
    {
        var gitRef = Text(payload, "ref") ?? throw ApiException.Validation("ref", "a push payload must have a 'ref' string");
        if (RepositoryMismatch(project, payload) is { } mismatch) return mismatch;
        if (gitRef.StartsWith("refs/tags/", StringComparison.Ordinal))
        {
            return GitHubDecision.Ignore(IgnoredBecause.TagPush, $"'{gitRef}' is a tag: tags are not deployed, branch pushes are.");
        }
        if (Flag(payload, "deleted"))
        {
            return GitHubDecision.Ignore(IgnoredBecause.BranchDeleted, $"'{gitRef}' was deleted: there is nothing to deploy.");
        }
        if (!gitRef.StartsWith("refs/heads/", StringComparison.Ordinal) || !ProjectRules.IsRefName(gitRef["refs/heads/".Length..]))
        {
            return GitHubDecision.Ignore(IgnoredBecause.NotABranch, $"'{gitRef}' is not a branch.");
        }
        var branch = gitRef["refs/heads/".Length..];
        var sha = Text(payload, "after");
        if (sha is null || !FullSha().IsMatch(sha)) throw ApiException.Validation("after", "must be the pushed commit's 40 lowercase hex SHA");
        var headCommit = payload.TryGetProperty("head_commit", out var head) && head.ValueKind == JsonValueKind.Object ? head : (JsonElement?)null;
        var message = headCommit is { } commit && Text(commit, "id") == sha ? Subject(Text(commit, "message")) : null;

        // A project without a branch deploys the repository's default one, which the payload names.
        var defaultBranch = payload.TryGetProperty("repository", out var repository) && repository.ValueKind == JsonValueKind.Object
            ? Text(repository, "default_branch") : null;
        var tracking = environments.Where(e => (ProjectRules.Blank(e.Branch ?? project.Branch) ?? defaultBranch) == branch).OrderBy(e => e.Id, StringComparer.Ordinal).ToList();
        if (tracking.Count == 0)
        {
            return GitHubDecision.Ignore(IgnoredBecause.NoMatchingEnvironment, $"No environment of this project deploys the branch '{branch}'.");
        }
        var automatic = tracking.Where(e => e.AutoDeploy ?? project.AutoDeploy).ToList();
        if (automatic.Count == 0)
        {
            return GitHubDecision.Ignore(IgnoredBecause.AutoDeployDisabled,
                $"auto_deploy is off for every environment that deploys '{branch}' ({string.Join(", ", tracking.Select(e => e.Name))}).");
        }
        return new GitHubDecision(GitHubDeliveryStatus.Accepted, null,
            $"Queued {sha[..7]} of '{branch}' for {string.Join(", ", automatic.Select(e => e.Name))}.",
            automatic.Select(e => new GitHubTarget(e, branch, sha, message)).ToList());
    }

    private static GitHubDecision DecidePullRequest(JsonElement payload, Project project, IReadOnlyList<ProjectEnvironment> environments)
    {
        var action = Text(payload, "action") ?? throw ApiException.Validation("action", "a pull_request payload must have an 'action' string");
        if (RepositoryMismatch(project, payload) is { } mismatch) return mismatch;
        if (!DeployingActions.Contains(action))
        {
            return GitHubDecision.Ignore(IgnoredBecause.PullRequestAction,
                $"Pull request action '{action}' deploys nothing (only opened, synchronize and reopened do).");
        }
        if (!payload.TryGetProperty("pull_request", out var pull) || pull.ValueKind != JsonValueKind.Object
            || !pull.TryGetProperty("head", out var head) || head.ValueKind != JsonValueKind.Object
            || !pull.TryGetProperty("base", out var @base) || @base.ValueKind != JsonValueKind.Object)
        {
            throw ApiException.Validation("pull_request", "must hold 'head' and 'base' objects");
        }
        var headRepository = head.TryGetProperty("repo", out var hr) && hr.ValueKind == JsonValueKind.Object ? Text(hr, "full_name") : null;
        var baseRepository = @base.TryGetProperty("repo", out var br) && br.ValueKind == JsonValueKind.Object ? Text(br, "full_name") : null;
        if (headRepository is null || !string.Equals(headRepository, baseRepository, StringComparison.OrdinalIgnoreCase))
        {
            return GitHubDecision.Ignore(IgnoredBecause.ForkPullRequest,
                "The pull request comes from another repository (a fork): its code is not built with this project's secrets.");
        }
        var preview = environments.FirstOrDefault(e => e.Name == PreviewEnvironment);
        if (preview is null)
        {
            return GitHubDecision.Ignore(IgnoredBecause.NoPreviewEnvironment,
                $"Pull requests deploy to an environment named '{PreviewEnvironment}', and this project has none.");
        }
        if (!(preview.AutoDeploy ?? project.AutoDeploy))
        {
            return GitHubDecision.Ignore(IgnoredBecause.AutoDeployDisabled, $"auto_deploy is off for the '{PreviewEnvironment}' environment.");
        }
        var branch = Text(head, "ref");
        var sha = Text(head, "sha");
        if (branch is null || !ProjectRules.IsRefName(branch)) throw ApiException.Validation("pull_request.head.ref", "must be a branch name");
        if (sha is null || !FullSha().IsMatch(sha)) throw ApiException.Validation("pull_request.head.sha", "must be a 40 lowercase hex SHA");
        var number = pull.TryGetProperty("number", out var n) && n.ValueKind == JsonValueKind.Number ? $"#{n.GetRawText()} " : "";
        return new GitHubDecision(GitHubDeliveryStatus.Accepted, null,
            $"Queued {sha[..7]} of pull request {number}('{branch}') for {PreviewEnvironment}.", [new GitHubTarget(preview, branch, sha, null)]);
    }

    private static GitHubDecision? RepositoryMismatch(Project project, JsonElement payload)
    {
        if (!payload.TryGetProperty("repository", out var repository) || repository.ValueKind != JsonValueKind.Object) return null;
        var fullName = Text(repository, "full_name");
        var sent = Locate(Text(repository, "html_url") ?? "");
        var ours = Locate(project.RepoUrl);
        if (fullName is null || sent is null || ours is null) return null;
        if (!string.Equals(sent.Value.Host, ours.Value.Host, StringComparison.OrdinalIgnoreCase)) return null;
        return string.Equals(ours.Value.Path, fullName, StringComparison.OrdinalIgnoreCase)
            ? null
            : GitHubDecision.Ignore(IgnoredBecause.RepositoryMismatch,
                $"The delivery is for {fullName}, but this project deploys {ours.Value.Path}.");
    }

    /// <summary>
    /// Host and <c>owner/name</c> of a repository URL (<c>https://host/owner/name(.git)</c>, <c>ssh://…</c>,
    /// <c>git@host:owner/name.git</c>); null for local paths and anything else that names no hosted repository.
    /// </summary>
    internal static (string Host, string Path)? Locate(string url)
    {
        string host;
        string path;
        if (ScpStyle().Match(url) is { Success: true } scp)
        {
            host = scp.Groups["host"].Value;
            path = scp.Groups["path"].Value;
        }
        else if (Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "https" or "http" or "ssh" or "git" && uri.Host.Length > 0)
        {
            host = uri.Host;
            path = Uri.UnescapeDataString(uri.AbsolutePath);
        }
        else
        {
            return null;
        }
        path = path.Trim('/');
        if (path.EndsWith(".git", StringComparison.OrdinalIgnoreCase)) path = path[..^4];
        path = path.TrimEnd('/');
        return path.Length == 0 ? null : (host.ToLowerInvariant(), path);
    }

    /// <summary>The first line of a commit message, at most 1024 characters (the worker records the same subject).</summary>
    private static string? Subject(string? message)
    {
        if (message is null) return null;
        var line = message.Split('\n', 2)[0].TrimEnd('\r').Trim();
        return line.Length > MaxMessageLength ? line[..MaxMessageLength] : line;
    }

    internal static string? Text(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;

    private static bool Flag(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.True;
}
