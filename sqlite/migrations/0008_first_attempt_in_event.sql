-- An event that cannot be delivered when it is created (its integration has
-- nowhere to send it) fails at once, with one attempt that says why. That
-- attempt now lives in the event's own row: no row and no index entry of
-- event_attempts for the most frequent write of all. An event has one there
-- when first_attempt_at is not 0; its later attempts stay in event_attempts.
ALTER TABLE events ADD COLUMN first_attempt_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN first_attempt_error TEXT NOT NULL DEFAULT '';
