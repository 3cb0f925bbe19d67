-- Space installations are kept in a table clustered by space, without rowids:
-- the primary key (space_id, installation_id) is the table itself, and also
-- what lists a space's installations, so that enabling or disabling an
-- integration on a space writes two B-trees (the table and the index by
-- installation) where it wrote four (the rowid table, the index of the
-- primary key, the index by space and the one by installation).
--
-- SQLite cannot change a table's key in place. The tables are copied aside,
-- dropped (the external IDs first, so that dropping the space installations
-- cascades to nothing) and made again.
CREATE TEMP TABLE space_installations_copy AS SELECT * FROM space_installations;
CREATE TEMP TABLE space_installation_external_ids_copy AS SELECT * FROM space_installation_external_ids;
DROP TABLE space_installation_external_ids;
DROP TABLE space_installations;

CREATE TABLE space_installations (
    installation_id TEXT NOT NULL REFERENCES installations (id) ON DELETE CASCADE,
    space_id        TEXT NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
    status          TEXT NOT NULL,
    configuration   TEXT NOT NULL,
    external_ids    TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (space_id, installation_id)
) WITHOUT ROWID;
CREATE INDEX space_installations_created ON space_installations (installation_id, created_at, space_id);

CREATE TABLE space_installation_external_ids (
    installation_id TEXT NOT NULL,
    space_id        TEXT NOT NULL,
    external_id     TEXT NOT NULL,
    PRIMARY KEY (installation_id, space_id, external_id),
    FOREIGN KEY (space_id, installation_id) REFERENCES space_installations (space_id, installation_id) ON DELETE CASCADE
);
CREATE INDEX space_installation_external_ids_value ON space_installation_external_ids (external_id);

INSERT INTO space_installations SELECT installation_id, space_id, status, configuration, external_ids, created_at, updated_at FROM space_installations_copy;
INSERT INTO space_installation_external_ids SELECT installation_id, space_id, external_id FROM space_installation_external_ids_copy;
DROP TABLE space_installations_copy;
DROP TABLE space_installation_external_ids_copy;
