-- The reference generation: a counter that every change to the tables read
-- for access checks raises, in the transaction of the change. Lookups of
-- those rows are cached per generation (sqlstore/refs.go): two transactions
-- that read the same generation read the same rows there. New tokens leave
-- it alone (a token that did not exist is never cached); changed and
-- deleted ones raise it. An UPDATE that changes nothing leaves it alone, so
-- that seeding a fixture again changes nothing.
--
-- A migration that adds a column to one of these tables must create its
-- UPDATE trigger again, with the new column in the WHEN clause.

CREATE TABLE generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
);
INSERT INTO generation (id, n) VALUES (1, 1);

CREATE TRIGGER users_insert_generation AFTER INSERT ON users
BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER users_update_generation AFTER UPDATE ON users WHEN (OLD.id, OLD.display_name, OLD.email, OLD.photo_url, OLD.staff, OLD.search, OLD.created_at) IS NOT (NEW.id, NEW.display_name, NEW.email, NEW.photo_url, NEW.staff, NEW.search, NEW.created_at)
BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER users_delete_generation AFTER DELETE ON users
BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER organizations_insert_generation AFTER INSERT ON organizations
BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER organizations_update_generation AFTER UPDATE ON organizations WHEN (OLD.id, OLD.title, OLD.hostname, OLD.email_domains, OLD.created_at) IS NOT (NEW.id, NEW.title, NEW.hostname, NEW.email_domains, NEW.created_at)
BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER organizations_delete_generation AFTER DELETE ON organizations
BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER members_insert_generation AFTER INSERT ON members
BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER members_update_generation AFTER UPDATE ON members WHEN (OLD.organization_id, OLD.user_id, OLD.role, OLD.joined_at) IS NOT (NEW.organization_id, NEW.user_id, NEW.role, NEW.joined_at)
BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER members_delete_generation AFTER DELETE ON members
BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER spaces_insert_generation AFTER INSERT ON spaces
BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER spaces_update_generation AFTER UPDATE ON spaces WHEN (OLD.id, OLD.organization_id, OLD.title, OLD.emoji, OLD.icon, OLD.visibility, OLD.edit_mode, OLD.language, OLD.default_level, OLD.merge_rules, OLD.created_at, OLD.updated_at) IS NOT (NEW.id, NEW.organization_id, NEW.title, NEW.emoji, NEW.icon, NEW.visibility, NEW.edit_mode, NEW.language, NEW.default_level, NEW.merge_rules, NEW.created_at, NEW.updated_at)
BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER spaces_delete_generation AFTER DELETE ON spaces
BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER integrations_insert_generation AFTER INSERT ON integrations
BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER integrations_update_generation AFTER UPDATE ON integrations WHEN (OLD.id, OLD.name, OLD.organization_id, OLD.version, OLD.verified, OLD.title, OLD.visibility, OLD.target, OLD.search, OLD.categories, OLD.scopes, OLD.block_domains, OLD.has_blocks, OLD.has_content_sources, OLD.definition, OLD.script, OLD.icon, OLD.created_at, OLD.updated_at) IS NOT (NEW.id, NEW.name, NEW.organization_id, NEW.version, NEW.verified, NEW.title, NEW.visibility, NEW.target, NEW.search, NEW.categories, NEW.scopes, NEW.block_domains, NEW.has_blocks, NEW.has_content_sources, NEW.definition, NEW.script, NEW.icon, NEW.created_at, NEW.updated_at)
BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER integrations_delete_generation AFTER DELETE ON integrations
BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER installations_insert_generation AFTER INSERT ON installations
BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER installations_update_generation AFTER UPDATE ON installations WHEN (OLD.id, OLD.integration_id, OLD.organization_id, OLD.status, OLD.space_selection, OLD.site_selection, OLD.configuration, OLD.external_ids, OLD.created_at, OLD.updated_at) IS NOT (NEW.id, NEW.integration_id, NEW.organization_id, NEW.status, NEW.space_selection, NEW.site_selection, NEW.configuration, NEW.external_ids, NEW.created_at, NEW.updated_at)
BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER installations_delete_generation AFTER DELETE ON installations
BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER deliveries_insert_generation AFTER INSERT ON deliveries
BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER deliveries_update_generation AFTER UPDATE ON deliveries WHEN (OLD.integration_id, OLD.tunnel_url, OLD.tunnel_all, OLD.url, OLD.format, OLD.signing_secret) IS NOT (NEW.integration_id, NEW.tunnel_url, NEW.tunnel_all, NEW.url, NEW.format, NEW.signing_secret)
BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER deliveries_delete_generation AFTER DELETE ON deliveries
BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER tokens_update_generation AFTER UPDATE ON tokens WHEN (OLD.hash, OLD.kind, OLD.user_id, OLD.integration_id, OLD.installation_id, OLD.expires_at, OLD.created_at) IS NOT (NEW.hash, NEW.kind, NEW.user_id, NEW.integration_id, NEW.installation_id, NEW.expires_at, NEW.created_at)
BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER tokens_delete_generation AFTER DELETE ON tokens
BEGIN UPDATE generation SET n = n + 1; END;
