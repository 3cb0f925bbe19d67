-- One enable, as the server sends one alone in its batch: one serializable
-- transaction of two round trips, the BEGIN, the reading of the version and
-- the reference generation and the space installation's insert in one
-- pipeline; the event, with its attempt in its row, and the COMMIT in
-- another.
\set s random(1, 10000)
\set i random(1, 500)
\startpipeline
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT pg_current_snapshot()::text, n FROM generation;
INSERT INTO space_installations VALUES ('i' || :i, 's' || :s, 'active', '{}', :client_id) ON CONFLICT DO NOTHING;
\endpipeline
\startpipeline
INSERT INTO events (id, integration_id, payload, status, created_at, first_attempt_error) VALUES (clock_timestamp()::text || :client_id, 'i' || :i, '{"type":"space_installation_setup"}', 'failed', 0, 'not delivered');
COMMIT;
\endpipeline
