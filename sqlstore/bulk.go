package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"integrations"
)

// The bulk path: Load writes a whole Dataset with multi-row INSERT
// statements in large transactions, which both databases accept with the
// shared placeholders. It skips everything the service does on a change
// (validation, access rules, events): it is for seeding a database, such
// as the benchmark's, not for serving requests.

// Limits of one INSERT statement: SQLite accepts up to 32766 parameters and
// PostgreSQL 65535; more rows per statement than bulkRows gains nothing.
const (
	bulkRows   = 500
	bulkParams = 30000
	// bulkTxRows is how many rows a transaction takes before it commits, so
	// that a large load neither holds one huge transaction nor pays a
	// commit for every statement.
	bulkTxRows = 100_000
)

// bulkTable is a table to fill: its columns and the values of its rows.
type bulkTable struct {
	name    string
	columns []string
	rows    int
	// values appends the values of row n, in the order of columns.
	values func(n int, args []any) []any
}

// Load inserts a dataset, table after table, on one connection, and
// reports its progress with progress (which may be nil). Rows that break a
// constraint of the database make it fail; the transactions committed
// before stay, so a failed load leaves part of the dataset behind. Like
// Update, it returns once the ReadWindow has passed since its last commit.
func (db *DB) Load(ctx context.Context, d *integrations.Dataset, progress func(table string, done, total int)) (err error) {
	defer db.waitReadWindow(-1) // a count refWrites never has: a load changes the cache's tables
	if progress == nil {
		progress = func(string, int, int) {}
	}
	conn, err := db.write.Conn(ctx)
	if err != nil {
		return db.wrap(err)
	}
	defer conn.Close()
	for _, q := range db.dialect.LoadSettings {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("load: %s: %w", q, db.wrap(err))
		}
	}
	defer func() {
		for _, q := range db.dialect.LoadReset {
			if _, resetErr := conn.ExecContext(context.WithoutCancel(ctx), q); resetErr != nil && err == nil {
				err = fmt.Errorf("load: %s: %w", q, db.wrap(resetErr))
			}
		}
	}()
	var tables []string
	for _, t := range bulkTables(d) {
		progress(t.name, 0, t.rows)
		if err := db.insertTable(ctx, conn, t, progress); err != nil {
			return err
		}
		tables = append(tables, t.name)
	}
	if db.dialect.LoadDone != "" {
		q := db.dialect.LoadDone + " " + strings.Join(tables, ", ")
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("load: %s: %w", q, db.wrap(err))
		}
	}
	return nil
}

