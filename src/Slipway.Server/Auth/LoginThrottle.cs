using System.Collections.Concurrent;

namespace Slipway.Server.Auth;

/// <summary>
/// Counts failed logins per account and per client address in a sliding window; past the limit, login answers
/// 429 with <c>Retry-After</c> until the oldest failure leaves the window, whether the password is right or not.
/// </summary>
internal sealed class LoginThrottle(AuthOptions options, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, Queue<DateTime>> failures = new(StringComparer.Ordinal);

    public void ThrowIfLimited(string account, string ip)
    {
        var wait = Math.Max(WaitFor("a:" + account, options.MaxFailedLoginsPerAccount), WaitFor("i:" + ip, options.MaxFailedLoginsPerIp));
        if (wait > 0)
        {
            throw new RateLimitedException(wait, "Too many failed sign-in attempts. Try again later.");
        }
    }

    public void Failed(string account, string ip)
    {
        Record("a:" + account);
        Record("i:" + ip);
    }

    public void Succeeded(string account) => failures.TryRemove("a:" + account, out _);

    private void Record(string key)
    {
        // Sprayed random emails must not grow memory without bound: now and then drop keys with nothing in the window.
        if (Interlocked.Increment(ref recorded) % 1024 == 0) Sweep();
        var queue = failures.GetOrAdd(key, _ => new Queue<DateTime>());
        lock (queue)
        {
            Trim(queue);
            queue.Enqueue(time.GetUtcNow().UtcDateTime);
        }
    }

    private long recorded;

    private void Sweep()
    {
        foreach (var (key, queue) in failures)
        {
            lock (queue)
            {
                Trim(queue);
                if (queue.Count == 0) failures.TryRemove(new KeyValuePair<string, Queue<DateTime>>(key, queue));
            }
        }
    }

    internal int TrackedKeys => failures.Count;

    private int WaitFor(string key, int max)
    {
        if (!failures.TryGetValue(key, out var queue)) return 0;
        lock (queue)
        {
            Trim(queue);
            if (queue.Count < max) return 0;
            var freeAt = queue.ElementAt(queue.Count - max) + options.FailedLoginWindow;
            return Math.Max(1, (int)Math.Ceiling((freeAt - time.GetUtcNow().UtcDateTime).TotalSeconds));
        }
    }

    private void Trim(Queue<DateTime> queue)
    {
        var cutoff = time.GetUtcNow().UtcDateTime - options.FailedLoginWindow;
        while (queue.Count > 0 && queue.Peek() <= cutoff) queue.Dequeue();
    }
}

/// <summary>429 <c>rate_limited</c> with <c>Retry-After</c>.</summary>
internal sealed class RateLimitedException(int retryAfterSeconds, string message) : Exception(message)
{
    public int RetryAfterSeconds { get; } = retryAfterSeconds;
}
