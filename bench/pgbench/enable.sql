-- One enable, as the server sends it, in one serializable transaction: the
-- BEGIN with the reading of the reference generation, the space
-- installation's insert, the event with its attempt (one statement), the
-- COMMIT. The server sends the BEGIN and the reading as one query; pgbench,
-- whose prepared statements hold one command each, sends them apart: five
-- round trips where the server makes four.
\set s random(1, 10000)
\set i random(1, 500)
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT n FROM generation;
INSERT INTO space_installations VALUES ('i' || :i, 's' || :s, 'active', '{}', :client_id) ON CONFLICT DO NOTHING;
WITH attempt AS (INSERT INTO event_attempts (event_id, error) VALUES (clock_timestamp()::text || :client_id, 'not delivered'))
INSERT INTO events (id, integration_id, payload, status, created_at) VALUES (clock_timestamp()::text || :client_id, 'i' || :i, '{"type":"space_installation_setup"}', 'failed', 0);
COMMIT;