// insertTable writes the rows of one table with multi-row INSERT
// statements, bulkTxRows rows per transaction.
func (db *DB) insertTable(ctx context.Context, conn *sql.Conn, t bulkTable, progress func(string, int, int)) error {
	perStmt := min(bulkRows, bulkParams/len(t.columns))
	full := db.dialect.Placeholders(insertRows(t.name, t.columns, perStmt))
	args := make([]any, 0, perStmt*len(t.columns))
	for start := 0; start < t.rows; start += bulkTxRows {
		end := min(start+bulkTxRows, t.rows)
		err := db.inTx(ctx, conn, func(tx *sql.Tx) error {
			var stmt *sql.Stmt
			for from := start; from < end; from += perStmt {
				to := min(from+perStmt, end)
				args = args[:0]
				for n := from; n < to; n++ {
					args = t.values(n, args)
				}
				var err error
				if to-from == perStmt {
					if stmt == nil {
						if stmt, err = tx.PrepareContext(ctx, full); err != nil {
							return err
						}
						defer stmt.Close()
					}
					_, err = stmt.ExecContext(ctx, args...)
				} else {
					_, err = tx.ExecContext(ctx, db.dialect.Placeholders(insertRows(t.name, t.columns, to-from)), args...)
				}
				if err != nil {
					return fmt.Errorf("load %s, rows %d to %d: %w", t.name, from, to-1, db.wrap(err))
				}
				progress(t.name, to, t.rows)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// inTx runs fn in a transaction of the database's default isolation on
// conn: a load has the database to itself.
func (db *DB) inTx(ctx context.Context, conn *sql.Conn, fn func(*sql.Tx) error) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return db.wrap(err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return db.wrap(tx.Commit())
}

// insertRows returns an INSERT statement of rows rows.
func insertRows(table string, columns []string, rows int) string {
	var b strings.Builder
	row := "(" + placeholders(len(columns)) + ")"
	b.Grow(len(table) + 32 + rows*(len(row)+1))
	b.WriteString("INSERT INTO " + table + " (" + strings.Join(columns, ", ") + ") VALUES ")
	for n := range rows {
		if n > 0 {
			b.WriteByte(',')
		}
		b.WriteString(row)
	}
	return b.String()
}

// bulkTables lists the tables of a dataset in an order that satisfies the
// foreign keys, with the same stored values as the Tx methods write.
func bulkTables(d *integrations.Dataset) []bulkTable {
	type externalID struct {
		installationID, spaceID, value string
	}
	// External ids are kept twice, as the Tx methods do: in a JSON column
	// and, without repeats, in a table of their own that filters use.
	var instIDs, spaceInstIDs []externalID
	for n := range d.Installations {
		in := &d.Installations[n]
		for _, v := range dedupe(in.ExternalIDs) {
			instIDs = append(instIDs, externalID{in.ID, "", v})
		}
	}
	for n := range d.SpaceInstallations {
		si := &d.SpaceInstallations[n]
		for _, v := range dedupe(si.ExternalIDs) {
			spaceInstIDs = append(spaceInstIDs, externalID{si.InstallationID, si.SpaceID, v})
		}
	}
	return []bulkTable{
		{"users", []string{"id", "display_name", "email", "photo_url", "staff", "search", "created_at"}, len(d.Users),
			func(n int, args []any) []any {
				u := &d.Users[n]
				return append(args, u.ID, u.DisplayName, nullable(u.Email), u.PhotoURL, boolInt(u.Staff), searchText(u.DisplayName, u.Email), micros(u.CreatedAt))
			}},
		{"organizations", []string{"id", "title", "hostname", "email_domains", "created_at"}, len(d.Organizations),
			func(n int, args []any) []any {
				o := &d.Organizations[n]
				return append(args, o.ID, o.Title, nullable(o.Hostname), jsonText(o.EmailDomains), micros(o.CreatedAt))
			}},
		{"members", []string{"organization_id", "user_id", "role", "joined_at"}, len(d.Members),
			func(n int, args []any) []any {
				m := &d.Members[n]
				return append(args, m.OrganizationID, m.UserID, string(m.Role), micros(m.JoinedAt))
			}},
		{"spaces", []string{"id", "organization_id", "title", "emoji", "icon", "visibility", "edit_mode", "language", "default_level", "merge_rules", "created_at", "updated_at"}, len(d.Spaces),
			func(n int, args []any) []any {
				s := &d.Spaces[n]
				return append(args, s.ID, s.OrganizationID, s.Title, s.Emoji, s.Icon, s.Visibility, s.EditMode, s.Language, s.DefaultLevel, rawJSON(s.MergeRules), micros(s.CreatedAt), micros(s.UpdatedAt))
			}},
		{"integrations", []string{"id", "name", "organization_id", "version", "verified", "title", "visibility", "target",
			"search", "categories", "scopes", "block_domains", "has_blocks", "has_content_sources", "definition", "script", "icon", "updated_at", "created_at"}, len(d.Integrations),
			func(n int, args []any) []any {
				i := &d.Integrations[n]
				args = append(args, i.ID, i.Name)
				args = append(args, integrationRow(i)...)
				return append(args, micros(i.CreatedAt))
			}},
		{"installations", []string{"id", "integration_id", "organization_id", "status", "space_selection", "site_selection", "configuration", "external_ids", "created_at", "updated_at"}, len(d.Installations),
			func(n int, args []any) []any {
				in := &d.Installations[n]
				return append(args, in.ID, in.IntegrationID, in.OrganizationID, string(in.Status), in.SpaceSelection, in.SiteSelection,
					configText(in.Configuration), jsonText(in.ExternalIDs), micros(in.CreatedAt), micros(in.UpdatedAt))
			}},
		{"installation_external_ids", []string{"installation_id", "external_id"}, len(instIDs),
			func(n int, args []any) []any {
				x := &instIDs[n]
				return append(args, x.installationID, x.value)
			}},
		{"space_installations", []string{"installation_id", "space_id", "status", "configuration", "external_ids", "created_at", "updated_at"}, len(d.SpaceInstallations),
			func(n int, args []any) []any {
				si := &d.SpaceInstallations[n]
				return append(args, si.InstallationID, si.SpaceID, string(si.Status), configText(si.Configuration), jsonText(si.ExternalIDs), micros(si.CreatedAt), micros(si.UpdatedAt))
			}},
		{"space_installation_external_ids", []string{"installation_id", "space_id", "external_id"}, len(spaceInstIDs),
			func(n int, args []any) []any {
				x := &spaceInstIDs[n]
				return append(args, x.installationID, x.spaceID, x.value)
			}},
		{"tokens", []string{"hash", "kind", "user_id", "integration_id", "installation_id", "expires_at", "created_at"}, len(d.Tokens),
			func(n int, args []any) []any {
				t := &d.Tokens[n]
				return append(args, t.Hash, string(t.Kind), nullable(t.UserID), nullable(t.IntegrationID), nullable(t.InstallationID), micros(t.ExpiresAt), micros(t.CreatedAt))
			}},
	}
}

// dedupe returns ids without repeats, in their first order.
func dedupe(ids []string) []string {
	if len(ids) < 2 {
		return ids
	}
	var out []string
	for n, id := range ids {
		seen := false
		for _, prev := range ids[:n] {
			seen = seen || prev == id
		}
		if !seen {
			out = append(out, id)
		}
	}
	return out
}
