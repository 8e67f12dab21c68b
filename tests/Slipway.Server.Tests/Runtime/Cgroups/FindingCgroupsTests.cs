using Slipway.Server.Runtime;
using Slipway.Server.Runtime.Cgroups;

namespace Slipway.Server.Tests.Runtime.Cgroups;

public sealed class FindingCgroupsTests
{
    private const string Hybrid = """
        31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
        35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
        39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
        """;

    [Fact]
    public void Hybrid_UsesV1_InsideTheServersOwnCgroupOfEachController()
    {
        var parents = CgroupMounts.Detect(Hybrid, "9:pids:/\n4:memory:/jobs/42\n1:cpu,cpuacct:/\n0::/\n", null, out var problem);

        Assert.NotNull(parents);
        Assert.Equal("", problem);
        Assert.Equal(CgroupVersion.V1, parents.Version);
        Assert.Equal(["/sys/fs/cgroup/memory/jobs/42", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/cpu,cpuacct"], parents.Directories);
    }

    [Fact]
    public void ConfiguredParent_ReplacesTheServersOwnCgroup()
    {
        var parents = CgroupMounts.Detect(Hybrid, "4:memory:/jobs/42\n", "/slipway", out _);

        Assert.Equal(["/sys/fs/cgroup/memory/slipway", "/sys/fs/cgroup/pids/slipway", "/sys/fs/cgroup/cpu,cpuacct/slipway"], parents!.Directories);
    }

    [Fact]
    public void WithoutAnyCgroupFileSystem_NothingIsUsed_AndTheProblemIsNamed()
    {
        var parents = CgroupMounts.Detect("22 1 0:21 / /proc rw - proc proc rw\n", "0::/\n", null, out var problem);

        Assert.Null(parents);
        Assert.Contains("no cgroup file system is mounted", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void V2WithoutControllers_IsNotEnough_AndSaysWhichAreMissing()
    {
        // This machine's /sys/fs/cgroup/unified offers no memory, pids or cpu controller.
        var parents = CgroupMounts.Detect("41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n", "0::/\n", null, out var problem);

        Assert.Null(parents);
        Assert.Contains("does not offer the memory, pids, cpu controller(s)", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void LimitFiles_SayTheSameLimitsInV1AndV2Terms()
    {
        var limits = new ResourceLimits(64, 0.5, 32);

        Assert.Equal(
        [
            ("memory", "memory.limit_in_bytes", "67108864"), ("memory", "memory.memsw.limit_in_bytes", "67108864"), ("pids", "pids.max", "32"),
            ("cpu", "cpu.cfs_period_us", "100000"), ("cpu", "cpu.cfs_quota_us", "50000"), ("cpu", "cpu.shares", "512"),
        ], Cgroup.LimitFiles(CgroupVersion.V1, limits));
        Assert.Equal(
        [
            ("memory", "memory.max", "67108864"), ("memory", "memory.swap.max", "0"), ("pids", "pids.max", "32"),
            ("cpu", "cpu.max", "50000 100000"), ("cpu", "cpu.weight", "50"),
        ], Cgroup.LimitFiles(CgroupVersion.V2, limits));
    }

    [Fact]
    public async Task V2Cgroup_OnThisMachinesUnifiedHierarchy_HoldsEveryForkedProcess_AndCgroupKillEndsThemAll()
    {
        var directory = $"/sys/fs/cgroup/unified/slipway-test-{Guid.NewGuid():N}"[..56];
        var cgroup = new Cgroup(CgroupVersion.V2, [directory]);
        Directory.CreateDirectory(directory);
        try
        {
            // Limits need controllers this hierarchy does not offer: placing, listing and killing do not.
            await using var group = ProcessGroup.Start("sleep 300 & setsid sleep 301 & sleep 302", Path.GetTempPath(),
                new Dictionary<string, string>(), (_, _) => { }, cgroup.EntryPrefix);
            await RuntimeTesting.UntilAsync(() => cgroup.Processes().Count >= 3, "the three sleeps are in the cgroup");
            Assert.Contains(group.Pid, cgroup.Processes());

            await cgroup.KillAllAsync();

            Assert.Empty(cgroup.Processes());
            await group.Exited.WaitAsync(RuntimeTesting.Patience);
            Assert.True(cgroup.Remove());
            Assert.False(Directory.Exists(directory));
        }
        finally
        {
            cgroup.Remove();
        }
    }
}
