// Package storetest opens the stores that tests run on, and holds the
// contract suite that every store implementation passes.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"integrations"
	"integrations/postgres"
	"integrations/sqlite"
)

// PostgresEnv names the environment variable that holds the URL of a
// PostgreSQL database to test on, such as
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable. Tests create a
// database of their own next to it and drop it when they end, so the user
// needs the CREATEDB privilege.
const PostgresEnv = "INTEGRATIONS_TEST_POSTGRES"

// noPostgres says why the PostgreSQL tests do not run.
const noPostgres = "PostgreSQL tests do not run: " + PostgresEnv + " is empty; set it to a postgres:// URL to run them"

// Backend is a store implementation to run tests on.
type Backend struct {
	Name string
	// Open returns a new, empty store that is closed when the test ends.
	Open func(t testing.TB) integrations.Store
}

// Backends returns the store implementations to test: SQLite always, and
// PostgreSQL when INTEGRATIONS_TEST_POSTGRES holds a connection URL.
func Backends() []Backend {
	b := []Backend{{Name: "sqlite", Open: SQLite}}
	if os.Getenv(PostgresEnv) != "" {
		b = append(b, Backend{Name: "postgres", Open: Postgres})
	}
	return b
}

// Each runs fn as a subtest on each backend. Without PostgreSQL its subtest
// is skipped, saying why.
func Each(t *testing.T, fn func(t *testing.T, open func(testing.TB) integrations.Store)) {
	for _, b := range Backends() {
		t.Run(b.Name, func(t *testing.T) { fn(t, b.Open) })
	}
	if os.Getenv(PostgresEnv) == "" {
		t.Run("postgres", func(t *testing.T) { t.Skip(noPostgres) })
	}
}

// EachDatabase runs fn as a subtest on each backend, named after it, with the
// URL of a new, empty database for a server process to open (its --database):
// a SQLite file in a temporary directory, or a PostgreSQL schema of its own
// (PostgresSchemaURL), dropped when the subtest ends. Without PostgreSQL its
// subtest is skipped, saying why.
func EachDatabase(t *testing.T, fn func(t *testing.T, url string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, "sqlite:"+filepath.Join(t.TempDir(), "integrations.db")) })
	t.Run("postgres", func(t *testing.T) { fn(t, PostgresSchemaURL(t)) })
}

// Open opens the store at a URL that EachDatabase gave (SQLite, or
// PostgreSQL with TestOptions); it is closed when the test ends.
func Open(t testing.TB, url string) integrations.Store {
	t.Helper()
	if path, ok := strings.CutPrefix(url, "sqlite:"); ok {
		return SQLiteAt(t, path)
	}
	return PostgresAt(t, url)
}

// SQLite opens a new SQLite store in a temporary directory.
func SQLite(t testing.TB) integrations.Store {
	t.Helper()
	return SQLiteAt(t, filepath.Join(t.TempDir(), "test.db"))
}

