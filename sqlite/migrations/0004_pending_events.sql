-- Only pending events wait for a worker: the index that finds the due ones
-- holds those alone, in the order workers take them. An event that is
-- delivered or fails leaves it, instead of moving to another part of it.
DROP INDEX events_due;
CREATE INDEX events_pending ON events (next_attempt_at, seq) WHERE status = 'pending';
