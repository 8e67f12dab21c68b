using Slipway.Server.Observability;

namespace Slipway.Server.Webhooks;

/// <summary>
/// Webhook deliveries on <c>/metrics</c>: every stored attempt counted by what it made of its delivery (<c>succeeded</c>,
/// <c>retrying</c>: failed with another attempt to come, <c>dead</c>: failed for good). Counted once the outcome is
/// committed, so a batch that could not be stored is not counted; a delivery whose endpoint was disabled meanwhile is
/// <c>dead</c> without an attempt.
/// </summary>
internal sealed class WebhookMetrics
{
    private long succeeded;
    private long retrying;
    private long dead;

    public void Recorded(IEnumerable<DeliveryOutcome> outcomes)
    {
        foreach (var outcome in outcomes)
        {
            switch (outcome.Status)
            {
                case DeliveryStatus.Succeeded:
                    Interlocked.Increment(ref succeeded);
                    break;
                case DeliveryStatus.Pending:
                    Interlocked.Increment(ref retrying);
                    break;
                case DeliveryStatus.Dead:
                    Interlocked.Increment(ref dead);
                    break;
            }
        }
    }

    public void WriteTo(PrometheusWriter writer)
    {
        writer.Family("slipway_webhook_deliveries_total", "counter",
            "Webhook delivery attempts stored since the server started, by result: succeeded, retrying (another attempt follows) or dead.");
        writer.Sample("slipway_webhook_deliveries_total", Volatile.Read(ref dead), ("result", "dead"));
        writer.Sample("slipway_webhook_deliveries_total", Volatile.Read(ref retrying), ("result", "retrying"));
        writer.Sample("slipway_webhook_deliveries_total", Volatile.Read(ref succeeded), ("result", "succeeded"));
    }
}
