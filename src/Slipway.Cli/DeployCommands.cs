using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Slipway.Cli;

/// <summary><c>deploy</c>, <c>logs</c>, <c>rollback</c>, <c>redeploy</c>, <c>cancel</c>, <c>status</c>/<c>ps</c>.</summary>
internal static class DeployCommands
{
    public static void AddTo(RootCommand root)
    {
        var environment = Commands.EnvironmentOption();
        var noWait = Commands.NoWaitOption();
        var branch = new Option<string?>("--branch") { Description = "Branch to build (default: the environment's)" };
        var commit = new Option<string?>("--commit") { Description = "Commit SHA to build (default: the branch's head)" };
        var upload = new Option<bool>("--upload") { Description = "Upload the current directory (without .git, node_modules and what .slipwayignore or .gitignore excludes) instead of building from the repository" };
        var deploy = new Command("deploy", "Build and release the linked project, showing each phase and the build log").With(environment, branch, commit, upload, noWait);
        deploy.Handle(async (s, p, ct) =>
        {
            if (p.GetValue(upload))
            {
                if (p.GetValue(branch) is not null || p.GetValue(commit) is not null) throw new CliError("--branch and --commit are for repository deploys, not --upload.");
                return await DeployUploadAsync(s, p.GetValue(environment), p.GetValue(noWait), ct);
            }
            var body = new JsonObject { ["project_id"] = s.Project };
            ProjectCommands.AddIfSet(body, "environment", p.GetValue(environment));
            ProjectCommands.AddIfSet(body, "branch", p.GetValue(branch));
            ProjectCommands.AddIfSet(body, "commit_sha", p.GetValue(commit));
            var clock = Stopwatch.StartNew();
            var deployment = await s.Api.PostAsync("deployments", body, ct);
            return await FollowAsync(s, deployment, clock, p.GetValue(noWait), ct);
        });

        var deploymentArgument = new Argument<string?>("deployment") { Description = "Deployment id (default: the project's newest)", Arity = ArgumentArity.ZeroOrOne };
        var deploymentOption = new Option<string?>("--deployment", "-d") { Description = "Deployment id (default: the project's newest)" };
        var follow = new Option<bool>("--follow", "-f") { Description = "Keep streaming until the deployment ends" };
        var runtime = new Option<bool>("--runtime") { Description = "The live release's output instead of a deployment's log" };
        var logs = new Command("logs", "A deployment's build and release log, or the live release's output").With(deploymentArgument, deploymentOption, follow, runtime, environment);
        logs.Handle(async (s, p, ct) =>
        {
            string path;
            if (p.GetValue(runtime))
            {
                path = $"projects/{s.ProjectPath}/logs?environment={Uri.EscapeDataString(p.GetValue(environment) ?? "production")}";
            }
            else
            {
                var id = p.GetValue(deploymentArgument) ?? p.GetValue(deploymentOption)
                    ?? (await s.LatestDeploymentAsync(p.GetValue(environment), ct))["id"]!.GetValue<string>();
                path = $"logs/{Uri.EscapeDataString(id)}";
            }
            return p.GetValue(follow) ? await StreamLogsAsync(s, path, ct) : await PrintLogsAsync(s, path, ct);
        });

        var rollbackTarget = new Argument<string?>("deployment") { Description = "A retained ready deployment to make live again (default: the previous live one)", Arity = ArgumentArity.ZeroOrOne };
        var rollback = new Command("rollback", "Make an earlier release live again, without rebuilding").With(rollbackTarget, environment, noWait);
        rollback.Handle(async (s, p, ct) =>
        {
            var clock = Stopwatch.StartNew();
            var deployment = p.GetValue(rollbackTarget) is { } id
                ? await s.Api.PostAsync($"deployments/{Uri.EscapeDataString(id)}/rollback", null, ct)
                : await s.Api.PostAsync($"projects/{s.ProjectPath}/rollback", Environment(p.GetValue(environment)), ct);
            return await FollowAsync(s, deployment, clock, p.GetValue(noWait), ct);
        });

        var redeploy = new Command("redeploy", "Rebuild the commit of a deployment (default: the newest)").With(deploymentArgument, environment, noWait);
        redeploy.Handle(async (s, p, ct) =>
        {
            var clock = Stopwatch.StartNew();
            var id = p.GetValue(deploymentArgument) ?? (await s.LatestDeploymentAsync(p.GetValue(environment), ct))["id"]!.GetValue<string>();
            var deployment = await s.Api.PostAsync($"deployments/{Uri.EscapeDataString(id)}/redeploy", null, ct);
            return await FollowAsync(s, deployment, clock, p.GetValue(noWait), ct);
        });

        var cancel = new Command("cancel", "Stop a deployment that has not finished (default: the newest)").With(deploymentArgument, environment);
        cancel.Handle(async (s, p, ct) =>
        {
            var id = p.GetValue(deploymentArgument) ?? (await s.LatestDeploymentAsync(p.GetValue(environment), ct))["id"]!.GetValue<string>();
            var deployment = await s.Api.PostAsync($"deployments/{Uri.EscapeDataString(id)}/cancel", null, ct);
            if (s.Output.Json) Output.Print(deployment);
            else s.Output.Say($"Deployment {deployment["id"]} is {deployment["status"]}.");
            return 0;
        });

        var status = new Command("status", "The live release, its process status and the recent deployments").With(environment);
        status.Aliases.Add("ps");
        status.Handle(async (s, p, ct) =>
        {
            var project = await s.Api.GetAsync($"projects/{s.ProjectPath}", ct);
            var env = p.GetValue(environment);
            var recent = await s.Api.GetAsync($"deployments?project_id={Uri.EscapeDataString(project["id"]!.GetValue<string>())}&limit=5"
                                              + (env is null ? "" : "&environment=" + Uri.EscapeDataString(env)), ct);
            if (s.Output.Json)
            {
                Output.Print(new JsonObject { ["project"] = project.DeepClone(), ["deployments"] = recent["data"]!.DeepClone() });
                return 0;
            }
            s.Output.Say($"{project["name"]}  {project["url"]}", "bold");
            s.Output.Say($"live: {project["live_deployment_id"]?.ToString() ?? "none"}  status: {project["live_status"]?.ToString() ?? "-"}");
            s.Output.Table(["deployment", "status", "live", "trigger", "environment", "commit", "created"], recent["data"]!.AsArray().Select(d => new[]
            {
                d!["id"]!.ToString(), d["status"]!.ToString(), d["is_live"]!.GetValue<bool>() ? "yes" : "", d["trigger"]?.ToString(),
                d["environment"]?.ToString(), d["commit_sha"]?.ToString() is { Length: >= 8 } sha ? sha[..8] : null, d["created_at"]?.ToString(),
            }));
            return 0;
        });

        foreach (var command in new[] { deploy, logs, rollback, redeploy, cancel, status }) root.Subcommands.Add(command);
    }

