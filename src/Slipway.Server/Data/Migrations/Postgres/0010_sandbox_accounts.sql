-- The unprivileged uid (and gid of the same number) each project's builds and apps run as in the sandbox. Allocated
-- once from Slipway:Runtime:SandboxUidBase/SandboxUidCount and kept, so a project's files keep their owner across
-- restarts; unique, so no two projects ever share one.
CREATE TABLE sandbox_accounts (
    project_id TEXT COLLATE "C" NOT NULL PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    uid BIGINT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL
);
