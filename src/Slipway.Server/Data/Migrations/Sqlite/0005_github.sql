-- GitHub push-to-deploy: one receiving hook per project (its secret sealed like env var values) and the deliveries
-- it received, keyed by GitHub's X-GitHub-Delivery so a redelivered or replayed one queues nothing twice.
CREATE TABLE github_integrations (
    id TEXT NOT NULL PRIMARY KEY,
    project_id TEXT NOT NULL UNIQUE REFERENCES projects (id) ON DELETE CASCADE,
    secret_sealed BLOB NOT NULL,
    key_id TEXT NOT NULL,
    created_by TEXT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE github_deliveries (
    hook_id TEXT NOT NULL REFERENCES github_integrations (id) ON DELETE CASCADE,
    delivery_id TEXT NOT NULL,
    event TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NULL,
    response TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (hook_id, delivery_id)
);
CREATE INDEX ix_github_deliveries_received ON github_deliveries (hook_id, received_at);
