-- Uploaded builds: a project may be upload-only (repo_url ''), approves uploads automatically or by hand, and an upload
-- that is distributed becomes a deployment with its upload_id. Every change of an upload's status is kept.
ALTER TABLE projects ADD COLUMN upload_approval TEXT NOT NULL DEFAULT 'automatic';
ALTER TABLE projects ADD COLUMN prevent_self_review INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deployments ADD COLUMN upload_id TEXT NULL;

CREATE TABLE uploads (
    id TEXT NOT NULL PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    file_name TEXT NOT NULL,
    format TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    version TEXT NULL,
    notes TEXT NULL,
    auto_release INTEGER NOT NULL,
    entries INTEGER NULL,
    uncompressed_size INTEGER NULL,
    reason TEXT NULL,
    deployment_id TEXT NULL,
    files_collected INTEGER NOT NULL,
    created_by TEXT NULL,
    reviewed_by TEXT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    distributed_at TEXT NULL
);
CREATE INDEX ix_uploads_project ON uploads (project_id, id);
CREATE INDEX ix_uploads_unfinished ON uploads (status) WHERE status IN ('uploaded', 'validating', 'distributing');
CREATE INDEX ix_deployments_upload ON deployments (upload_id) WHERE upload_id IS NOT NULL;

CREATE TABLE upload_history (
    id TEXT NOT NULL PRIMARY KEY,
    upload_id TEXT NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    from_status TEXT NULL,
    to_status TEXT NOT NULL,
    actor TEXT NULL,
    reason TEXT NULL,
    at TEXT NOT NULL
);
CREATE INDEX ix_upload_history_upload ON upload_history (upload_id, id);
