-- Space installations no longer refer to their installation and their space
-- through foreign keys, for the reason events no longer refer to their
-- integration (migration 0009): each key's check locked the row it refers
-- to for every enable, one more WAL record each, and a MultiXact when two
-- transactions lock the same row. What the keys did is done now without a
-- lock in the writers' transactions:
--   - no space installation of an installation or a space that does not
--     exist: Tx.CreateSpaceInstallation and Tx.AddSpaceInstallation look
--     both up in the transaction's snapshot (the reference cache, at the
--     generation the transaction read; a lock in the READ COMMITTED
--     transactions of UpdateLeases). A concurrent deletion of either raises
--     the generation and deletes the space installations of what it
--     deleted, a range of an index in which a new space installation goes:
--     of two such serializable transactions PostgreSQL cancels one
--     (TestSpaceInstallationsOfDeletedRows);
--   - deleting an installation (or its integration) or a space deletes its
--     space installations: the triggers below, once per row deleted, along
--     space_installations_created and the primary key.
ALTER TABLE space_installations DROP CONSTRAINT space_installations_installation_id_fkey;
ALTER TABLE space_installations DROP CONSTRAINT space_installations_space_id_fkey;

CREATE FUNCTION delete_installation_spaces() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM space_installations WHERE installation_id = OLD.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER installations_delete_spaces AFTER DELETE ON installations
    FOR EACH ROW EXECUTE FUNCTION delete_installation_spaces();

CREATE FUNCTION delete_space_installations() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM space_installations WHERE space_id = OLD.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER spaces_delete_installations AFTER DELETE ON spaces
    FOR EACH ROW EXECUTE FUNCTION delete_space_installations();
