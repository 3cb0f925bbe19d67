-- Tables of the shape of those an enable or disable writes.
CREATE TABLE generation (id INT PRIMARY KEY, n BIGINT NOT NULL);
INSERT INTO generation VALUES (1, 1);
CREATE TABLE space_installations (
    installation_id TEXT COLLATE "C" NOT NULL,
    space_id        TEXT COLLATE "C" NOT NULL,
    status          TEXT COLLATE "C" NOT NULL,
    configuration   TEXT COLLATE "C" NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (space_id, installation_id)
);
CREATE INDEX space_installations_created ON space_installations (installation_id, created_at, space_id);
CREATE TABLE events (
    seq            BIGSERIAL PRIMARY KEY,
    id             TEXT COLLATE "C" NOT NULL UNIQUE,
    integration_id TEXT COLLATE "C" NOT NULL,
    payload        TEXT COLLATE "C" NOT NULL,
    status         TEXT COLLATE "C" NOT NULL,
    created_at     BIGINT NOT NULL,
    first_attempt_error TEXT COLLATE "C" NOT NULL DEFAULT ''
);
CREATE INDEX events_integration ON events (integration_id, seq);
CREATE TABLE event_attempts (
    seq      BIGSERIAL PRIMARY KEY,
    event_id TEXT COLLATE "C" NOT NULL,
    error    TEXT COLLATE "C" NOT NULL
);
CREATE INDEX event_attempts_event ON event_attempts (event_id, seq);
