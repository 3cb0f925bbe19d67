package crashtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"integrations"
	"integrations/internal/apitest"
)

// Check fails the test unless the store's invariants hold. Run it when no
// write is in flight. It checks:
//   - in SQL: no row refers to a missing row through any foreign key of the
//     schema (read from the database itself) or any reference that the
//     schema keeps without a key (keyless), SQLite's own integrity and
//     foreign key checks, no space installation on a space of another
//     organization than its installation's, every token holds the ids of its
//     kind and an installation token belongs to its installation's
//     integration, and the external id tables hold exactly the lists of
//     their rows;
//   - through the store's transactions: every installation has its
//     integration and organization, every space installation its
//     installation and space;
//   - through the API (as the staff user): the seed endpoints
//     listSpaceIntegrations and integration-blocks of every space list
//     exactly the integrations that the installation records enable there.
func Check(t testing.TB, e *apitest.Env, db *DB) {
	t.Helper()
	CheckSQL(t, db)
	CheckRecords(t, db.Store)
	CheckSeedEndpoints(t, e, db.Store)
}

// foreignKey is a foreign key of the schema.
type foreignKey struct {
	table, parent string
	columns, to   []string
}

// foreignKeys reads the foreign keys of the schema from the database.
func (db *DB) foreignKeys(t testing.TB) []foreignKey {
	t.Helper()
	var rows []string
	if db.Backend == "sqlite" {
		rows = db.strings(t, `SELECT m.name, p.id, p."table", p."from", p."to" FROM sqlite_master m
			JOIN pragma_foreign_key_list(m.name) p WHERE m.type = 'table' ORDER BY m.name, p.id, p.seq`)
	} else {
		rows = db.strings(t, `SELECT c.conrelid::regclass::text, c.oid, c.confrelid::regclass::text, a.attname, f.attname
			FROM pg_constraint c, unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(col, fcol, n)
			JOIN pg_attribute a ON a.attnum = k.col JOIN pg_attribute f ON f.attnum = k.fcol
			WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace
			AND a.attrelid = c.conrelid AND f.attrelid = c.confrelid ORDER BY 1, 2, k.n`)
	}
	var fks []foreignKey
	last := ""
	for _, r := range rows {
		f := strings.Fields(r)
		if len(f) != 5 {
			t.Fatalf("foreign key row %q", r)
		}
		if key := f[0] + " " + f[1]; key != last {
			fks = append(fks, foreignKey{table: f[0], parent: f[2]})
			last = key
		}
		fk := &fks[len(fks)-1]
		fk.columns = append(fk.columns, f[3])
		fk.to = append(fk.to, f[4])
	}
	return fks
}

// keyless are the references that PostgreSQL's schema keeps without a
// foreign key (migrations 0007, 0009 and 0010: the store checks them
// itself), checked as if they had one; SQLite has the keys.
var keyless = []foreignKey{
	{table: "event_attempts", parent: "events", columns: []string{"event_id"}, to: []string{"id"}},
	{table: "events", parent: "integrations", columns: []string{"integration_id"}, to: []string{"id"}},
	{table: "space_installations", parent: "installations", columns: []string{"installation_id"}, to: []string{"id"}},
	{table: "space_installations", parent: "spaces", columns: []string{"space_id"}, to: []string{"id"}},
}

// references returns the foreign keys of the schema, and the references
// of keyless that it lacks.
func (db *DB) references(t testing.TB) []foreignKey {
	t.Helper()
	fks := db.foreignKeys(t)
	for _, k := range keyless {
		if !slices.ContainsFunc(fks, func(fk foreignKey) bool {
			return fk.table == k.table && fk.parent == k.parent && slices.Equal(fk.columns, k.columns)
		}) {
			fks = append(fks, k)
		}
	}
	return fks
}

// semantic are invariants that no constraint of the schema states; each
// query returns the rows that break one.
var semantic = []struct{ name, query string }{
	{"space installation on a space of another organization", `SELECT si.installation_id, si.space_id FROM space_installations si
		JOIN installations i ON i.id = si.installation_id JOIN spaces s ON s.id = si.space_id WHERE i.organization_id <> s.organization_id`},
	{"installation token of another integration", `SELECT t.installation_id, t.integration_id FROM tokens t
		JOIN installations i ON i.id = t.installation_id WHERE t.integration_id IS NULL OR t.integration_id <> i.integration_id`},
	{"token without the ids of its kind", `SELECT kind, created_at FROM tokens WHERE
		(kind = 'user' AND (user_id IS NULL OR integration_id IS NOT NULL OR installation_id IS NOT NULL)) OR
		(kind = 'integration' AND (integration_id IS NULL OR user_id IS NOT NULL OR installation_id IS NOT NULL)) OR
		(kind = 'integration-installation' AND (installation_id IS NULL OR integration_id IS NULL OR user_id IS NOT NULL OR expires_at = 0)) OR
		kind NOT IN ('user', 'integration', 'integration-installation')`},
	{"installation with an invalid status or selection", `SELECT id, status FROM installations WHERE
		status NOT IN ('active', 'pending', 'paused') OR space_selection NOT IN ('all', 'selected') OR site_selection NOT IN ('all', 'selected')`},
	{"space installation with an invalid status", `SELECT installation_id, space_id FROM space_installations WHERE status NOT IN ('active', 'pending', 'paused')`},
}

