-- A batch of 16 enables, as the server's pipeline sends those that wait at
-- the same time (sqlstore/pipeline.go): one serializable transaction of two
-- round trips, the BEGIN, the reading of the version and the reference
-- generation and every space installation's insert in one pipeline; every
-- event, with its attempt in its row, and the COMMIT in another. A
-- transaction is 16 writes.
\set i random(1, 500)
\set s0 random(1, 10000)
\set s1 random(1, 10000)
\set s2 random(1, 10000)
\set s3 random(1, 10000)
\set s4 random(1, 10000)
\set s5 random(1, 10000)
\set s6 random(1, 10000)
\set s7 random(1, 10000)
\set s8 random(1, 10000)
\set s9 random(1, 10000)
\set s10 random(1, 10000)
\set s11 random(1, 10000)
\set s12 random(1, 10000)
\set s13 random(1, 10000)
\set s14 random(1, 10000)
\set s15 random(1, 10000)
\startpipeline
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT pg_current_snapshot()::text, n FROM generation;
INSERT INTO space_installations VALUES ('i' || :i, 's' || :s0, 'active', '{}', :client_id) ON CONFLICT DO NOTHING;
INSERT INTO space_installations VALUES ('i' || :i, 's' || :s1, 'active', '{}', :client_id) ON CONFLICT DO NOTHING;
INSERT INTO space_installations VALUES ('i' || :i, 's' || :s2, 'active', '{}', :client_id) ON CONFLICT DO NOTHING;
INSERT INTO space_installations VALUES ('i' || :i, 's' || :s3, 'active', '{}', :client_id) ON CONFLICT DO NOTHING;
INSERT INTO space_installations VALUES ('i' || :i, 's' || :s4, 'active', '{}', :client_id) ON CONFLICT DO NOTHING;
INSERT INTO space_installations VALUES ('i' || :i, 's' || :s5, 'active', '{}', :client_id) ON CONFLICT DO NOTHING;
INSERT INTO space_installations VALUES ('i' || :i, 's' || :s6, 'active', '{}', :client_id) ON CONFLICT DO NOTHING;
INSERT INTO space_installations VALUES ('i' || :i, 's' || :s7, 'active', '{}', :client_id) ON CONFLICT DO NOTHING;
INSERT INTO space_installations VALUES ('i' || :i, 's' || :s8, 'active', '{}', :client_id) ON CONFLICT DO NOTHING;
INSERT INTO space_installations VALUES ('i' || :i, 's' || :s9, 'active', '{}', :client_id) ON CONFLICT DO NOTHING;
INSERT INTO space_installations VALUES ('i' || :i, 's' || :s10, 'active', '{}', :client_id) ON CONFLICT DO NOTHING;
INSERT INTO space_installations VALUES ('i' || :i, 's' || :s11, 'active', '{}', :client_id) ON CONFLICT DO NOTHING;
INSERT INTO space_installations VALUES ('i' || :i, 's' || :s12, 'active', '{}', :client_id) ON CONFLICT DO NOTHING;
INSERT INTO space_installations VALUES ('i' || :i, 's' || :s13, 'active', '{}', :client_id) ON CONFLICT DO NOTHING;
INSERT INTO space_installations VALUES ('i' || :i, 's' || :s14, 'active', '{}', :client_id) ON CONFLICT DO NOTHING;
INSERT INTO space_installations VALUES ('i' || :i, 's' || :s15, 'active', '{}', :client_id) ON CONFLICT DO NOTHING;
\endpipeline
\startpipeline
INSERT INTO events (id, integration_id, payload, status, created_at, first_attempt_error) VALUES (clock_timestamp()::text || :client_id || '-0', 'i' || :i, '{"type":"space_installation_setup"}', 'failed', 0, 'not delivered');
INSERT INTO events (id, integration_id, payload, status, created_at, first_attempt_error) VALUES (clock_timestamp()::text || :client_id || '-1', 'i' || :i, '{"type":"space_installation_setup"}', 'failed', 0, 'not delivered');
INSERT INTO events (id, integration_id, payload, status, created_at, first_attempt_error) VALUES (clock_timestamp()::text || :client_id || '-2', 'i' || :i, '{"type":"space_installation_setup"}', 'failed', 0, 'not delivered');
INSERT INTO events (id, integration_id, payload, status, created_at, first_attempt_error) VALUES (clock_timestamp()::text || :client_id || '-3', 'i' || :i, '{"type":"space_installation_setup"}', 'failed', 0, 'not delivered');
INSERT INTO events (id, integration_id, payload, status, created_at, first_attempt_error) VALUES (clock_timestamp()::text || :client_id || '-4', 'i' || :i, '{"type":"space_installation_setup"}', 'failed', 0, 'not delivered');
INSERT INTO events (id, integration_id, payload, status, created_at, first_attempt_error) VALUES (clock_timestamp()::text || :client_id || '-5', 'i' || :i, '{"type":"space_installation_setup"}', 'failed', 0, 'not delivered');
INSERT INTO events (id, integration_id, payload, status, created_at, first_attempt_error) VALUES (clock_timestamp()::text || :client_id || '-6', 'i' || :i, '{"type":"space_installation_setup"}', 'failed', 0, 'not delivered');
INSERT INTO events (id, integration_id, payload, status, created_at, first_attempt_error) VALUES (clock_timestamp()::text || :client_id || '-7', 'i' || :i, '{"type":"space_installation_setup"}', 'failed', 0, 'not delivered');
INSERT INTO events (id, integration_id, payload, status, created_at, first_attempt_error) VALUES (clock_timestamp()::text || :client_id || '-8', 'i' || :i, '{"type":"space_installation_setup"}', 'failed', 0, 'not delivered');
INSERT INTO events (id, integration_id, payload, status, created_at, first_attempt_error) VALUES (clock_timestamp()::text || :client_id || '-9', 'i' || :i, '{"type":"space_installation_setup"}', 'failed', 0, 'not delivered');
INSERT INTO events (id, integration_id, payload, status, created_at, first_attempt_error) VALUES (clock_timestamp()::text || :client_id || '-10', 'i' || :i, '{"type":"space_installation_setup"}', 'failed', 0, 'not delivered');
INSERT INTO events (id, integration_id, payload, status, created_at, first_attempt_error) VALUES (clock_timestamp()::text || :client_id || '-11', 'i' || :i, '{"type":"space_installation_setup"}', 'failed', 0, 'not delivered');
INSERT INTO events (id, integration_id, payload, status, created_at, first_attempt_error) VALUES (clock_timestamp()::text || :client_id || '-12', 'i' || :i, '{"type":"space_installation_setup"}', 'failed', 0, 'not delivered');
INSERT INTO events (id, integration_id, payload, status, created_at, first_attempt_error) VALUES (clock_timestamp()::text || :client_id || '-13', 'i' || :i, '{"type":"space_installation_setup"}', 'failed', 0, 'not delivered');
INSERT INTO events (id, integration_id, payload, status, created_at, first_attempt_error) VALUES (clock_timestamp()::text || :client_id || '-14', 'i' || :i, '{"type":"space_installation_setup"}', 'failed', 0, 'not delivered');
INSERT INTO events (id, integration_id, payload, status, created_at, first_attempt_error) VALUES (clock_timestamp()::text || :client_id || '-15', 'i' || :i, '{"type":"space_installation_setup"}', 'failed', 0, 'not delivered');
COMMIT;
\endpipeline
