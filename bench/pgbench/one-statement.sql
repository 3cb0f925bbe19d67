-- The least a write can be: one statement in a transaction of its own.
\set s random(1, 10000)
INSERT INTO event_attempts (event_id, error) VALUES ('e' || :s, 'x');