// CheckSQL checks the invariants that SQL sees: see Check.
func CheckSQL(t testing.TB, db *DB) {
	t.Helper()
	fks := db.references(t)
	// The schema has foreign keys on members, spaces, integrations, assets,
	// installations, their external ids, space installations, tokens, events,
	// attempts and deliveries (some of them references without a key on
	// PostgreSQL): finding fewer means the query broke.
	if len(fks) < 17 {
		t.Fatalf("found only %d foreign keys in the schema: %v", len(fks), fks)
	}
	for _, fk := range fks {
		var notNull, match []string
		for n, col := range fk.columns {
			notNull = append(notNull, fmt.Sprintf(`c.%q IS NOT NULL`, col))
			match = append(match, fmt.Sprintf(`p.%q = c.%q`, fk.to[n], col))
		}
		q := fmt.Sprintf(`SELECT %s FROM %q c WHERE %s AND NOT EXISTS (SELECT 1 FROM %q p WHERE %s)`,
			"c."+strings.Join(quoteAll(fk.columns), ", c."), fk.table, strings.Join(notNull, " AND "), fk.parent, strings.Join(match, " AND "))
		if orphans := db.strings(t, q); len(orphans) > 0 {
			t.Errorf("%s rows refer to missing %s rows through (%s): %q", fk.table, fk.parent, strings.Join(fk.columns, ", "), orphans)
		}
	}
	for _, s := range semantic {
		if rows := db.strings(t, s.query); len(rows) > 0 {
			t.Errorf("%s: %q", s.name, rows)
		}
	}
	if db.Backend == "sqlite" {
		if rows := db.strings(t, `PRAGMA foreign_key_check`); len(rows) > 0 {
			t.Errorf("PRAGMA foreign_key_check: %q", rows)
		}
		if rows := db.strings(t, `PRAGMA integrity_check`); len(rows) != 1 || rows[0] != "ok" {
			t.Errorf("PRAGMA integrity_check: %q", rows)
		}
	}
	// The external id tables index the lists kept in the rows themselves.
	for _, x := range []struct{ rows, index string }{
		{`SELECT id, external_ids FROM installations`, `SELECT installation_id, external_id FROM installation_external_ids`},
		{`SELECT installation_id || '/' || space_id, external_ids FROM space_installations`,
			`SELECT installation_id || '/' || space_id, external_id FROM space_installation_external_ids`},
	} {
		want := map[string][]string{}
		for _, r := range db.strings(t, x.rows) {
			key, list, _ := strings.Cut(r, " ")
			var ids []string
			if err := json.Unmarshal([]byte(list), &ids); err != nil {
				t.Errorf("%s: external ids %q are not a JSON list: %v", key, list, err)
			}
			for _, id := range ids {
				want[key] = append(want[key], id)
			}
		}
		got := map[string][]string{}
		for _, r := range db.strings(t, x.index) {
			key, id, _ := strings.Cut(r, " ")
			got[key] = append(got[key], id)
		}
		for key := range merge(want, got) {
			slices.Sort(want[key])
			slices.Sort(got[key])
			if !slices.Equal(want[key], got[key]) {
				t.Errorf("%s: external ids %q, but the index holds %q", key, want[key], got[key])
			}
		}
	}
}

func quoteAll(cols []string) []string {
	out := make([]string, len(cols))
	for n, c := range cols {
		out[n] = fmt.Sprintf("%q", c)
	}
	return out
}

func merge(a, b map[string][]string) map[string]bool {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	return keys
}

// all is a page that holds every row of the tests' stores.
var all = integrations.Page{Limit: 1 << 30}

