-- A project's port never reached its app: every release gets a free loopback port as $PORT (an old and a new release
-- serve side by side during a switch, so no fixed port could work). The API still accepts the field and ignores it.
ALTER TABLE projects DROP COLUMN port;
