-- The reference generation: a counter that every change to the tables read
-- for access checks raises, in the transaction of the change. Lookups of
-- those rows are cached per generation (sqlstore/refs.go): two transactions
-- that read the same generation read the same rows there. New tokens leave
-- it alone (a token that did not exist is never cached); changed and
-- deleted ones raise it. An UPDATE that changes nothing leaves it alone, so
-- that seeding a fixture again changes nothing.

--
-- The triggers run once per statement, not per row: a statement that
-- changes thousands of rows (a bulk load, a cascade) raises it once, where a
-- row trigger would update the one row of generation thousands of times in
-- one transaction, each update slower than the one before. Each looks at
-- the rows its statement changed (its transition tables) and raises the
-- generation only if there are any, and for an UPDATE only if one of them
-- differs from what it was.

CREATE TABLE generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  BIGINT NOT NULL
);
INSERT INTO generation (id, n) VALUES (1, 1);

CREATE FUNCTION raise_generation_if_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM changed) THEN
        UPDATE generation SET n = n + 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION raise_generation_if_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT * FROM changed EXCEPT SELECT * FROM before) THEN
        UPDATE generation SET n = n + 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_insert_generation AFTER INSERT ON users REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION raise_generation_if_rows();
CREATE TRIGGER users_delete_generation AFTER DELETE ON users REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION raise_generation_if_rows();
CREATE TRIGGER users_update_generation AFTER UPDATE ON users REFERENCING OLD TABLE AS before NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION raise_generation_if_changed();
CREATE TRIGGER organizations_insert_generation AFTER INSERT ON organizations REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION raise_generation_if_rows();
CREATE TRIGGER organizations_delete_generation AFTER DELETE ON organizations REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION raise_generation_if_rows();
CREATE TRIGGER organizations_update_generation AFTER UPDATE ON organizations REFERENCING OLD TABLE AS before NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION raise_generation_if_changed();
CREATE TRIGGER members_insert_generation AFTER INSERT ON members REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION raise_generation_if_rows();
CREATE TRIGGER members_delete_generation AFTER DELETE ON members REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION raise_generation_if_rows();
CREATE TRIGGER members_update_generation AFTER UPDATE ON members REFERENCING OLD TABLE AS before NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION raise_generation_if_changed();
CREATE TRIGGER spaces_insert_generation AFTER INSERT ON spaces REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION raise_generation_if_rows();
CREATE TRIGGER spaces_delete_generation AFTER DELETE ON spaces REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION raise_generation_if_rows();
CREATE TRIGGER spaces_update_generation AFTER UPDATE ON spaces REFERENCING OLD TABLE AS before NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION raise_generation_if_changed();
CREATE TRIGGER integrations_insert_generation AFTER INSERT ON integrations REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION raise_generation_if_rows();
CREATE TRIGGER integrations_delete_generation AFTER DELETE ON integrations REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION raise_generation_if_rows();
CREATE TRIGGER integrations_update_generation AFTER UPDATE ON integrations REFERENCING OLD TABLE AS before NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION raise_generation_if_changed();
CREATE TRIGGER installations_insert_generation AFTER INSERT ON installations REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION raise_generation_if_rows();
CREATE TRIGGER installations_delete_generation AFTER DELETE ON installations REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION raise_generation_if_rows();
CREATE TRIGGER installations_update_generation AFTER UPDATE ON installations REFERENCING OLD TABLE AS before NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION raise_generation_if_changed();
CREATE TRIGGER deliveries_insert_generation AFTER INSERT ON deliveries REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION raise_generation_if_rows();
CREATE TRIGGER deliveries_delete_generation AFTER DELETE ON deliveries REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION raise_generation_if_rows();
CREATE TRIGGER deliveries_update_generation AFTER UPDATE ON deliveries REFERENCING OLD TABLE AS before NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION raise_generation_if_changed();
CREATE TRIGGER tokens_delete_generation AFTER DELETE ON tokens REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION raise_generation_if_rows();
CREATE TRIGGER tokens_update_generation AFTER UPDATE ON tokens REFERENCING OLD TABLE AS before NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION raise_generation_if_changed();
