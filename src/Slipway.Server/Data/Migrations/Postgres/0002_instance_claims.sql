-- One-time instance roles claimed by insert: the primary key makes "first account becomes administrator" race-free.
CREATE TABLE instance_claims (
    name TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL
);