    /// <summary>
    /// <c>deploy --upload</c>: the current directory as a <c>.tar.gz</c> through the uploads API, then, once validated (and
    /// approved, which is automatic unless the project's <c>upload_approval</c> is <c>manual</c>), its deployment followed
    /// like any other.
    /// </summary>
    private static async Task<int> DeployUploadAsync(Session s, string? environment, bool noWait, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var directory = System.Environment.CurrentDirectory;
        var archive = Path.Combine(Path.GetTempPath(), $"slipway-upload-{Guid.NewGuid():N}.tar.gz");
        JsonNode upload;
        try
        {
            int files;
            await using (var output = File.Create(archive)) files = UploadArchive.Write(directory, output);
            s.Output.Say($"Uploading {files} files from {directory} ({new FileInfo(archive).Length / 1024.0:0.#} KiB packed)", "bold");
            var fields = new Dictionary<string, string> { ["environment"] = environment ?? "production" };
            upload = await s.Api.UploadAsync($"projects/{s.ProjectPath}/uploads", fields, archive, ct);
        }
        finally
        {
            File.Delete(archive);
        }
        var id = upload["id"]!.GetValue<string>();
        s.Output.Say($"Uploaded as {id} in {DeployProgress.Seconds(clock.Elapsed)}; validating");
        while (upload["deployment_id"]?.GetValue<string>() is null)
        {
            switch (upload["status"]?.GetValue<string>())
            {
                case "pending_approval":
                    if (s.Output.Json) Output.Print(upload);
                    Output.Error($"Upload {id} is waiting for approval: this project's upload_approval is manual. An owner or admin approves it "
                                 + $"(POST /api/v1/uploads/{id}/approve); it deploys then.");
                    return 1;
                case "rejected" or "failed":
                    if (s.Output.Json) Output.Print(upload);
                    Output.Error($"Upload {id} {upload["status"]}: {upload["reason"]?.ToString() ?? "no reason recorded"}");
                    return 1;
            }
            await Task.Delay(100, ct);
            upload = await s.Api.GetAsync($"uploads/{Uri.EscapeDataString(id)}", ct);
        }
        var deployment = await s.Api.GetAsync($"deployments/{Uri.EscapeDataString(upload["deployment_id"]!.GetValue<string>())}", ct);
        return await FollowAsync(s, deployment, clock, noWait, ct);
    }

