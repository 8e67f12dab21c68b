-- Webhooks: endpoints (secrets sealed like env var values), one delivery per (endpoint, event), every attempt kept.
-- events.dispatched_at marks outbox rows already fanned out to deliveries.
ALTER TABLE events ADD COLUMN dispatched_at TEXT NULL;
CREATE INDEX ix_events_undispatched ON events (id) WHERE dispatched_at IS NULL;

CREATE TABLE webhook_endpoints (
    id TEXT NOT NULL PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    project_id TEXT NULL REFERENCES projects (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    description TEXT NULL,
    events TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    disabled_reason TEXT NULL,
    secret_sealed BLOB NOT NULL,
    secret_key_id TEXT NOT NULL,
    previous_secret_sealed BLOB NULL,
    previous_secret_key_id TEXT NULL,
    previous_secret_expires_at TEXT NULL,
    failing_since TEXT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX ix_webhook_endpoints_workspace ON webhook_endpoints (workspace_id, id);

CREATE TABLE webhook_deliveries (
    id TEXT NOT NULL PRIMARY KEY,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL,
    project_id TEXT NULL,
    event_type TEXT NOT NULL,
    status TEXT NOT NULL,
    attempt_count INTEGER NOT NULL,
    next_attempt_at TEXT NULL,
    last_status_code INTEGER NULL,
    last_error TEXT NULL,
    created_at TEXT NOT NULL,
    completed_at TEXT NULL,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX ix_webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX ix_webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
CREATE INDEX ix_webhook_deliveries_workspace ON webhook_deliveries (workspace_id, created_at);

CREATE TABLE webhook_attempts (
    id TEXT NOT NULL PRIMARY KEY,
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    attempted_at TEXT NOT NULL,
    status_code INTEGER NULL,
    latency_ms INTEGER NOT NULL,
    error TEXT NULL,
    next_attempt_at TEXT NULL
);
CREATE INDEX ix_webhook_attempts_delivery ON webhook_attempts (delivery_id, number);
