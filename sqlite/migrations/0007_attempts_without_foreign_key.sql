-- Nothing changes on SQLite: PostgreSQL's migration of the same number
-- replaces the foreign key from event attempts to their events, whose
-- checks make its serializable writers conflict. SQLite's writers take
-- turns, and its foreign key stays.
SELECT 1;
