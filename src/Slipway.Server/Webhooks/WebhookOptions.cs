namespace Slipway.Server.Webhooks;

/// <summary><c>Slipway:Webhooks</c>: delivery policy and the SSRF allow-list.</summary>
internal sealed class WebhookOptions
{
    public const string SectionName = "Slipway:Webhooks";

    /// <summary>Per attempt, connect to last byte of the answer.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Delay before each attempt, comma-separated TimeSpans: the first is the initial send, so the default means
    /// immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h later. After the last, the delivery is dead.
    /// </summary>
    public string RetrySchedule { get; set; } = "00:00:00,00:00:05,00:05:00,00:30:00,02:00:00,05:00:00,10:00:00,10:00:00";

    /// <summary><see cref="RetrySchedule"/> parsed (configuration binding appends to arrays, so the option is a string).</summary>
    public TimeSpan[] Schedule => schedule ??= ParseSchedule(RetrySchedule);

    private TimeSpan[]? schedule;

    public static TimeSpan[] ParseSchedule(string text)
    {
        var steps = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(s => TimeSpan.TryParse(s, System.Globalization.CultureInfo.InvariantCulture, out var t) && t >= TimeSpan.Zero ? t
                : throw new InvalidOperationException($"{SectionName}:RetrySchedule: '{s}' is not a non-negative TimeSpan (hh:mm:ss)."))
            .ToArray();
        return steps.Length > 0 ? steps : throw new InvalidOperationException($"{SectionName}:RetrySchedule needs at least one step.");
    }

    /// <summary>Each retry delay is stretched by a random 0..Jitter fraction, so retries of many receivers spread out.</summary>
    public double Jitter { get; set; } = 0.1;

    /// <summary>A receiver's <c>Retry-After</c> is honoured up to this long.</summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromHours(24);

    /// <summary>An endpoint whose attempts have all failed for this long is disabled, with the reason recorded.</summary>
    public TimeSpan DisableAfter { get; set; } = TimeSpan.FromDays(5);

    /// <summary>After a rotation, the previous secret keeps signing (a second signature) for this long.</summary>
    public TimeSpan RotationOverlap { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Concurrent requests to one endpoint; other endpoints are never held up by a slow one.</summary>
    public int MaxConcurrencyPerEndpoint { get; set; } = 16;

    /// <summary>How often deliveries that are due (retries, and any left by a crash) are looked for.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Loopback targets (127.0.0.0/8, ::1) are refused unless allowed (tests and single-machine setups).</summary>
    public bool AllowLoopback { get; set; }

    /// <summary>Private ranges (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7) are refused unless allowed.</summary>
    public bool AllowPrivateNetworks { get; set; }

    /// <summary>Host names that skip the address check entirely (an operator's internal receivers).</summary>
    public string[] AllowedHosts { get; set; } = [];
}
