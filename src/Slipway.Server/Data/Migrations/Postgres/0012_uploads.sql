-- Uploaded builds: a project may be upload-only (repo_url ''), approves uploads automatically or by hand, and an upload
-- that is distributed becomes a deployment with its upload_id. Every change of an upload's status is kept.
ALTER TABLE projects ADD COLUMN upload_approval TEXT NOT NULL DEFAULT 'automatic';
ALTER TABLE projects ADD COLUMN prevent_self_review BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE deployments ADD COLUMN upload_id TEXT COLLATE "C" NULL;

CREATE TABLE uploads (
    id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    project_id TEXT COLLATE "C" NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    environment_id TEXT COLLATE "C" NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    file_name TEXT NOT NULL,
    format TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    version TEXT NULL,
    notes TEXT NULL,
    auto_release BOOLEAN NOT NULL,
    entries INTEGER NULL,
    uncompressed_size BIGINT NULL,
    reason TEXT NULL,
    deployment_id TEXT COLLATE "C" NULL,
    files_collected BOOLEAN NOT NULL,
    created_by TEXT COLLATE "C" NULL,
    reviewed_by TEXT COLLATE "C" NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    distributed_at TIMESTAMPTZ NULL
);
CREATE INDEX ix_uploads_project ON uploads (project_id, id);
CREATE INDEX ix_uploads_unfinished ON uploads (status) WHERE status IN ('uploaded', 'validating', 'distributing');
CREATE INDEX ix_deployments_upload ON deployments (upload_id) WHERE upload_id IS NOT NULL;

CREATE TABLE upload_history (
    id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    upload_id TEXT COLLATE "C" NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    from_status TEXT NULL,
    to_status TEXT NOT NULL,
    actor TEXT COLLATE "C" NULL,
    reason TEXT NULL,
    at TIMESTAMPTZ NOT NULL
);
CREATE INDEX ix_upload_history_upload ON upload_history (upload_id, id);
