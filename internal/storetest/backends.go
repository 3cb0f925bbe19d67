// Package storetest opens the stores that tests run on, and holds the
// contract suite that every store implementation passes.
package storetest

import (
	"context"
	"path/filepath"
	"testing"

	"integrations"
	"integrations/sqlite"
)

// Backend is a store implementation to run tests on.
type Backend struct {
	Name string
	// Open returns a new, empty store that is closed when the test ends.
	Open func(t testing.TB) integrations.Store
}

// Backends returns the store implementations to test: SQLite always, and
// PostgreSQL when INTEGRATIONS_TEST_POSTGRES holds a connection URL.
func Backends() []Backend {
	return []Backend{{Name: "sqlite", Open: SQLite}}
}

// Each runs fn as a subtest on each backend.
func Each(t *testing.T, fn func(t *testing.T, open func(testing.TB) integrations.Store)) {
	for _, b := range Backends() {
		t.Run(b.Name, func(t *testing.T) { fn(t, b.Open) })
	}
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
