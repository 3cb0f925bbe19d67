// Package crashtest tries to break the store: its tests kill the server
// binary while clients write, or stop it under load, restart it and check
// that nothing answered 2xx is lost and nothing is half-applied.
//
// Its helpers serve the other tests that try to break the server too (the
// isolation matrix, the concurrency test and the fuzz targets): Open gives a
// store together with a plain SQL handle on the same database, Dump lists
// every row of it, and Check verifies the store's invariants.
package crashtest

import (
	"context"
	"database/sql"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver of database/sql
	_ "modernc.org/sqlite"             // the "sqlite" driver of database/sql

	"integrations"
	"integrations/internal/storetest"
)

// DB is a store with a plain SQL handle on the same database, for checks
// that look under the store's interface.
type DB struct {
	integrations.Store
	SQL     *sql.DB
	Backend string // "sqlite" or "postgres"
	URL     string // the database URL the server binary takes

	fingerprint string // the query of Fingerprint on PostgreSQL
}

// Each runs fn on each backend of storetest.Each, with a new, empty
// database that fn may look into with SQL.
func Each(t *testing.T, fn func(t *testing.T, db *DB)) {
	storetest.Each(t, func(t *testing.T, _ func(testing.TB) integrations.Store) {
		// storetest.Each names its subtests after the backends.
		fn(t, New(t, path.Base(t.Name())))
	})
}

// New opens a new, empty database of the backend ("sqlite" or
// "postgres"); it is closed (and, on PostgreSQL, dropped) when the test ends.
func New(t testing.TB, backend string) *DB {
	t.Helper()
	switch backend {
	case "sqlite":
		return Open(t, "sqlite:"+filepath.Join(t.TempDir(), "test.db"))
	case "postgres":
		return Open(t, storetest.PostgresURL(t))
	}
	t.Fatalf("unknown backend %q", backend)
	return nil
}

// Open opens the store at a database URL (sqlite:PATH or postgres://...)
// with a plain SQL handle on it; both are closed when the test ends.
func Open(t testing.TB, url string) *DB {
	t.Helper()
	db := &DB{URL: url}
	var err error
	if file, ok := strings.CutPrefix(url, "sqlite:"); ok {
		db.Backend = "sqlite"
		// The store opens first: it recovers the WAL of a killed process.
		db.Store = storetest.SQLiteAt(t, file)
		db.SQL, err = sql.Open("sqlite", "file:"+file+"?mode=ro&_pragma=busy_timeout(10000)")
	} else {
		db.Backend = "postgres"
		db.Store = storetest.PostgresAt(t, url)
		db.SQL, err = sql.Open("pgx", url)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.SQL.Close() })
	return db
}

// Tables returns the names of the database's tables.
func (db *DB) Tables(t testing.TB) []string {
	t.Helper()
	q := `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	if db.Backend == "sqlite" {
		q = `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	}
	tables := db.strings(t, q)
	slices.Sort(tables)
	return tables
}

// Dump returns every row of every table as text, sorted: two dumps are
// equal when the database holds the same data. The reference generation is
// left out: it counts changes, also two that undo each other, and is no
// data of its own.
func (db *DB) Dump(t testing.TB) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, table := range db.Tables(t) {
		if table == "generation" {
			continue
		}
		rows, err := db.SQL.Query(`SELECT * FROM "` + table + `"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		out[table] = []string{}
		for rows.Next() {
			values := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for n := range values {
				ptrs[n] = &values[n]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fields := make([]string, len(cols))
			for n, v := range values {
				if b, ok := v.([]byte); ok {
					v = string(b)
				}
				fields[n] = fmt.Sprintf("%s=%v", cols[n], v)
			}
			out[table] = append(out[table], strings.Join(fields, " "))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		slices.Sort(out[table])
	}
	return out
}

// Diff describes how two dumps differ, "" when they are equal.
func Diff(before, after map[string][]string) string {
	var b strings.Builder
	tables := map[string]bool{}
	for table := range before {
		tables[table] = true
	}
	for table := range after {
		tables[table] = true
	}
	for _, table := range slices.Sorted(func(yield func(string) bool) {
		for table := range tables {
			if !yield(table) {
				return
			}
		}
	}) {
		was, is := set(before[table]), set(after[table])
		for _, row := range before[table] {
			if !is[row] {
				fmt.Fprintf(&b, "%s: removed %s\n", table, row)
			}
		}
		for _, row := range after[table] {
			if !was[row] {
				fmt.Fprintf(&b, "%s: added %s\n", table, row)
			}
		}
	}
	return b.String()
}

func set(rows []string) map[string]bool {
	m := make(map[string]bool, len(rows))
	for _, r := range rows {
		m[r] = true
	}
	return m
}

// strings runs a query and returns its rows, each as its columns joined
// by spaces.
func (db *DB) strings(t testing.TB, query string) []string {
	t.Helper()
	rows, err := db.SQL.Query(query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		values := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for n := range values {
			ptrs[n] = &values[n]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		fields := make([]string, len(values))
		for n, v := range values {
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			fields[n] = fmt.Sprint(v)
		}
		out = append(out, strings.Join(fields, " "))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}

// Fingerprint returns a value that changes whenever a transaction that
// changed data commits, and is cheaper than Dump. On SQLite it is the
// store's version (PRAGMA data_version). On PostgreSQL, whose store version
// is a snapshot shared by every database of the server, it is the count of
// each table's rows and the sum of their xmin, the id of the transaction
// that wrote each row version: an insert, update or delete changes them.
func (db *DB) Fingerprint(t testing.TB) string {
	t.Helper()
	if db.Backend == "sqlite" {
		v, err := db.Store.Version(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if db.fingerprint == "" {
		var parts []string
		for _, table := range db.Tables(t) {
			parts = append(parts, fmt.Sprintf(`SELECT '%s', count(*), coalesce(sum(xmin::text::bigint), 0) FROM %q`, table, table))
		}
		db.fingerprint = strings.Join(parts, " UNION ALL ")
	}
	return strings.Join(db.strings(t, db.fingerprint), "; ")
}
