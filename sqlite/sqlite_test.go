package sqlite_test

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"integrations"
	"integrations/internal/storetest"
	"integrations/sqlite"
	"integrations/sqlstore"
)

func TestContract(t *testing.T) {
	storetest.Run(t, storetest.SQLite)
}

func TestOpenURL(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	tests := []struct {
		url  string
		file string // the file the store must create; "" when Open must fail
	}{
		{"sqlite:rel.db", filepath.Join(dir, "rel.db")},
		{"sqlite:sub/../rel2.db", filepath.Join(dir, "rel2.db")},
		{"sqlite://" + filepath.Join(dir, "abs.db"), filepath.Join(dir, "abs.db")},
		{"sqlite:" + filepath.Join(dir, "plain-abs.db"), filepath.Join(dir, "plain-abs.db")},
		{"sqlite:full.db?synchronous=full", filepath.Join(dir, "full.db")},
		{"sqlite:upper.db?synchronous=FULL", filepath.Join(dir, "upper.db")},
		{"sqlite:normal.db?synchronous=normal", filepath.Join(dir, "normal.db")},
		{"sqlite:extra.db?synchronous=extra", filepath.Join(dir, "extra.db")},
		{"sqlite:off.db?synchronous=off", ""},
		{"sqlite:unknown.db?cache=shared", ""},
		{"sqlite:bad.db?%zz", ""},
		{"sqlite:", ""},
		{"sqlite://", ""},
		{"sqlite:?synchronous=full", ""},
		{"postgres://localhost/db", ""},
		{"rel.db", ""},
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			db, err := sqlite.Open(t.Context(), tt.url)
			if tt.file == "" {
				if err == nil {
					db.Close()
					t.Fatalf("Open(%q) succeeded, want an error", tt.url)
				}
				if !strings.Contains(err.Error(), tt.url) {
					t.Errorf("error %q does not name the URL", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open(%q): %v", tt.url, err)
			}
			defer db.Close()
			if err := db.Ping(t.Context()); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(tt.file); err != nil {
				t.Errorf("Open(%q) did not create %s: %v", tt.url, tt.file, err)
			}
		})
	}
	// Failed opens create no file.
	for _, name := range []string{"off.db", "unknown.db", "bad.db"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			t.Errorf("a failed Open created %s", name)
		}
	}
}