// SQLiteAt opens the SQLite store at path.
func SQLiteAt(t testing.TB, path string) integrations.Store {
	t.Helper()
	db, err := sqlite.Open(context.Background(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestOptions are the connection options of the PostgreSQL stores of tests:
// a small pool, since many tests and test binaries share one server.
var TestOptions = postgres.Options{MaxConns: 8}

// Postgres opens a store in a new, empty schema of the PostgreSQL database of
// INTEGRATIONS_TEST_POSTGRES, dropped when the test ends. The test is
// skipped when INTEGRATIONS_TEST_POSTGRES is empty.
func Postgres(t testing.TB) integrations.Store {
	t.Helper()
	return PostgresAt(t, PostgresSchemaURL(t))
}

// PostgresAt opens the PostgreSQL store at url with TestOptions.
func PostgresAt(t testing.TB, url string) integrations.Store {
	t.Helper()
	db, err := postgres.Open(context.Background(), url, TestOptions)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// PostgresURL creates a new, empty database on the server of
// INTEGRATIONS_TEST_POSTGRES and returns its URL, for tests that act on a
// whole database (its connections, whether it accepts them). The database
// is dropped when the test ends, after its remaining connections are ended.
// Creating a database takes a second or more; PostgresSchemaURL is faster.
// The test is skipped when INTEGRATIONS_TEST_POSTGRES is empty.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base, u := postgresBase(t)
	name := randomName()
	admin(t, base, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	t.Cleanup(func() {
		admin(t, base, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	u.Path = "/" + name
	return u.String()
}

// PostgresSchemaURL creates a new, empty schema in the database of
// INTEGRATIONS_TEST_POSTGRES and returns a URL whose connections use it
// (search_path). The schema and everything in it is dropped when the test
// ends. The test is skipped when INTEGRATIONS_TEST_POSTGRES is empty.
func PostgresSchemaURL(t testing.TB) string {
	t.Helper()
	base, u := postgresBase(t)
	name := randomName()
	admin(t, base, "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize())
	t.Cleanup(func() {
		admin(t, base, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE")
	})
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// PostgresServer returns INTEGRATIONS_TEST_POSTGRES, for tests of commands
// that create and drop databases of their own on its server. The test is
// skipped when it is empty.
func PostgresServer(t testing.TB) string {
	t.Helper()
	base, _ := postgresBase(t)
	return base
}

// postgresBase returns INTEGRATIONS_TEST_POSTGRES, also parsed, or skips the
// test when it is empty.
func postgresBase(t testing.TB) (string, *url.URL) {
	t.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		t.Skip(noPostgres)
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s must be a postgres:// URL, not %q", PostgresEnv, base)
	}
	sweep(base)
	return base, u
}

// namePrefix starts the names of test databases and schemas; the Unix time
// of their creation and a random part follow.
const namePrefix = "integrations_test_"

// staleAfter is the age past which a test database or schema is a leftover
// of a test process that was killed before its cleanups ran.
const staleAfter = 6 * time.Hour

// randomName returns a new name for a test database or schema.
func randomName() string {
	b := make([]byte, 6)
	rand.Read(b)
	return fmt.Sprintf("%s%d_%s", namePrefix, time.Now().Unix(), hex.EncodeToString(b))
}

var sweepOnce sync.Once

// sweep drops, once per test process, the test databases and schemas that
// killed test processes left behind. It ignores errors: another process may
// be sweeping at the same time, and leftovers only take space.
func sweep(base string) {
	sweepOnce.Do(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		rows, err := conn.Query(ctx, `SELECT datname, true FROM pg_database WHERE datname LIKE $1
			UNION ALL SELECT nspname, false FROM pg_namespace WHERE nspname LIKE $1`, namePrefix+"%")
		if err != nil {
			return
		}
		type leftover struct {
			name     string
			database bool
		}
		var found []leftover
		for rows.Next() {
			var l leftover
			if rows.Scan(&l.name, &l.database) == nil {
				found = append(found, l)
			}
		}
		if rows.Err() != nil {
			return
		}
		for _, l := range found {
			created, _, _ := strings.Cut(strings.TrimPrefix(l.name, namePrefix), "_")
			sec, err := strconv.ParseInt(created, 10, 64)
			if err != nil || time.Since(time.Unix(sec, 0)) < staleAfter {
				continue
			}
			if l.database {
				conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{l.name}.Sanitize()+" WITH (FORCE)")
			} else {
				conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{l.name}.Sanitize()+" CASCADE")
			}
		}
	})
}

// admin runs a statement on the database of url.
func admin(t testing.TB, url, statement string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect to %s: %v", PostgresEnv, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, statement); err != nil {
		t.Fatalf("%s: %v", statement, err)
	}
}

// PostgresQuery runs a statement on a connection of its own to the
// database of url, and returns its rows.
func PostgresQuery(t testing.TB, url, statement string) [][]any {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, statement)
	if err != nil {
		t.Fatal(err)
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]any, error) { return r.Values() })
	if err != nil {
		t.Fatalf("%s: %v", statement, err)
	}
	return all
}

// PostgresAdmin runs a statement on the database of PostgresEnv, not a
// test's own.
func PostgresAdmin(t testing.TB, statement string) {
	t.Helper()
	PostgresQuery(t, os.Getenv(PostgresEnv), statement)
}

// PostgresDatabase returns the name of the database of url.
func PostgresDatabase(t testing.TB, url string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Database
}
