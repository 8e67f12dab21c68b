-- The engine: deployments (with their build phase), their log lines, and the event outbox.
CREATE TABLE deployments (
    id TEXT NOT NULL PRIMARY KEY,
    build_id TEXT NOT NULL UNIQUE,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    build_status TEXT NOT NULL,
    trigger TEXT NOT NULL,
    branch TEXT NOT NULL,
    requested_commit_sha TEXT NULL,
    commit_sha TEXT NULL,
    commit_message TEXT NULL,
    source_deployment_id TEXT NULL,
    framework TEXT NULL,
    start_command TEXT NULL,
    static_directory TEXT NULL,
    artifact_sha256 TEXT NULL,
    artifact_size INTEGER NULL,
    artifact_collected INTEGER NOT NULL DEFAULT 0,
    error TEXT NULL,
    timings TEXT NOT NULL DEFAULT '{}',
    created_by TEXT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    started_at TEXT NULL,
    build_started_at TEXT NULL,
    build_finished_at TEXT NULL,
    finished_at TEXT NULL
);
CREATE INDEX ix_deployments_project ON deployments (project_id, id);
CREATE INDEX ix_deployments_environment ON deployments (environment_id, status, id);
CREATE INDEX ix_deployments_status ON deployments (status, id);
CREATE INDEX ix_deployments_workspace ON deployments (workspace_id, id);

CREATE TABLE deployment_logs (
    deployment_id TEXT NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    timestamp TEXT NOT NULL,
    level TEXT NOT NULL,
    stream TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (deployment_id, seq)
);

CREATE TABLE events (
    id TEXT NOT NULL PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    project_id TEXT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX ix_events_workspace ON events (workspace_id, id);
