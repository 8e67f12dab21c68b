-- One-time instance roles claimed by insert: the primary key makes "first account becomes administrator" race-free.
CREATE TABLE instance_claims (
    name TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL
);

-- Stored idempotent responses can hold secrets shown once (a new API key): they are sealed like env var values.
ALTER TABLE idempotency_records ADD COLUMN key_id TEXT NULL;
