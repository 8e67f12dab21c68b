using Slipway.Server.Webhooks;

namespace Slipway.Server.Tests.Webhooks;

/// <summary>The recorder's view of an endpoint's health from one batch of outcomes.</summary>
public sealed class RecordingOutcomesTests
{
    private static readonly DateTime At = new(2026, 12, 3, 12, 0, 0, 123, DateTimeKind.Utc);

    private static AttemptResult Outcome(AttemptOutcome outcome, DateTime at) =>
        new(new DeliveryWork("d", "e", "ev", "ping", [], 0), at, outcome == AttemptOutcome.Succeeded ? 200 : 503, 1, null, outcome, null);

    [Fact]
    public void FailingSince_FailureAndSuccessInTheSameMillisecond_FailureFirst_IsNotFailing() =>
        Assert.Null(WebhookWorker.FailingSince([Outcome(AttemptOutcome.Retry, At), Outcome(AttemptOutcome.Succeeded, At)]));

    [Fact]
    public void FailingSince_FailureAfterTheLastSuccess_StartsTheRun() =>
        Assert.Equal(At.AddMilliseconds(1), WebhookWorker.FailingSince([Outcome(AttemptOutcome.Retry, At), Outcome(AttemptOutcome.Succeeded, At),
            Outcome(AttemptOutcome.Permanent, At.AddMilliseconds(2)), Outcome(AttemptOutcome.Retry, At.AddMilliseconds(1))]));

    [Fact]
    public void FailingSince_OnlyFailures_IsTheFirst() =>
        Assert.Equal(At, WebhookWorker.FailingSince([Outcome(AttemptOutcome.Retry, At.AddMilliseconds(5)), Outcome(AttemptOutcome.Retry, At)]));
}
