using Slipway.Server.Builds;
using Slipway.Server.Data;
using Slipway.Server.Logs;
using Slipway.Server.Projects;
using Slipway.Server.Runtime.Sandbox;

namespace Slipway.Server.Deployments;

/// <summary>
/// What every phase of one deployment shares: the rows it works on (the deployment tracked, so phases record their results
/// on it), the decrypted env vars, the sandbox identity, the timings and the masked log with its last lines for errors.
/// </summary>
internal sealed class DeploymentRun(string id, SlipwayDb db, IServiceProvider services, LogWriter logs, string workDirectory)
{
    private const int ContextLines = 15;
    private readonly Queue<string> recent = new();
    private SecretMasker masker = new([]);

    public string Id { get; } = id;
    public SlipwayDb Db { get; } = db;
    public IServiceProvider Services { get; } = services;
    /// <summary>Scratch space of this deployment (source and build), deleted when it ends.</summary>
    public string WorkDirectory { get; } = workDirectory;
    public Dictionary<string, long> Timings { get; } = [];
    public Deployment Deployment { get; private set; } = null!;
    public Project Project { get; private set; } = null!;
    public ProjectEnvironment Environment { get; private set; } = null!;
    public IReadOnlyDictionary<string, string> Variables { get; private set; } = new Dictionary<string, string>();
    public SandboxIdentity? Identity { get; private set; }

    public async Task LoadAsync(CancellationToken ct)
    {
        Deployment = await Db.Deployments.AsTracking().FirstAsync(d => d.Id == Id, ct);
        Project = await Db.Projects.FirstAsync(p => p.Id == Deployment.ProjectId, ct);
        Environment = await Db.Environments.FirstAsync(e => e.Id == Deployment.EnvironmentId, ct);
    }

    public async Task UnlockAsync(Sandbox sandbox, CancellationToken ct)
    {
        Variables = await Services.GetRequiredService<EnvVars.EnvVarSecrets>().DecryptAllAsync(Project.Id, Environment.Id, ct);
        Identity = await sandbox.IdentityAsync(Db, Project.Id, ct);
        masker = new SecretMasker(Variables.Values);
    }

    /// <summary>
    /// Ends a phase: its timing, with whatever the phase set on the deployment (commit, framework …), is written at once, so
    /// a deployment shows what is known while it runs and keeps it when a later phase fails or is canceled.
    /// </summary>
    public async Task RecordAsync(string timing, System.Diagnostics.Stopwatch phase, CancellationToken ct)
    {
        Timings[timing] = phase.ElapsedMilliseconds;
        Deployment.Timings = System.Text.Json.JsonSerializer.Serialize(Timings);
        await Db.SaveChangesAsync(ct);
        // A cancel request may have finished it already, and finished deployments are cached for the list.
        Services.GetRequiredService<DeploymentReadCache>().Forget(Id);
    }

    public void Log(string stream, string line, string level = "info")
    {
        var masked = masker.Mask(line);
        lock (recent)
        {
            recent.Enqueue(masked);
            if (recent.Count > ContextLines) recent.Dequeue();
        }
        logs.Append(Id, stream, level, masked);
    }

    /// <summary>The message with the last lines of output, so a failure explains itself.</summary>
    public string WithContext(string message)
    {
        string[] lines;
        lock (recent) lines = recent.ToArray();
        return lines.Length == 0 ? message : message + "\nLast output:\n" + string.Join('\n', lines);
    }

    /// <summary>What builds and releases see: the environment's env vars plus <c>SLIPWAY_*</c> (never the server's own environment).</summary>
    public static Dictionary<string, string> ProcessEnvironment(IReadOnlyDictionary<string, string> variables, Project project,
        ProjectEnvironment environment, Deployment deployment) => new(variables)
    {
        ["SLIPWAY_PROJECT_ID"] = project.Id, ["SLIPWAY_PROJECT_NAME"] = project.Name, ["SLIPWAY_ENVIRONMENT"] = environment.Name,
        ["SLIPWAY_DEPLOYMENT_ID"] = deployment.Id, ["SLIPWAY_BRANCH"] = deployment.Branch,
    };

    public Dictionary<string, string> ProcessEnvironment() => ProcessEnvironment(Variables, Project, Environment, Deployment);
}

/// <summary>A deployment failure whose message is safe and useful to show the user.</summary>
internal sealed class DeploymentFailedException(string message) : Exception(message);
