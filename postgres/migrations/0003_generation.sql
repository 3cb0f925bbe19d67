-- The reference generation: a counter that every change to the tables read
-- for access checks raises, in the transaction of the change. Lookups of
-- those rows are cached per generation (sqlstore's refs): two transactions
-- that read the same generation read the same rows there. New tokens leave
-- it alone (a token that did not exist is never cached); changed and
-- deleted ones raise it.

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
CREATE TRIGGER users_generation AFTER INSERT OR UPDATE OR DELETE ON users FOR EACH ROW EXECUTE FUNCTION raise_generation();
CREATE TRIGGER organizations_generation AFTER INSERT OR UPDATE OR DELETE ON organizations FOR EACH ROW EXECUTE FUNCTION raise_generation();
CREATE TRIGGER members_generation AFTER INSERT OR UPDATE OR DELETE ON members FOR EACH ROW EXECUTE FUNCTION raise_generation();
CREATE TRIGGER spaces_generation AFTER INSERT OR UPDATE OR DELETE ON spaces FOR EACH ROW EXECUTE FUNCTION raise_generation();
CREATE TRIGGER integrations_generation AFTER INSERT OR UPDATE OR DELETE ON integrations FOR EACH ROW EXECUTE FUNCTION raise_generation();
CREATE TRIGGER installations_generation AFTER INSERT OR UPDATE OR DELETE ON installations FOR EACH ROW EXECUTE FUNCTION raise_generation();
CREATE TRIGGER deliveries_generation AFTER INSERT OR UPDATE OR DELETE ON deliveries FOR EACH ROW EXECUTE FUNCTION raise_generation();
CREATE TRIGGER tokens_generation AFTER UPDATE OR DELETE ON tokens FOR EACH ROW EXECUTE FUNCTION raise_generation();
