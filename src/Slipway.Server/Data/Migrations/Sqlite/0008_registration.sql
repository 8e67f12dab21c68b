-- Registration policy: invitations into a workspace, and accounts the instance administrator has disabled.
ALTER TABLE users ADD COLUMN disabled_at TEXT NULL;

CREATE TABLE invitations (
    id TEXT NOT NULL PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    email TEXT NULL,
    role TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_by TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT NULL,
    used_by TEXT NULL REFERENCES users (id) ON DELETE SET NULL,
    revoked_at TEXT NULL
);
CREATE INDEX ix_invitations_workspace ON invitations (workspace_id, id);
