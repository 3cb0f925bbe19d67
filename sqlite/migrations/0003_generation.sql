-- The reference generation: a counter that every change to the tables read
-- for access checks raises, in the transaction of the change. Lookups of
-- those rows are cached per generation (sqlstore's refs): two transactions
-- that read the same generation read the same rows there. New tokens leave
-- it alone (a token that did not exist is never cached); changed and
-- deleted ones raise it.

CREATE TABLE generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
);
INSERT INTO generation (id, n) VALUES (1, 1);
CREATE TRIGGER users_insert_generation AFTER INSERT ON users BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER users_update_generation AFTER UPDATE ON users BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER users_delete_generation AFTER DELETE ON users BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER organizations_insert_generation AFTER INSERT ON organizations BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER organizations_update_generation AFTER UPDATE ON organizations BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER organizations_delete_generation AFTER DELETE ON organizations BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER members_insert_generation AFTER INSERT ON members BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER members_update_generation AFTER UPDATE ON members BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER members_delete_generation AFTER DELETE ON members BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER spaces_insert_generation AFTER INSERT ON spaces BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER spaces_update_generation AFTER UPDATE ON spaces BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER spaces_delete_generation AFTER DELETE ON spaces BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER integrations_insert_generation AFTER INSERT ON integrations BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER integrations_update_generation AFTER UPDATE ON integrations BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER integrations_delete_generation AFTER DELETE ON integrations BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER installations_insert_generation AFTER INSERT ON installations BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER installations_update_generation AFTER UPDATE ON installations BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER installations_delete_generation AFTER DELETE ON installations BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER deliveries_insert_generation AFTER INSERT ON deliveries BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER deliveries_update_generation AFTER UPDATE ON deliveries BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER deliveries_delete_generation AFTER DELETE ON deliveries BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER tokens_update_generation AFTER UPDATE ON tokens BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER tokens_delete_generation AFTER DELETE ON tokens BEGIN UPDATE generation SET n = n + 1; END;
