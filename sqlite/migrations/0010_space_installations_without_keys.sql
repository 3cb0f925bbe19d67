-- Nothing changes on SQLite: PostgreSQL's migration of the same number
-- replaces the foreign keys from space installations to their installation
-- and their space, whose checks lock those rows for every enable. SQLite's
-- writers take turns, its keys' checks are lookups without a lock, and the
-- keys stay.
SELECT 1;