// CheckRecords checks the invariants that the store's transactions see: see
// Check.
func CheckRecords(t testing.TB, store integrations.Store) {
	t.Helper()
	err := store.View(context.Background(), func(tx integrations.Tx) error {
		ins, _, err := tx.Installations(integrations.InstallationFilter{}, all)
		if err != nil {
			return err
		}
		for _, in := range ins {
			if _, err := tx.IntegrationByID(in.IntegrationID); err != nil {
				t.Errorf("installation %s: integration %s: %v", in.ID, in.IntegrationID, err)
			}
			if _, err := tx.Organization(in.OrganizationID); err != nil {
				t.Errorf("installation %s: organization %s: %v", in.ID, in.OrganizationID, err)
			}
		}
		sis, _, err := tx.SpaceInstallations(integrations.SpaceInstallationFilter{}, all)
		if err != nil {
			return err
		}
		for _, si := range sis {
			in, err := tx.Installation(si.InstallationID)
			if err != nil {
				t.Errorf("space installation %s/%s has no installation: %v", si.InstallationID, si.SpaceID, err)
				continue
			}
			sp, err := tx.Space(si.SpaceID)
			if err != nil {
				t.Errorf("space installation %s/%s has no space: %v", si.InstallationID, si.SpaceID, err)
				continue
			}
			if sp.OrganizationID != in.OrganizationID {
				t.Errorf("space installation %s/%s: space of %s, installation of %s", si.InstallationID, si.SpaceID, sp.OrganizationID, in.OrganizationID)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Enabled returns, for every space of the store, the names of the
// integrations that its installation records enable there (sorted), and the
// names of those among them that have blocks. It computes them from the
// records, apart from the store's own query: of an integration whose target
// reaches spaces (all or space), installed on the space's organization, and
// either selecting all spaces without a space installation on this one or
// with a space installation on it, neither paused.
func Enabled(t testing.TB, store integrations.Store) (enabled, withBlocks map[string][]string) {
	t.Helper()
	enabled, withBlocks = map[string][]string{}, map[string][]string{}
	err := store.View(context.Background(), func(tx integrations.Tx) error {
		orgs, _, err := tx.Organizations(integrations.OrganizationFilter{}, all)
		if err != nil {
			return err
		}
		for _, o := range orgs {
			spaces, _, err := tx.Spaces(integrations.SpaceFilter{OrganizationID: o.ID}, all)
			if err != nil {
				return err
			}
			ins, _, err := tx.Installations(integrations.InstallationFilter{OrganizationID: o.ID}, all)
			if err != nil {
				return err
			}
			for _, sp := range spaces {
				enabled[sp.ID] = []string{}
				withBlocks[sp.ID] = []string{}
				for _, in := range ins {
					on := in.SpaceSelection == "all"
					si, err := tx.SpaceInstallation(in.ID, sp.ID)
					switch {
					case err == nil:
						on = si.Status != integrations.StatusPaused
					case integrations.ErrorCode(err) != integrations.ENOTFOUND:
						return err
					}
					if !on || in.Status == integrations.StatusPaused {
						continue
					}
					i, err := tx.IntegrationByID(in.IntegrationID)
					if err != nil {
						return err
					}
					if !i.CanInstallOnSpace() {
						continue // organization and site targets never reach spaces
					}
					enabled[sp.ID] = append(enabled[sp.ID], i.Name)
					if len(i.Blocks) > 0 {
						withBlocks[sp.ID] = append(withBlocks[sp.ID], i.Name)
					}
				}
				slices.Sort(enabled[sp.ID])
				slices.Sort(withBlocks[sp.ID])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return enabled, withBlocks
}

// CheckSeedEndpoints checks that listSpaceIntegrations and
// integration-blocks agree with the installation records in every space.
func CheckSeedEndpoints(t testing.TB, e *apitest.Env, store integrations.Store) {
	t.Helper()
	enabled, withBlocks := Enabled(t, store)
	for space, want := range enabled {
		var list struct {
			Items []struct{ Name string }
			Count int
		}
		e.Expect(200, "GET", "/v1/spaces/"+url.PathEscape(space)+"/integrations?limit=1000", apitest.AdminToken, nil).JSON(t, &list)
		got := []string{}
		for _, i := range list.Items {
			got = append(got, i.Name)
		}
		if !slices.Equal(got, want) || list.Count != len(want) {
			t.Errorf("space %s: listSpaceIntegrations gives %q (count %d), the records enable %q", space, got, list.Count, want)
		}
		var blocks []struct{ Name string }
		e.Expect(200, "GET", "/v1/spaces/"+url.PathEscape(space)+"/integration-blocks", apitest.AdminToken, nil).JSON(t, &blocks)
		got = []string{}
		for _, b := range blocks {
			got = append(got, b.Name)
		}
		if !slices.Equal(got, withBlocks[space]) {
			t.Errorf("space %s: integration-blocks gives %q, the records enable %q with blocks", space, got, withBlocks[space])
		}
	}
}

// CheckEvents checks that every installation and space installation the
// store holds has its setup event in the outbox, whether the write that made
// it was answered or not: a change and its events commit together.
func CheckEvents(t testing.TB, db *DB) {
	t.Helper()
	got := map[string]bool{}
	for _, r := range db.strings(t, `SELECT type, installation_id, space_id FROM events`) {
		got[strings.TrimSpace(r)] = true
	}
	for _, si := range db.strings(t, `SELECT installation_id, space_id FROM space_installations`) {
		if !got[integrations.EventSpaceInstallationSetup+" "+si] {
			t.Errorf("space installation %s has no space_installation_setup event", si)
		}
	}
	for _, in := range db.strings(t, `SELECT id FROM installations`) {
		if !got[integrations.EventInstallationSetup+" "+in] {
			t.Errorf("installation %s has no installation_setup event", in)
		}
	}
}
