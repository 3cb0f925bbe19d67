-- The initial schema. Times are microseconds since the Unix epoch (UTC);
-- JSON lives in TEXT columns; booleans are 0 or 1.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id           TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    email        TEXT UNIQUE,
    photo_url    TEXT NOT NULL DEFAULT '',
    staff        INTEGER NOT NULL DEFAULT 0,
    search       TEXT NOT NULL,
    created_at   INTEGER NOT NULL
);

CREATE TABLE organizations (
    id            TEXT PRIMARY KEY,
    title         TEXT NOT NULL,
    hostname      TEXT UNIQUE,
    email_domains TEXT NOT NULL DEFAULT '[]',
    created_at    INTEGER NOT NULL
);
CREATE INDEX organizations_title ON organizations (title);
CREATE INDEX organizations_created ON organizations (created_at, id);

CREATE TABLE members (
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            TEXT NOT NULL,
    joined_at       INTEGER NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX members_user ON members (user_id);

CREATE TABLE spaces (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    title           TEXT NOT NULL DEFAULT '',
    emoji           TEXT NOT NULL DEFAULT '',
    icon            TEXT NOT NULL DEFAULT '',
    visibility      TEXT NOT NULL,
    edit_mode       TEXT NOT NULL DEFAULT '',
    language        TEXT NOT NULL DEFAULT '',
    default_level   TEXT NOT NULL DEFAULT 'inherit',
    merge_rules     TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX spaces_organization ON spaces (organization_id, created_at, id);
CREATE INDEX spaces_title ON spaces (organization_id, title);

CREATE TABLE integrations (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL UNIQUE,
    organization_id     TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    version             INTEGER NOT NULL,
    verified            INTEGER NOT NULL DEFAULT 0,
    title               TEXT NOT NULL,
    visibility          TEXT NOT NULL,
    target              TEXT NOT NULL,
    search              TEXT NOT NULL,
    categories          TEXT NOT NULL,
    scopes              TEXT NOT NULL,
    block_domains       TEXT NOT NULL,
    has_blocks          INTEGER NOT NULL,
    has_content_sources INTEGER NOT NULL,
    definition          TEXT NOT NULL,
    script              TEXT NOT NULL,
    icon                TEXT NOT NULL DEFAULT '',
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX integrations_organization ON integrations (organization_id);

CREATE TABLE assets (
    integration_id TEXT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    id             TEXT NOT NULL,
    content_type   TEXT NOT NULL,
    data           BLOB NOT NULL,
    PRIMARY KEY (integration_id, id)
);

CREATE TABLE installations (
    id              TEXT PRIMARY KEY,
    integration_id  TEXT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    status          TEXT NOT NULL,
    space_selection TEXT NOT NULL,
    site_selection  TEXT NOT NULL,
    configuration   TEXT NOT NULL,
    external_ids    TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (integration_id, organization_id)
);
CREATE INDEX installations_organization ON installations (organization_id, created_at, id);
CREATE INDEX installations_integration ON installations (integration_id, created_at, id);

CREATE TABLE installation_external_ids (
    installation_id TEXT NOT NULL REFERENCES installations (id) ON DELETE CASCADE,
    external_id     TEXT NOT NULL,
    PRIMARY KEY (installation_id, external_id)
);
CREATE INDEX installation_external_ids_value ON installation_external_ids (external_id);

CREATE TABLE space_installations (
    installation_id TEXT NOT NULL REFERENCES installations (id) ON DELETE CASCADE,
    space_id        TEXT NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
    status          TEXT NOT NULL,
    configuration   TEXT NOT NULL,
    external_ids    TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (installation_id, space_id)
);
CREATE INDEX space_installations_space ON space_installations (space_id);
CREATE INDEX space_installations_created ON space_installations (installation_id, created_at, space_id);

CREATE TABLE space_installation_external_ids (
    installation_id TEXT NOT NULL,
    space_id        TEXT NOT NULL,
    external_id     TEXT NOT NULL,
    PRIMARY KEY (installation_id, space_id, external_id),
    FOREIGN KEY (installation_id, space_id) REFERENCES space_installations (installation_id, space_id) ON DELETE CASCADE
);
CREATE INDEX space_installation_external_ids_value ON space_installation_external_ids (external_id);

CREATE TABLE tokens (
    hash            TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    user_id         TEXT REFERENCES users (id) ON DELETE CASCADE,
    integration_id  TEXT REFERENCES integrations (id) ON DELETE CASCADE,
    installation_id TEXT REFERENCES installations (id) ON DELETE CASCADE,
    expires_at      INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL
);
CREATE INDEX tokens_user ON tokens (user_id);
CREATE INDEX tokens_integration ON tokens (integration_id);
CREATE INDEX tokens_installation ON tokens (installation_id);
