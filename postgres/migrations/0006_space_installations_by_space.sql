-- Space installations are keyed by (space_id, installation_id): the primary
-- key is then also what lists a space's installations, and the index by
-- space goes, one index fewer to write when an integration is enabled or
-- disabled on a space. (SQLite's migration of the same number rebuilds the
-- table, clustered on that key.) The external IDs refer to the new key.
ALTER TABLE space_installation_external_ids DROP CONSTRAINT space_installation_external_ids_installation_id_space_id_fkey;
ALTER TABLE space_installations DROP CONSTRAINT space_installations_pkey;
ALTER TABLE space_installations ADD PRIMARY KEY (space_id, installation_id);
DROP INDEX space_installations_space;
ALTER TABLE space_installation_external_ids ADD FOREIGN KEY (space_id, installation_id)
    REFERENCES space_installations (space_id, installation_id) ON DELETE CASCADE;
