-- Events no longer refer to their integration through a foreign key. The
-- key's check locks the integration's row (FOR KEY SHARE) for every event
-- inserted: a row lock is a change of the row's page, with its own record
-- in the WAL, and a MultiXact when two transactions lock the same row. On
-- the most frequent write of all (an enable or a disable, each with its
-- event) that was about a fifth of PostgreSQL's CPU (bench/HISTORY.md). The
-- key did two things, done now without a lock in the writers'
-- transactions:
--   - no event of an integration that does not exist: Tx.CreateEvent looks
--     the integration up in the transaction's snapshot (from the reference
--     cache, at the generation the transaction read; in the READ COMMITTED
--     transactions of UpdateLeases with a lock, as the key did). An
--     integration deleted by a concurrent transaction cannot leave an event
--     behind: that transaction raises the generation, which every write
--     transaction reads, and deletes the integration's events, a range of
--     events_integration in which the event goes, so that each of two such
--     serializable transactions reads what the other writes and PostgreSQL
--     cancels one of them (TestEventsOfADeletedIntegration);
--   - deleting an integration, or its organization, deletes its events:
--     the trigger below, once per integration, along events_integration.
ALTER TABLE events DROP CONSTRAINT events_integration_id_fkey;

CREATE FUNCTION delete_integration_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM events WHERE integration_id = OLD.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER integrations_delete_events AFTER DELETE ON integrations
    FOR EACH ROW EXECUTE FUNCTION delete_integration_events();
