using System.Data.Common;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;
using NpgsqlTypes;
using Slipway.Server.Data;
using Slipway.Server.Hosting;

namespace Slipway.Server.Webhooks;

/// <summary>One stored outcome: the delivery's new state and, unless nothing was sent, the attempt that led to it.</summary>
internal sealed record DeliveryOutcome(
    string DeliveryId, DeliveryStatus Status, int AttemptCount, DateTime? NextAttemptAt, int? StatusCode, string? Error, DateTime? CompletedAt,
    WebhookAttempt? Attempt);

/// <summary>
/// The worker's hot writes (new deliveries, outcomes and attempts: thousands a second) without EF's change tracker,
/// which cost far more than the statements: SQLite re-binds one prepared statement per row inside the transaction,
/// PostgreSQL sends each batch as one statement over arrays (<c>unnest</c>). Values are bound as EF binds them, so EF
/// reads the rows back unchanged. Both run inside the caller's EF transaction.
/// </summary>
internal static class DeliveryStore
{
    public static async Task InsertAsync(SlipwayDb db, IDbContextTransaction tx, IReadOnlyList<WebhookDelivery> deliveries, CancellationToken ct)
    {
        if (deliveries.Count == 0) return;
        var connection = db.Database.GetDbConnection();
        if (connection is NpgsqlConnection)
        {
            await using var insert = (NpgsqlCommand)connection.CreateCommand();
            insert.Transaction = (NpgsqlTransaction)tx.GetDbTransaction();
            insert.CommandText = """
                INSERT INTO webhook_deliveries (id, endpoint_id, event_id, workspace_id, project_id, event_type, status, attempt_count, next_attempt_at, created_at)
                SELECT v.id, v.endpoint_id, v.event_id, v.workspace_id, v.project_id, v.event_type, 'pending', 0, v.next_at, v.at
                FROM unnest(@id, @endpoint, @event, @workspace, @project, @type, @next, @at)
                    AS v(id, endpoint_id, event_id, workspace_id, project_id, event_type, next_at, at)
                """;
            Array(insert, "id", deliveries.Select(d => d.Id));
            Array(insert, "endpoint", deliveries.Select(d => d.EndpointId));
            Array(insert, "event", deliveries.Select(d => d.EventId));
            Array(insert, "workspace", deliveries.Select(d => d.WorkspaceId));
            Array(insert, "project", deliveries.Select(d => d.ProjectId));
            Array(insert, "type", deliveries.Select(d => d.EventType));
            Times(insert, "next", deliveries.Select(d => d.NextAttemptAt));
            insert.Parameters.Add(new NpgsqlParameter("at", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = deliveries.Select(d => d.CreatedAt).ToArray() });
            await insert.ExecuteNonQueryAsync(ct);
            return;
        }
        await using var command = connection.CreateCommand();
        command.Transaction = tx.GetDbTransaction();
        command.CommandText = """
            INSERT INTO webhook_deliveries (id, endpoint_id, event_id, workspace_id, project_id, event_type, status, attempt_count, next_attempt_at, created_at)
            VALUES ($id, $endpoint, $event, $workspace, $project, $type, 'pending', 0, $next, $at)
            """;
        var (id, endpoint, evt, workspace, project, type, next, at) = (Add(command, "$id"), Add(command, "$endpoint"), Add(command, "$event"),
            Add(command, "$workspace"), Add(command, "$project"), Add(command, "$type"), Add(command, "$next"), Add(command, "$at"));
        command.Prepare();
        foreach (var d in deliveries)
        {
            (id.Value, endpoint.Value, evt.Value, workspace.Value, project.Value, type.Value, next.Value, at.Value) =
                (d.Id, d.EndpointId, d.EventId, d.WorkspaceId, Db(d.ProjectId), d.EventType, Db(d.NextAttemptAt), d.CreatedAt);
            command.ExecuteNonQuery();
        }
    }

