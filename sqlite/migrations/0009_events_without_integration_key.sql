-- Nothing changes on SQLite: PostgreSQL's migration of the same number
-- replaces the foreign key from events to their integration, whose checks
-- lock the integration's row for every event. SQLite's writers take turns,
-- its key's check is a lookup without a lock, and the key stays.
SELECT 1;
