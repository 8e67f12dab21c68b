-- Resource limits per project (null: the instance default, Slipway:Runtime:Resources:Default). CPUs in thousandths.
ALTER TABLE projects ADD COLUMN resource_memory_mb INTEGER NULL;
ALTER TABLE projects ADD COLUMN resource_millicpus INTEGER NULL;
ALTER TABLE projects ADD COLUMN resource_pids INTEGER NULL;