    /// <summary>Stores outcomes of deliveries still pending (a deleted or meanwhile settled one is skipped).</summary>
    public static async Task RecordAsync(SlipwayDb db, IDbContextTransaction tx, IReadOnlyList<DeliveryOutcome> outcomes, CancellationToken ct)
    {
        if (outcomes.Count == 0) return;
        var connection = db.Database.GetDbConnection();
        if (connection is NpgsqlConnection)
        {
            var attempts = outcomes.Where(o => o.Attempt is not null).Select(o => o.Attempt!).ToList();
            await using var record = (NpgsqlCommand)connection.CreateCommand();
            record.Transaction = (NpgsqlTransaction)tx.GetDbTransaction();
            record.CommandText = """
                WITH updated AS (
                    UPDATE webhook_deliveries d
                    SET status = v.status, attempt_count = v.attempt_count, next_attempt_at = v.next_at, last_status_code = v.code,
                        last_error = v.error, completed_at = v.done
                    FROM unnest(@id, @status, @count, @next, @code, @error, @done) AS v(id, status, attempt_count, next_at, code, error, done)
                    WHERE d.id = v.id AND d.status = 'pending'
                    RETURNING d.id)
                INSERT INTO webhook_attempts (id, delivery_id, number, attempted_at, status_code, latency_ms, error, next_attempt_at)
                SELECT a.id, a.delivery_id, a.number, a.at, a.code, a.latency, a.error, a.next_at
                FROM unnest(@a_id, @a_delivery, @a_number, @a_at, @a_code, @a_latency, @a_error, @a_next)
                    AS a(id, delivery_id, number, at, code, latency, error, next_at)
                WHERE a.delivery_id IN (SELECT id FROM updated)
                """;
            Array(record, "id", outcomes.Select(o => o.DeliveryId));
            Array(record, "status", outcomes.Select(o => ApiEnums.Text(o.Status)));
            record.Parameters.Add(new NpgsqlParameter("count", NpgsqlDbType.Array | NpgsqlDbType.Integer) { Value = outcomes.Select(o => o.AttemptCount).ToArray() });
            Times(record, "next", outcomes.Select(o => o.NextAttemptAt));
            Ints(record, "code", outcomes.Select(o => o.StatusCode));
            Array(record, "error", outcomes.Select(o => o.Error));
            Times(record, "done", outcomes.Select(o => o.CompletedAt));
            Array(record, "a_id", attempts.Select(a => a.Id));
            Array(record, "a_delivery", attempts.Select(a => a.DeliveryId));
            record.Parameters.Add(new NpgsqlParameter("a_number", NpgsqlDbType.Array | NpgsqlDbType.Integer) { Value = attempts.Select(a => a.Number).ToArray() });
            Times(record, "a_at", attempts.Select(a => (DateTime?)a.AttemptedAt));
            Ints(record, "a_code", attempts.Select(a => a.StatusCode));
            record.Parameters.Add(new NpgsqlParameter("a_latency", NpgsqlDbType.Array | NpgsqlDbType.Integer) { Value = attempts.Select(a => a.LatencyMs).ToArray() });
            Array(record, "a_error", attempts.Select(a => a.Error));
            Times(record, "a_next", attempts.Select(a => a.NextAttemptAt));
            await record.ExecuteNonQueryAsync(ct);
            return;
        }

        await using var update = connection.CreateCommand();
        update.Transaction = tx.GetDbTransaction();
        update.CommandText = """
            UPDATE webhook_deliveries SET status = $status, attempt_count = $count, next_attempt_at = $next, last_status_code = $code,
                last_error = $error, completed_at = $done
            WHERE id = $id AND status = 'pending'
            """;
        var (id, status, count, next, code, error, done) =
            (Add(update, "$id"), Add(update, "$status"), Add(update, "$count"), Add(update, "$next"), Add(update, "$code"), Add(update, "$error"), Add(update, "$done"));
        update.Prepare();
        await using var insert = connection.CreateCommand();
        insert.Transaction = tx.GetDbTransaction();
        insert.CommandText = """
            INSERT INTO webhook_attempts (id, delivery_id, number, attempted_at, status_code, latency_ms, error, next_attempt_at)
            VALUES ($id, $delivery, $number, $at, $code, $latency, $error, $next)
            """;
        var (aId, aDelivery, aNumber, aAt, aCode, aLatency, aError, aNext) = (Add(insert, "$id"), Add(insert, "$delivery"), Add(insert, "$number"),
            Add(insert, "$at"), Add(insert, "$code"), Add(insert, "$latency"), Add(insert, "$error"), Add(insert, "$next"));
        insert.Prepare();
        foreach (var o in outcomes)
        {
            (id.Value, status.Value, count.Value, next.Value, code.Value, error.Value, done.Value) =
                (o.DeliveryId, ApiEnums.Text(o.Status), o.AttemptCount, Db(o.NextAttemptAt), Db(o.StatusCode), Db(o.Error), Db(o.CompletedAt));
            if (update.ExecuteNonQuery() == 0 || o.Attempt is not { } a) continue;
            (aId.Value, aDelivery.Value, aNumber.Value, aAt.Value, aCode.Value, aLatency.Value, aError.Value, aNext.Value) =
                (a.Id, a.DeliveryId, a.Number, a.AttemptedAt, Db(a.StatusCode), a.LatencyMs, Db(a.Error), Db(a.NextAttemptAt));
            insert.ExecuteNonQuery();
        }
    }

    private static object Db<T>(T? value) => (object?)value ?? DBNull.Value;

    private static DbParameter Add(DbCommand command, string name)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = DBNull.Value;
        command.Parameters.Add(parameter);
        return parameter;
    }

    private static void Array(NpgsqlCommand command, string name, IEnumerable<string?> values) =>
        command.Parameters.Add(new NpgsqlParameter(name, NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = values.ToArray() });

    private static void Times(NpgsqlCommand command, string name, IEnumerable<DateTime?> values) =>
        command.Parameters.Add(new NpgsqlParameter(name, NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = values.ToArray() });

    private static void Ints(NpgsqlCommand command, string name, IEnumerable<int?> values) =>
        command.Parameters.Add(new NpgsqlParameter(name, NpgsqlDbType.Array | NpgsqlDbType.Integer) { Value = values.ToArray() });
}
