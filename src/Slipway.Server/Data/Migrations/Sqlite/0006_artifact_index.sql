-- Collecting a release asks whether any other deployment still uses its artifact: answered from an index, not a scan.
CREATE INDEX ix_deployments_artifact ON deployments (artifact_sha256);
