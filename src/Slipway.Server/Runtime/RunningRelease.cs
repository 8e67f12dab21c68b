using Slipway.Server.Builds;
using Slipway.Server.Runtime.Cgroups;

namespace Slipway.Server.Runtime;

/// <summary>
/// One supervisor transition of a release, as observers see it. <c>RetryIn</c> is set while restarting or crashed
/// with another start attempt scheduled: how long until it.
/// </summary>
internal sealed record LiveStatusChange(string DeploymentId, LiveStatus Status, int Port, int Restarts, TimeSpan? RetryIn, DateTimeOffset At);

/// <summary>
/// A release the <see cref="Supervisor"/> runs: its port, its current process and its live status. State changes go
/// through the supervisor; everything public here is safe to read from any thread.
/// </summary>
internal sealed class RunningRelease
{
    private readonly Lock gate = new();
    private readonly Action<RunningRelease, LiveStatusChange> publish;
    private readonly TimeProvider time;
    private ProcessGroup? current;
    private LiveStatus status = LiveStatus.Starting;
    private int port;
    private int restarts;
    private bool everHealthy;
    private DateTimeOffset? healthySince;
    private string? lastExit;
    private IReadOnlyList<int>? wrongPorts;
    private bool stopRequested;
    private Task? stopping;

    internal RunningRelease(ReleaseSpec spec, ConfinedUnit unit, int port, LineSink sink, TimeProvider time, Action<RunningRelease, LiveStatusChange> publish)
    {
        everHealthy = spec.AlreadyLive;
        Spec = spec;
        Unit = unit;
        this.port = port;
        Sink = sink;
        this.time = time;
        this.publish = publish;
        StartedAt = time.GetUtcNow();
    }

    public ReleaseSpec Spec { get; }

    public string DeploymentId => Spec.DeploymentId;

    /// <summary>Stays the same across restarts unless something else took the port while the release was down.</summary>
    public int Port
    {
        get
        {
            lock (gate) return port;
        }
    }

    public Uri Upstream => new($"http://127.0.0.1:{Port}");

    public LiveStatus Status
    {
        get
        {
            lock (gate) return status;
        }
    }

    /// <summary>How many times the supervisor started the process again after it exited.</summary>
    public int Restarts
    {
        get
        {
            lock (gate) return restarts;
        }
    }

    /// <summary>Pid of the current process group leader (the shell running the start command).</summary>
    public int ProcessId => Current.Pid;

    public DateTimeOffset StartedAt { get; }

    /// <summary>Why the process last exited ("Killed: out of memory (limit 64 MB)", "Exited with code 1"); null if it never did.</summary>
    public string? LastExit
    {
        get
        {
            lock (gate) return lastExit;
        }
        internal set
        {
            lock (gate) lastExit = value;
        }
    }

    /// <summary>The ports it listened on instead of its own when its health check gave up on that (see <see cref="ListeningPorts"/>).</summary>
    public IReadOnlyList<int>? WrongPorts
    {
        get
        {
            lock (gate) return wrongPorts;
        }
        internal set
        {
            lock (gate) wrongPorts = value;
        }
    }

    /// <summary>Its cgroup and run record.</summary>
    internal ConfinedUnit Unit { get; }

    /// <summary>The cgroup's OOM-kill count when the current process started.</summary>
    internal long OomKillsAtStart { get; set; }

    /// <summary>
    /// Raised on every supervisor transition, in order, on the supervisor's thread: keep handlers short (post to a
    /// channel). Also raised again with the same status when a crashed release schedules another attempt.
    /// </summary>
    public event EventHandler<LiveStatusChange>? StatusChanged;

    internal LineSink Sink { get; }

    internal CancellationTokenSource StopRequested { get; } = new();

    internal Task Supervision { get; set; } = Task.CompletedTask;

    internal ProcessGroup Current
    {
        get
        {
            lock (gate) return current ?? throw new InvalidOperationException("The release has no process yet.");
        }
    }

    internal ProcessGroup? CurrentOrNull
    {
        get
        {
            lock (gate) return current;
        }
    }

    internal DateTimeOffset? HealthySince
    {
        get
        {
            lock (gate) return healthySince;
        }
    }

    internal void Attach(ProcessGroup group, int onPort, bool isRestart)
    {
        lock (gate)
        {
            current = group;
            port = onPort;
            healthySince = null;
            if (isRestart) restarts++;
        }
    }

    /// <summary>False when the process already exited, was replaced, or the release is being stopped.</summary>
    internal bool MarkHealthy(ProcessGroup group)
    {
        lock (gate)
        {
            if (stopRequested || current != group || group.Exited.IsCompleted) return false;
            everHealthy = true;
            healthySince ??= time.GetUtcNow();
            if (status != LiveStatus.Running) SetStatusLocked(LiveStatus.Running, null);
            return true;
        }
    }

    /// <summary>After the first process exited: crashed if it never became healthy (and then it is not restarted).</summary>
    internal bool MarkCrashedUnlessEverHealthy()
    {
        lock (gate)
        {
            if (everHealthy) return false;
            SetStatusLocked(LiveStatus.Crashed, null);
            return true;
        }
    }

    internal void SetStatus(LiveStatus next, TimeSpan? retryIn = null)
    {
        lock (gate) SetStatusLocked(next, retryIn);
    }

    internal void RequestStop()
    {
        lock (gate) stopRequested = true;
        StopRequested.Cancel();
    }

    /// <summary>The one stop in progress, so concurrent <c>StopAsync</c> calls share it.</summary>
    internal Task StopOnce(Func<Task> stop)
    {
        lock (gate) return stopping ??= Task.Run(stop);
    }

    internal void RaiseStatusChanged(LiveStatusChange change) => StatusChanged?.Invoke(this, change);

    private void SetStatusLocked(LiveStatus next, TimeSpan? retryIn)
    {
        // Stopped is final: a late health check or supervisor step must not bring a stopped release back to life.
        if (status == LiveStatus.Stopped) return;
        status = next;
        publish(this, new LiveStatusChange(DeploymentId, next, port, restarts, retryIn, time.GetUtcNow()));
    }
}
