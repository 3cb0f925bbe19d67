-- The reference generation: a counter that every change to the tables read
-- for access checks raises, in the transaction of the change. Lookups of
-- those rows are cached per generation (sqlstore/refs.go): two transactions
-- that read the same generation read the same rows there. New tokens leave
-- it alone (a token that did not exist is never cached); changed and
-- deleted ones raise it. An UPDATE that changes nothing leaves it alone, so
-- that seeding a fixture again changes nothing.

CREATE TABLE generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  BIGINT NOT NULL
);
INSERT INTO generation (id, n) VALUES (1, 1);

CREATE FUNCTION raise_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE generation SET n = n + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_insert_delete_generation AFTER INSERT OR DELETE ON users FOR EACH ROW EXECUTE FUNCTION raise_generation();
CREATE TRIGGER users_update_generation AFTER UPDATE ON users FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION raise_generation();
CREATE TRIGGER organizations_insert_delete_generation AFTER INSERT OR DELETE ON organizations FOR EACH ROW EXECUTE FUNCTION raise_generation();
CREATE TRIGGER organizations_update_generation AFTER UPDATE ON organizations FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION raise_generation();
CREATE TRIGGER members_insert_delete_generation AFTER INSERT OR DELETE ON members FOR EACH ROW EXECUTE FUNCTION raise_generation();
CREATE TRIGGER members_update_generation AFTER UPDATE ON members FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION raise_generation();
CREATE TRIGGER spaces_insert_delete_generation AFTER INSERT OR DELETE ON spaces FOR EACH ROW EXECUTE FUNCTION raise_generation();
CREATE TRIGGER spaces_update_generation AFTER UPDATE ON spaces FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION raise_generation();
CREATE TRIGGER integrations_insert_delete_generation AFTER INSERT OR DELETE ON integrations FOR EACH ROW EXECUTE FUNCTION raise_generation();
CREATE TRIGGER integrations_update_generation AFTER UPDATE ON integrations FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION raise_generation();
CREATE TRIGGER installations_insert_delete_generation AFTER INSERT OR DELETE ON installations FOR EACH ROW EXECUTE FUNCTION raise_generation();
CREATE TRIGGER installations_update_generation AFTER UPDATE ON installations FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION raise_generation();
CREATE TRIGGER deliveries_insert_delete_generation AFTER INSERT OR DELETE ON deliveries FOR EACH ROW EXECUTE FUNCTION raise_generation();
CREATE TRIGGER deliveries_update_generation AFTER UPDATE ON deliveries FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION raise_generation();
CREATE TRIGGER tokens_delete_generation AFTER DELETE ON tokens FOR EACH ROW EXECUTE FUNCTION raise_generation();
CREATE TRIGGER tokens_update_generation AFTER UPDATE ON tokens FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION raise_generation();
