-- Resource limits per project (null: the instance default, Slipway:Runtime:Resources:Default) and per environment
-- (null: the project's). CPUs in thousandths.
ALTER TABLE projects ADD COLUMN resource_memory_mb INTEGER NULL;
ALTER TABLE projects ADD COLUMN resource_millicpus INTEGER NULL;
ALTER TABLE projects ADD COLUMN resource_pids INTEGER NULL;
ALTER TABLE environments ADD COLUMN resource_memory_mb INTEGER NULL;
ALTER TABLE environments ADD COLUMN resource_millicpus INTEGER NULL;
ALTER TABLE environments ADD COLUMN resource_pids INTEGER NULL;
