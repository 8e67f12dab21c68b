namespace Slipway.Server.Tests.Support;

/// <summary>A clock tests move by hand (the server takes it instead of TimeProvider.System).</summary>
public sealed class ManualTimeProvider(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset now = start;

    public ManualTimeProvider() : this(DateTimeOffset.UtcNow)
    {
    }

    public override DateTimeOffset GetUtcNow()
    {
        lock (this) return now;
    }

    public void Advance(TimeSpan by)
    {
        lock (this) now += by;
    }
}