    private static JsonObject Environment(string? name) => name is null ? [] : new JsonObject { ["environment"] = name };

    /// <summary>
    /// Shows the deployment's phases and log until it ends (reconnecting after a dropped stream from the last line seen), then
    /// its URL, or its <c>error</c> on stderr with exit code 1.
    /// </summary>
    private static async Task<int> FollowAsync(Session s, JsonNode deployment, Stopwatch clock, bool noWait, CancellationToken ct)
    {
        var id = deployment["id"]!.GetValue<string>();
        if (noWait)
        {
            if (s.Output.Json) Output.Print(deployment);
            else s.Output.Say($"Queued {id}: follow it with `slipway logs -f {id}`.");
            return 0;
        }
        s.Output.Say($"Deploying {deployment["environment"]} ({deployment["trigger"]}) as {id}", "bold");
        var progress = new DeployProgress(s.Output, clock, deployment["trigger"]?.GetValue<string>());
        progress.Phase("queued");
        long after = 0;
        JsonNode final;
        while (true)
        {
            var ended = false;
            await foreach (var message in s.Api.StreamAsync($"logs/{Uri.EscapeDataString(id)}?follow=true&after={after}", ct))
            {
                switch (message["type"]?.GetValue<string>())
                {
                    case "log":
                        after = message["seq"]!.GetValue<long>();
                        progress.Line(message);
                        break;
                    case "status":
                        progress.Status(message["status"]!.GetValue<string>());
                        break;
                    case "end":
                        ended = true;
                        break;
                }
                if (ended) break;
            }
            final = await s.Api.GetAsync($"deployments/{Uri.EscapeDataString(id)}", ct);
            if (ended || final["status"]?.GetValue<string>() is "ready" or "failed" or "canceled") break;
            await Task.Delay(500, ct);
        }

        var status = final["status"]!.GetValue<string>();
        progress.Status(status);
        if (s.Output.Json) Output.Print(final);
        if (status == "ready")
        {
            s.Output.Say($"✓ Live in {DeployProgress.Seconds(progress.Elapsed)}: {final["url"]}", "green bold");
            return 0;
        }
        Output.Error($"Deployment {id} {status}: {final["error"]?.ToString() ?? "no error recorded"}");
        return 1;
    }

    private static async Task<int> PrintLogsAsync(Session s, string path, CancellationToken ct)
    {
        var lines = await s.Api.ListAsync(path, ct, max: int.MaxValue);
        if (s.Output.Json) Output.Print(new JsonObject { ["data"] = lines });
        else foreach (var line in lines) Console.Out.WriteLine(Format(line!));
        return 0;
    }

    /// <summary>Prints lines as they come; a deployment's stream ends with its <c>end</c> message (exit 1 unless it became ready).</summary>
    private static async Task<int> StreamLogsAsync(Session s, string path, CancellationToken ct)
    {
        var separator = path.Contains('?', StringComparison.Ordinal) ? '&' : '?';
        await foreach (var message in s.Api.StreamAsync($"{path}{separator}follow=true", ct))
        {
            if (s.Output.Json) Console.Out.WriteLine(message.ToJsonString());
            else if (message["type"]?.GetValue<string>() == "log") Console.Out.WriteLine(Format(message));
            if (message["type"]?.GetValue<string>() == "end")
            {
                var status = message["status"]?.GetValue<string>();
                s.Output.Say($"-- deployment {status}");
                return status == "ready" ? 0 : 1;
            }
        }
        return 0;
    }

    private static string Format(JsonNode line) => $"{line["timestamp"]} {line["stream"],-7}{line["message"]}";
}
