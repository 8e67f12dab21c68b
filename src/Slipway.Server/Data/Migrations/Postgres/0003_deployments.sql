-- The engine: deployments (with their build phase), their log lines, and the event outbox.
CREATE TABLE deployments (
    id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    build_id TEXT COLLATE "C" NOT NULL UNIQUE,
    workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    project_id TEXT COLLATE "C" NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    environment_id TEXT COLLATE "C" NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    build_status TEXT NOT NULL,
    trigger TEXT NOT NULL,
    branch TEXT NOT NULL,
    requested_commit_sha TEXT NULL,
    commit_sha TEXT NULL,
    commit_message TEXT NULL,
    source_deployment_id TEXT COLLATE "C" NULL,
    framework TEXT NULL,
    start_command TEXT NULL,
    static_directory TEXT NULL,
    artifact_sha256 TEXT NULL,
    artifact_size BIGINT NULL,
    artifact_collected BOOLEAN NOT NULL DEFAULT FALSE,
    error TEXT NULL,
    timings TEXT NOT NULL DEFAULT '{}',
    created_by TEXT COLLATE "C" NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    started_at TIMESTAMPTZ NULL,
    build_started_at TIMESTAMPTZ NULL,
    build_finished_at TIMESTAMPTZ NULL,
    finished_at TIMESTAMPTZ NULL
);
CREATE INDEX ix_deployments_project ON deployments (project_id, id);
CREATE INDEX ix_deployments_environment ON deployments (environment_id, status, id);
CREATE INDEX ix_deployments_status ON deployments (status, id);
CREATE INDEX ix_deployments_workspace ON deployments (workspace_id, id);

CREATE TABLE deployment_logs (
    deployment_id TEXT COLLATE "C" NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    timestamp TIMESTAMPTZ NOT NULL,
    level TEXT NOT NULL,
    stream TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (deployment_id, seq)
);

CREATE TABLE events (
    id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    workspace_id TEXT COLLATE "C" NOT NULL,
    project_id TEXT COLLATE "C" NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX ix_events_workspace ON events (workspace_id, id);
