-- Security triage: per-repository settings, scans (uploads and scanner runs), findings whose identity survives
-- rescans (tool + category + rule + fingerprint), each finding's history, and fixes. A repository is a project.
CREATE TABLE repository_settings (
    project_id TEXT NOT NULL PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    scanners TEXT NOT NULL,
    scan_on_deploy INTEGER NOT NULL,
    block_on TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE scans (
    id TEXT NOT NULL PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    status TEXT NOT NULL,
    commit_sha TEXT NULL,
    ref TEXT NULL,
    branch TEXT NULL,
    category TEXT NULL,
    tools TEXT NOT NULL,
    error TEXT NULL,
    results INTEGER NOT NULL,
    new_count INTEGER NOT NULL,
    fixed_count INTEGER NOT NULL,
    unchanged_count INTEGER NOT NULL,
    deployment_id TEXT NULL,
    created_at TEXT NOT NULL,
    started_at TEXT NULL,
    finished_at TEXT NULL
);
CREATE INDEX ix_scans_project ON scans (project_id, id);
CREATE INDEX ix_scans_unfinished ON scans (status) WHERE status IN ('queued', 'running');

CREATE TABLE findings (
    id TEXT NOT NULL PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    identity TEXT NOT NULL,
    tool TEXT NOT NULL,
    category TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL,
    severity TEXT NOT NULL,
    level TEXT NOT NULL,
    security_severity REAL NULL,
    rule_name TEXT NULL,
    rule_description TEXT NULL,
    rule_help TEXT NULL,
    tags TEXT NOT NULL,
    message TEXT NOT NULL,
    path TEXT NULL,
    start_line INTEGER NULL,
    locations TEXT NOT NULL,
    commit_sha TEXT NULL,
    first_scan_id TEXT NOT NULL,
    last_scan_id TEXT NOT NULL,
    triage_classification TEXT NOT NULL,
    triage_source TEXT NOT NULL,
    triage_rationale TEXT NOT NULL,
    triage_updated_at TEXT NOT NULL,
    dismissed_reason TEXT NULL,
    dismissed_comment TEXT NULL,
    dismissed_by TEXT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    fixed_at TEXT NULL
);
CREATE UNIQUE INDEX ux_findings_identity ON findings (project_id, identity);
CREATE INDEX ix_findings_project ON findings (project_id, id);
CREATE INDEX ix_findings_project_state ON findings (project_id, state, id);
CREATE INDEX ix_findings_analysis ON findings (project_id, tool, category, state);

CREATE TABLE finding_history (
    id TEXT NOT NULL PRIMARY KEY,
    finding_id TEXT NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
    scan_id TEXT NULL,
    from_state TEXT NULL,
    to_state TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT NULL,
    at TEXT NOT NULL
);
CREATE INDEX ix_finding_history_finding ON finding_history (finding_id, id);

CREATE TABLE fixes (
    id TEXT NOT NULL PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    finding_id TEXT NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
    codemod TEXT NOT NULL,
    status TEXT NOT NULL,
    diff TEXT NOT NULL,
    rationale TEXT NOT NULL,
    base_commit TEXT NOT NULL,
    branch TEXT NULL,
    commit_sha TEXT NULL,
    pr_url TEXT NULL,
    error TEXT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    applied_at TEXT NULL
);
CREATE UNIQUE INDEX ux_fixes_finding_codemod ON fixes (finding_id, codemod);
CREATE INDEX ix_fixes_project ON fixes (project_id, id);
