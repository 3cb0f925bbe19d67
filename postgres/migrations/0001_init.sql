-- The initial schema, as sqlite/migrations/0001_init.sql. Times are
-- microseconds since the Unix epoch (UTC) in BIGINT; JSON lives in TEXT
-- columns; booleans are INTEGER 0 or 1. Every TEXT column is COLLATE "C" so
-- that comparisons and ORDER BY are byte-wise, as in SQLite.

CREATE TABLE settings (
    key   TEXT COLLATE "C" PRIMARY KEY,
    value TEXT COLLATE "C" NOT NULL
);

CREATE TABLE users (
    id           TEXT COLLATE "C" PRIMARY KEY,
    display_name TEXT COLLATE "C" NOT NULL,
    email        TEXT COLLATE "C" UNIQUE,
    photo_url    TEXT COLLATE "C" NOT NULL DEFAULT '',
    staff        INTEGER NOT NULL DEFAULT 0,
    search       TEXT COLLATE "C" NOT NULL,
    created_at   BIGINT NOT NULL
);

CREATE TABLE organizations (
    id            TEXT COLLATE "C" PRIMARY KEY,
    title         TEXT COLLATE "C" NOT NULL,
    hostname      TEXT COLLATE "C" UNIQUE,
    email_domains TEXT COLLATE "C" NOT NULL DEFAULT '[]',
    created_at    BIGINT NOT NULL
);
CREATE INDEX organizations_title ON organizations (title);
CREATE INDEX organizations_created ON organizations (created_at, id);

CREATE TABLE members (
    organization_id TEXT COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            TEXT COLLATE "C" NOT NULL,
    joined_at       BIGINT NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX members_user ON members (user_id);

CREATE TABLE spaces (
    id              TEXT COLLATE "C" PRIMARY KEY,
    organization_id TEXT COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    title           TEXT COLLATE "C" NOT NULL DEFAULT '',
    emoji           TEXT COLLATE "C" NOT NULL DEFAULT '',
    icon            TEXT COLLATE "C" NOT NULL DEFAULT '',
    visibility      TEXT COLLATE "C" NOT NULL,
    edit_mode       TEXT COLLATE "C" NOT NULL DEFAULT '',
    language        TEXT COLLATE "C" NOT NULL DEFAULT '',
    default_level   TEXT COLLATE "C" NOT NULL DEFAULT 'inherit',
    merge_rules     TEXT COLLATE "C",
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX spaces_organization ON spaces (organization_id, created_at, id);
CREATE INDEX spaces_title ON spaces (organization_id, title);

CREATE TABLE integrations (
    id                  TEXT COLLATE "C" PRIMARY KEY,
    name                TEXT COLLATE "C" NOT NULL UNIQUE,
    organization_id     TEXT COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    version             BIGINT NOT NULL,
    verified            INTEGER NOT NULL DEFAULT 0,
    title               TEXT COLLATE "C" NOT NULL,
    visibility          TEXT COLLATE "C" NOT NULL,
    target              TEXT COLLATE "C" NOT NULL,
    search              TEXT COLLATE "C" NOT NULL,
    categories          TEXT COLLATE "C" NOT NULL,
    scopes              TEXT COLLATE "C" NOT NULL,
    block_domains       TEXT COLLATE "C" NOT NULL,
    has_blocks          INTEGER NOT NULL,
    has_content_sources INTEGER NOT NULL,
    definition          TEXT COLLATE "C" NOT NULL,
    script              TEXT COLLATE "C" NOT NULL,
    icon                TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX integrations_organization ON integrations (organization_id);

CREATE TABLE assets (
    integration_id TEXT COLLATE "C" NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    id             TEXT COLLATE "C" NOT NULL,
    content_type   TEXT COLLATE "C" NOT NULL,
    data           BYTEA NOT NULL,
    PRIMARY KEY (integration_id, id)
);

CREATE TABLE installations (
    id              TEXT COLLATE "C" PRIMARY KEY,
    integration_id  TEXT COLLATE "C" NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    organization_id TEXT COLLATE "C" NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    status          TEXT COLLATE "C" NOT NULL,
    space_selection TEXT COLLATE "C" NOT NULL,
    site_selection  TEXT COLLATE "C" NOT NULL,
    configuration   TEXT COLLATE "C" NOT NULL,
    external_ids    TEXT COLLATE "C" NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (integration_id, organization_id)
);
CREATE INDEX installations_organization ON installations (organization_id, created_at, id);
CREATE INDEX installations_integration ON installations (integration_id, created_at, id);

CREATE TABLE installation_external_ids (
    installation_id TEXT COLLATE "C" NOT NULL REFERENCES installations (id) ON DELETE CASCADE,
    external_id     TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (installation_id, external_id)
);
CREATE INDEX installation_external_ids_value ON installation_external_ids (external_id);

CREATE TABLE space_installations (
    installation_id TEXT COLLATE "C" NOT NULL REFERENCES installations (id) ON DELETE CASCADE,
    space_id        TEXT COLLATE "C" NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
    status          TEXT COLLATE "C" NOT NULL,
    configuration   TEXT COLLATE "C" NOT NULL,
    external_ids    TEXT COLLATE "C" NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (installation_id, space_id)
);
CREATE INDEX space_installations_space ON space_installations (space_id);
CREATE INDEX space_installations_created ON space_installations (installation_id, created_at, space_id);

CREATE TABLE space_installation_external_ids (
    installation_id TEXT COLLATE "C" NOT NULL,
    space_id        TEXT COLLATE "C" NOT NULL,
    external_id     TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (installation_id, space_id, external_id),
    FOREIGN KEY (installation_id, space_id) REFERENCES space_installations (installation_id, space_id) ON DELETE CASCADE
);
CREATE INDEX space_installation_external_ids_value ON space_installation_external_ids (external_id);

CREATE TABLE tokens (
    hash            TEXT COLLATE "C" PRIMARY KEY,
    kind            TEXT COLLATE "C" NOT NULL,
    user_id         TEXT COLLATE "C" REFERENCES users (id) ON DELETE CASCADE,
    integration_id  TEXT COLLATE "C" REFERENCES integrations (id) ON DELETE CASCADE,
    installation_id TEXT COLLATE "C" REFERENCES installations (id) ON DELETE CASCADE,
    expires_at      BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL
);
CREATE INDEX tokens_user ON tokens (user_id);
CREATE INDEX tokens_integration ON tokens (integration_id);
CREATE INDEX tokens_installation ON tokens (installation_id);
