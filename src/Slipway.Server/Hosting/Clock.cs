namespace Slipway.Server.Hosting;

internal static class TimeProviderExtensions
{
    /// <summary>Now, in UTC, cut to the millisecond every API timestamp carries, so stored and returned values agree.</summary>
    public static DateTime UtcNowMs(this TimeProvider time)
    {
        var now = time.GetUtcNow().UtcDateTime;
        return new DateTime(now.Ticks - (now.Ticks % TimeSpan.TicksPerMillisecond), DateTimeKind.Utc);
    }
}
