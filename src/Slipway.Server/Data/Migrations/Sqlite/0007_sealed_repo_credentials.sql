-- The user-info part of a repository URL (https://deploy:TOKEN@host/r.git) is sealed with the master key; repo_url keeps
-- the URL with '****' in its place. Rows written before this migration are sealed at the next start (RepoCredentials).
ALTER TABLE projects ADD COLUMN repo_credential_sealed BLOB NULL;
ALTER TABLE projects ADD COLUMN repo_credential_key_id TEXT NULL;