func createUser(t *testing.T, s integrations.Store, id string) {
	t.Helper()
	err := s.Update(t.Context(), func(tx integrations.Tx) error {
		return tx.CreateUser(&integrations.User{ID: id, DisplayName: id, CreatedAt: tx.Now()})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func userExists(t *testing.T, s integrations.Store, id string) bool {
	t.Helper()
	err := s.View(t.Context(), func(tx integrations.Tx) error {
		_, err := tx.User(id)
		return err
	})
	if err != nil && integrations.ErrorCode(err) != integrations.ENOTFOUND {
		t.Fatal(err)
	}
	return err == nil
}

func TestDataPersistsAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.db")
	url := "sqlite:" + path + "?synchronous=full"
	db, err := sqlite.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	createUser(t, db, "alice")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		db, err = sqlite.Open(t.Context(), url)
		if err != nil {
			t.Fatalf("reopening: %v", err)
		}
		if !userExists(t, db, "alice") {
			t.Error("the user written before closing is gone")
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMigrationsApplyOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	for range 3 {
		db, err := sqlite.Open(t.Context(), "sqlite:"+path)
		if err != nil {
			t.Fatalf("opening: %v", err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations found: %v", err)
	}
	raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	rows, err := raw.Query(`SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range files {
		want = append(want, strings.TrimSuffix(filepath.Base(f), ".sql"))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("schema_migrations holds %q, want one row per file %q", got, want)
	}
}

func TestTwoStoresOnOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	a := storetest.SQLiteAt(t, path)
	b := storetest.SQLiteAt(t, path)
	createUser(t, a, "from-a")
	if !userExists(t, b, "from-a") {
		t.Error("b does not see a's write")
	}
	createUser(t, b, "from-b")
	if !userExists(t, a, "from-b") {
		t.Error("a does not see b's write")
	}

	// Concurrent writers through both stores all succeed: they queue for
	// the file's write lock instead of failing.
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		for name, s := range map[string]integrations.Store{"a": a, "b": b} {
			wg.Go(func() {
				errs <- s.Update(t.Context(), func(tx integrations.Tx) error {
					return tx.CreateUser(&integrations.User{ID: fmt.Sprintf("%s-%d", name, i), DisplayName: "U", CreatedAt: tx.Now()})
				})
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent write: %v", err)
		}
	}
	for _, s := range []integrations.Store{a, b} {
		for i := range n {
			for _, name := range []string{"a", "b"} {
				if id := fmt.Sprintf("%s-%d", name, i); !userExists(t, s, id) {
					t.Errorf("user %s missing", id)
				}
			}
		}
	}
}

// The version comes from the WAL-index header, read without a query, and it
// follows the commits of other processes' connections as well as this one's.
func TestVersionReadsTheWALIndexHeader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.db")
	a := storetest.SQLiteAt(t, path)
	b := storetest.SQLiteAt(t, path) // stands for another process
	version := func(s integrations.Store) string {
		v, err := s.Version(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(v, "w") {
			t.Fatalf("version %q does not come from the WAL-index header", v)
		}
		return v
	}
	seen := map[string]bool{version(a): true}
	for i := 0; i < 20; i++ {
		writer := []integrations.Store{a, b}[i%2]
		if err := writer.Update(t.Context(), func(tx integrations.Tx) error {
			_, err := tx.InitSetting(fmt.Sprint("k", i), "v")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		va, vb := version(a), version(b)
		if va != vb {
			t.Fatalf("two connections to one file disagree: %s and %s", va, vb)
		}
		if seen[va] {
			t.Fatalf("commit %d left the version at a value seen before: %s", i, va)
		}
		seen[va] = true
	}
}

// TestCheckpointsInTheBackground checks that the pages written to the WAL
// reach the database file while the store is open, although the writer
// never checkpoints: the checkpointer copies them in the background.
func TestCheckpointsInTheBackground(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	db, err := sqlite.Open(t.Context(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	for n := range 200 {
		createUser(t, db, fmt.Sprintf("user-%d-%s", n, strings.Repeat("x", 80)))
	}
	for deadline := time.Now().Add(10 * time.Second); size() <= before; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the database file stayed at %d bytes: nothing was checkpointed", before)
		}
	}
}

// TestGenerationTriggersNameEveryColumn checks that the UPDATE triggers of
// the reference generation compare every column of their table: a column
// added later that they miss would change rows without moving the
// generation, and the reference cache would serve the old rows.
func TestGenerationTriggersNameEveryColumn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.db")
	db, err := sqlite.Open(t.Context(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	rows, err := raw.Query(`SELECT tbl_name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%\_update\_generation' ESCAPE '\'`)
	if err != nil {
		t.Fatal(err)
	}
	triggers := map[string]string{}
	for rows.Next() {
		var table, text string
		if err := rows.Scan(&table, &text); err != nil {
			t.Fatal(err)
		}
		triggers[table] = text
	}
	if len(triggers) < 8 {
		t.Fatalf("found update triggers on %d tables, want the 8 of the reference cache", len(triggers))
	}
	for table, text := range triggers {
		cols, err := raw.Query(`SELECT name FROM pragma_table_info(?)`, table)
		if err != nil {
			t.Fatal(err)
		}
		for cols.Next() {
			var col string
			if err := cols.Scan(&col); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(text, "OLD."+col+",") && !strings.Contains(text, "OLD."+col+")") {
				t.Errorf("the update trigger of %s does not compare column %s", table, col)
			}
		}
		cols.Close()
	}
}

// databaseBefore makes a database file with the schema of the migrations
// before the named one, and returns its path and a handle on it.
func databaseBefore(t *testing.T, migration string) (string, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "old.db")
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	raw.SetMaxOpenConns(1)
	if err := sqlstore.Migrate(t.Context(), raw, storetest.MigrationsBefore(t, os.DirFS("migrations"), migration), func(q string) string { return q }); err != nil {
		t.Fatal(err)
	}
	return path, raw
}

// TestMigrationKeepsSpaceInstallations opens a database made by the
// migrations before 0006, which rebuilds the space installations' table,
// writes to it, and checks that the store at the newest schema finds it all.
func TestMigrationKeepsSpaceInstallations(t *testing.T) {
	path, raw := databaseBefore(t, "0006")
	storetest.SpaceInstallationsSurviveMigration(t, sqlstore.New(raw, raw, sqlite.Dialect), func() integrations.Store {
		s := storetest.SQLiteAt(t, path)
		check, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		defer check.Close()
		var problems int
		if err := check.QueryRow(`SELECT COUNT(*) FROM pragma_foreign_key_check`).Scan(&problems); err != nil || problems > 0 {
			t.Errorf("foreign key check after the migration: %d problems, %v", problems, err)
		}
		return s
	})
}

// TestMigrationKeepsEventAttempts opens a database made by the migrations
// before 0008, which gives an event's first attempt a place in its row,
// with events and attempts as they were written then, and checks that the
// store at the newest schema finds them all.
func TestMigrationKeepsEventAttempts(t *testing.T) {
	path, raw := databaseBefore(t, "0008")
	exec := func(query string, args ...any) error {
		_, err := raw.ExecContext(t.Context(), query, args...)
		return err
	}
	storetest.EventsSurviveMigration(t, sqlstore.New(raw, raw, sqlite.Dialect), exec, func() integrations.Store {
		return storetest.SQLiteAt(t, path)
	})
}

// TestWALStaysBoundedUnderSteadyWrites keeps the writer busy without a
// pause, so that the WAL is never found fully copied when a write begins:
// left alone it would grow by all that is written. The checkpointer must
// make it start over once it passes its restart size, and every write must
// still be there.
func TestWALStaysBoundedUnderSteadyWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.db")
	const restartBytes = 256 << 10
	db, err := sqlite.OpenWithCheckpoints(t.Context(), "sqlite:"+path, 20*time.Millisecond, restartBytes)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	walSize := func() int64 {
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	pad := strings.Repeat("x", 1000)
	written := make([][]string, 4) // the users each writer created
	errs := make([]error, 4)
	for w := range written {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("user-%d-%d-%s", w, n, pad)
				if errs[w] = db.Update(t.Context(), func(tx integrations.Tx) error {
					return tx.CreateUser(&integrations.User{ID: id, DisplayName: id, CreatedAt: tx.Now()})
				}); errs[w] != nil {
					return
				}
				written[w] = append(written[w], id)
			}
		}()
	}
	// The WAL file only shrinks when the WAL starts over: the first commit
	// after a restart truncates it to its restart size.
	var largest, last int64
	shrinks := 0
	const want = 5 // it may start over now and then by chance, without the checkpointer's help
	for deadline := time.Now().Add(10 * time.Second); shrinks < want && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		size := walSize()
		if size < last {
			shrinks++
		}
		largest, last = max(largest, size), size
	}
	close(stop)
	wg.Wait()
	users := 0
	for w := range written {
		if errs[w] != nil {
			t.Fatalf("writer %d: %v", w, errs[w])
		}
		users += len(written[w])
	}
	if shrinks < want {
		t.Errorf("after %d users the WAL had started over %d times (it reached %d bytes), want %d", users, shrinks, largest, want)
	}
	for _, ids := range written {
		for _, id := range ids {
			if !userExists(t, db, id) {
				t.Fatalf("user %s was written, then lost", id[:12])
			}
		}
	}
}
