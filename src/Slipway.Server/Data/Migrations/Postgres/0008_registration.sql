-- Registration policy: invitations into a workspace, and accounts the instance administrator has disabled.
ALTER TABLE users ADD COLUMN disabled_at TIMESTAMPTZ NULL;

CREATE TABLE invitations (
    id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    email TEXT NULL,
    role TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_by TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ NULL,
    used_by TEXT COLLATE "C" NULL REFERENCES users (id) ON DELETE SET NULL,
    revoked_at TIMESTAMPTZ NULL
);
CREATE INDEX ix_invitations_workspace ON invitations (workspace_id, id);
