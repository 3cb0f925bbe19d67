-- Event delivery: the outbox of events, the attempts to deliver them, and
-- where each integration's events go.

CREATE TABLE events (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    integration_id  TEXT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    installation_id TEXT NOT NULL DEFAULT '',
    space_id        TEXT NOT NULL DEFAULT '',
    organization_id TEXT NOT NULL DEFAULT '',
    type            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    locked_by       TEXT NOT NULL DEFAULT '',
    locked_until    INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX events_due ON events (status, next_attempt_at);
CREATE INDEX events_integration ON events (integration_id, seq);
CREATE INDEX events_installation ON events (installation_id, seq);

CREATE TABLE event_attempts (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id    TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    target      TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    error       TEXT NOT NULL,
    duration_us INTEGER NOT NULL
);
CREATE INDEX event_attempts_event ON event_attempts (event_id, seq);

CREATE TABLE deliveries (
    integration_id TEXT PRIMARY KEY REFERENCES integrations (id) ON DELETE CASCADE,
    tunnel_url     TEXT NOT NULL DEFAULT '',
    tunnel_all     INTEGER NOT NULL DEFAULT 0,
    url            TEXT NOT NULL DEFAULT '',
    format         TEXT NOT NULL DEFAULT 'runtime',
    signing_secret TEXT NOT NULL
);

CREATE INDEX tokens_expires ON tokens (expires_at);
