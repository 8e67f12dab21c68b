using Slipway.Server.Builds;
using Slipway.Server.Data;
using Slipway.Server.Deployments;
using Slipway.Server.Hosting;
using Slipway.Server.Runtime.Sandbox;

namespace Slipway.Server.Security;

/// <summary>
/// With <c>scan_on_deploy</c>, a deployment is scanned after checkout and before its build. A finding this scan
/// opened (new, or back after a fix) at or above <c>block_on</c> fails the deployment; findings that were already
/// open, or that a person dismissed, never do. Every step is in the deployment's log.
/// </summary>
internal sealed class DeploymentGate(SlipwayDb db, SarifIngestion ingestion, ScanRunner runner, ScannerCatalog catalog, Sandbox sandbox, TimeProvider time)
{
    private const int Listed = 20;

    public async Task CheckAsync(string workspaceId, string projectId, string deploymentId, string commitSha, string branch, string checkout,
        string output, LineSink log, CancellationToken ct)
    {
        var settings = await db.RepositorySettings.FirstOrDefaultAsync(s => s.ProjectId == projectId, ct);
        if (settings is not { ScanOnDeploy: true }) return;
        var scan = new Scan
        {
            Id = Ids.New(time), WorkspaceId = workspaceId, ProjectId = projectId, Source = ScanSource.Deployment, Status = ScanStatus.Running,
            CommitSha = commitSha, Branch = branch, DeploymentId = deploymentId, CreatedAt = time.UtcNowMs(), StartedAt = time.UtcNowMs(),
        };
        db.Scans.Add(scan);
        await db.SaveChangesAsync(ct);
        db.ChangeTracker.Clear();
        log("system", $"Security scan {scan.Id} before the build (scan_on_deploy, block_on {ApiEnums.Text(settings.BlockOn)})");
        try
        {
            var identity = await sandbox.IdentityAsync(db, projectId, ct);
            var project = await db.Projects.FirstAsync(p => p.Id == projectId, ct);
            await runner.ScanAsync(scan, project, checkout, output, catalog.For(settings), ingestion, identity, log, ct);
        }
        catch (ScanFailedException e)
        {
            await ScanWorker.FailAsync(db, time, scan, e.Message, CancellationToken.None);
            throw new DeploymentFailedException($"The security scan failed: {e.Message}");
        }
        log("system", $"Security scan: {scan.NewCount} new, {scan.FixedCount} fixed, {scan.UnchangedCount} unchanged finding(s)");
        if (settings.BlockOn == BlockOn.None || scan.NewCount == 0) return;

        var opened = db.FindingHistory.Where(h => h.ScanId == scan.Id && h.ToState == FindingState.Open).Select(h => h.FindingId);
        var threshold = (Severity)((int)settings.BlockOn - 1);
        var blocking = (await db.Findings.Where(f => opened.Contains(f.Id) && f.State == FindingState.Open).ToListAsync(ct))
            .Where(f => f.Severity >= threshold)
            .OrderByDescending(f => f.Severity).ThenBy(f => f.Path, StringComparer.Ordinal).ThenBy(f => f.StartLine)
            .ToList();
        if (blocking.Count == 0) return;
        foreach (var finding in blocking.Take(Listed))
        {
            log("system", $"  {ApiEnums.Text(finding.Severity).ToUpperInvariant()} {finding.RuleId} at {Where(finding)}: {finding.Message}");
        }
        var list = string.Join(", ", blocking.Take(Listed).Select(f => $"{f.RuleId} ({Where(f)})"));
        throw new DeploymentFailedException(
            $"{blocking.Count} new finding(s) at or above {ApiEnums.Text(settings.BlockOn)}: {list}{(blocking.Count > Listed ? ", …" : "")}");
    }

    private static string Where(Finding f) => f.StartLine is { } line ? $"{f.Path}:{line}" : f.Path ?? "(no location)";
}
