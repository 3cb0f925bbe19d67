-- An event's attempts no longer refer to it through a foreign key. Every
-- write that emits an event failed at once (it has nowhere to go) inserts
-- the event and its attempt together, and the key's check reads the newest
-- entries of the events' index, where every concurrent write inserts its
-- own: in serializable transactions each such pair of writes then reads
-- what the other writes, and PostgreSQL cancels one of them (a fifth of
-- them, under a load of concurrent enables and disables). The key did two
-- things, done now without reading in the writers' transactions:
--   - no attempt of an event that does not exist: the store adds one only
--     to an event of its own transaction (Tx.AddAttempt), or of a row it
--     locked (Tx.RecordAttempt);
--   - deleting events deletes their attempts: the trigger below.
ALTER TABLE event_attempts DROP CONSTRAINT event_attempts_event_id_fkey;

CREATE FUNCTION delete_event_attempts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM event_attempts a USING deleted_events d WHERE a.event_id = d.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER events_delete_attempts AFTER DELETE ON events
    REFERENCING OLD TABLE AS deleted_events
    FOR EACH STATEMENT EXECUTE FUNCTION delete_event_attempts();
