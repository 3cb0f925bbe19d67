package postgres_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	neturl "net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	_ "modernc.org/sqlite"

	"integrations"
	"integrations/internal/storetest"
	"integrations/postgres"
	"integrations/sqlstore"
)

func TestRebind(t *testing.T) {
	tests := []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT a FROM t WHERE a = ? AND b = ?`, `SELECT a FROM t WHERE a = $1 AND b = $2`},
		{`INSERT INTO t VALUES (?,?,?)`, `INSERT INTO t VALUES ($1,$2,$3)`},
		{`SELECT '?' FROM t WHERE a = ?`, `SELECT '?' FROM t WHERE a = $1`},
		{`SELECT "a?" FROM t WHERE a = ?`, `SELECT "a?" FROM t WHERE a = $1`},
		{`SELECT 'it''s ?' WHERE a = ?`, `SELECT 'it''s ?' WHERE a = $1`},
		{`WHERE i.search LIKE ? ESCAPE '\'`, `WHERE i.search ILIKE $1 ESCAPE '\'`},
		{`WHERE a LIKE ? ESCAPE '\' AND b = ?`, `WHERE a ILIKE $1 ESCAPE '\' AND b = $2`},
		{`WHERE a like ?`, `WHERE a ILIKE $1`},
		{`WHERE a ILIKE ?`, `WHERE a ILIKE $1`},
		{`SELECT likes, alike, like_count FROM t WHERE a = 'LIKE'`, `SELECT likes, alike, like_count FROM t WHERE a = 'LIKE'`},
	}
	for _, tt := range tests {
		if got := postgres.Rebind(tt.in); got != tt.want {
			t.Errorf("Rebind(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestConfig(t *testing.T) {
	const base = "postgres://u@127.0.0.1:5432/db?sslmode=disable"
	tests := []struct {
		name             string
		url              string
		opts             postgres.Options
		connectTimeout   time.Duration
		statementTimeout string
	}{
		{"defaults", base, postgres.Options{}, postgres.DefaultConnectTimeout, "30000"},
		{"options", base, postgres.Options{ConnectTimeout: 2 * time.Second, StatementTimeout: 1500 * time.Millisecond}, 2 * time.Second, "1500"},
		{"URL", base + "&connect_timeout=3&statement_timeout=250", postgres.Options{}, 3 * time.Second, "250"},
		{"options over URL", base + "&connect_timeout=3&statement_timeout=250", postgres.Options{ConnectTimeout: time.Second, StatementTimeout: time.Minute}, time.Second, "60000"},
		{"postgresql scheme", "postgresql://u@127.0.0.1/db", postgres.Options{}, postgres.DefaultConnectTimeout, "30000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := postgres.Config(tt.url, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.ConnectTimeout != tt.connectTimeout {
				t.Errorf("connect timeout %v, want %v", cfg.ConnectTimeout, tt.connectTimeout)
			}
			if got := cfg.RuntimeParams["statement_timeout"]; got != tt.statementTimeout {
				t.Errorf("statement_timeout %q, want %q", got, tt.statementTimeout)
			}
		})
	}

	bad := []struct {
		name string
		url  string
		opts postgres.Options
	}{
		{"negative pool", base, postgres.Options{MaxConns: -1}},
		{"negative statement timeout", base, postgres.Options{StatementTimeout: -time.Second}},
		{"negative connect timeout", base, postgres.Options{ConnectTimeout: -time.Second}},
		{"bad URL", "postgres://u@127.0.0.1:notaport/db", postgres.Options{}},
		{"bad connect_timeout", base + "&connect_timeout=soon", postgres.Options{}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := postgres.Open(context.Background(), tt.url, tt.opts); err == nil {
				t.Error("Open succeeded")
			}
		})
	}
}

func TestContract(t *testing.T) {
	storetest.Run(t, storetest.Postgres)
}

func TestOverlappingClaims(t *testing.T) {
	storetest.OverlappingClaims(t, storetest.Postgres(t))
}

// TestOpenOptions shows that the options reach the connections.
func TestOpenOptions(t *testing.T) {
	url := storetest.PostgresURL(t)
	db, err := postgres.OpenDB(url, postgres.Options{MaxConns: 3, StatementTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	var timeout string
	if err := db.QueryRowContext(ctx, `SHOW statement_timeout`).Scan(&timeout); err != nil {
		t.Fatal(err)
	}
	if timeout != "200ms" {
		t.Errorf("statement_timeout is %q, want 200ms", timeout)
	}
	if n := db.Stats().MaxOpenConnections; n != 3 {
		t.Errorf("pool of %d connections, want 3", n)
	}
	// A statement that runs past the timeout ends with an error that the
	// API answers with 503.
	_, err = db.ExecContext(ctx, `SELECT pg_sleep(10)`)
	if err == nil || !postgres.Dialect.IsUnavailable(err) {
		t.Errorf("a statement past the timeout gave %v, want an unavailable error", err)
	}
}

// TestConnectTimeout shows that a server that accepts connections but never
// answers makes Open fail after the connect timeout instead of hanging.
func TestConnectTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	}()

	done := make(chan error, 1)
	go func() {
		_, err := postgres.Open(context.Background(), "postgres://u@"+ln.Addr().String()+"/db?sslmode=disable", postgres.Options{ConnectTimeout: 100 * time.Millisecond})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !postgres.Dialect.IsUnavailable(err) {
			t.Errorf("Open gave %v, want an unavailable error", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Open still waits for a server that does not answer")
	}
}

// TestUnavailable shows the store's errors when the database refuses
// connections, and that it recovers on its own when they are allowed again.
func TestUnavailable(t *testing.T) {
	url := storetest.PostgresURL(t)
	store := storetest.PostgresAt(t, url)
	ctx := context.Background()
	if err := store.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	name := storetest.PostgresDatabase(t, url)
	storetest.PostgresAdmin(t, `ALTER DATABASE `+name+` ALLOW_CONNECTIONS false`)
	t.Cleanup(func() { storetest.PostgresAdmin(t, `ALTER DATABASE `+name+` ALLOW_CONNECTIONS true`) })
	storetest.PostgresAdmin(t, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '`+name+`' AND pid <> pg_backend_pid()`)

	checks := map[string]func() error{
		"Ping": func() error { return store.Ping(ctx) },
		"View": func() error {
			return store.View(ctx, func(tx integrations.Tx) error { _, err := tx.Setting("x"); return err })
		},
		"Update": func() error {
			return store.Update(ctx, func(tx integrations.Tx) error { _, err := tx.InitSetting("x", "1"); return err })
		},
	}
	for name, check := range checks {
		if err := check(); integrations.ErrorCode(err) != integrations.EUNAVAILABLE {
			t.Errorf("%s while the database refuses connections: %v, want %s", name, err, integrations.EUNAVAILABLE)
		}
	}

	storetest.PostgresAdmin(t, `ALTER DATABASE `+name+` ALLOW_CONNECTIONS true`)
	for name, check := range checks {
		if err := check(); err != nil {
			t.Errorf("%s after the database is back: %v", name, err)
		}
	}
}

// TestTerminatedConnections shows that connections ended by the server
// (pg_terminate_backend, a restart, a proxy) cost at most one failed
// transaction each, answered as unavailable, and are replaced.
func TestTerminatedConnections(t *testing.T) {
	url := storetest.PostgresURL(t)
	store := storetest.PostgresAt(t, url)
	ctx := context.Background()
	view := func() error {
		return store.View(ctx, func(tx integrations.Tx) error { _, err := tx.Setting("x"); return err })
	}
	// Use several connections at once, twice, so that the pool keeps idle
	// ones that it has used recently: it does not check those before use.
	for range 2 {
		var inside, wg sync.WaitGroup
		inside.Add(4)
		for range 4 {
			wg.Go(func() {
				store.View(ctx, func(tx integrations.Tx) error {
					_, err := tx.Setting("x")
					inside.Done()
					inside.Wait()
					return err
				})
			})
		}
		wg.Wait()
	}
	name := storetest.PostgresDatabase(t, url)
	storetest.PostgresAdmin(t, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '`+name+`' AND pid <> pg_backend_pid()`)
	for i := range 6 {
		if err := view(); err != nil && integrations.ErrorCode(err) != integrations.EUNAVAILABLE {
			t.Fatalf("transaction %d after the connections ended: %v, want success or %s", i, err, integrations.EUNAVAILABLE)
		}
	}
	if err := view(); err != nil {
		t.Errorf("the store did not recover: %v", err)
	}
}

// TestUpdateRetriesConflicts runs two transactions that read the same row
// and then both change it: PostgreSQL fails one of them, and Update runs it
// again so that neither change is lost.
func TestUpdateRetriesConflicts(t *testing.T) {
	store := storetest.Postgres(t)
	ctx := context.Background()
	now := time.Now()
	org := &integrations.Organization{ID: "org", Title: "Org", CreatedAt: now}
	space := &integrations.Space{ID: "space", OrganizationID: "org", Title: "0", Visibility: "private", CreatedAt: now, UpdatedAt: now}
	if err := store.Update(ctx, func(tx integrations.Tx) error {
		if err := tx.CreateOrganization(org); err != nil {
			return err
		}
		return tx.CreateSpace(space)
	}); err != nil {
		t.Fatal(err)
	}

	var runs atomic.Int32
	var read sync.WaitGroup // both first attempts have read the space
	read.Add(2)
	increment := func() error {
		return store.Update(ctx, func(tx integrations.Tx) error {
			first := runs.Add(1) <= 2
			s, err := tx.Space("space")
			if err != nil {
				return err
			}
			if first {
				read.Done()
				read.Wait()
			}
			var n int
			fmt.Sscan(s.Title, &n)
			s.Title = fmt.Sprint(n + 1)
			return tx.UpdateSpace(s)
		})
	}
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- increment() }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("Update: %v", err)
		}
	}
	if n := runs.Load(); n < 3 {
		t.Errorf("the transactions ran %d times: no conflict was retried", n)
	}
	store.View(ctx, func(tx integrations.Tx) error {
		s, err := tx.Space("space")
		if err != nil {
			t.Fatal(err)
		}
		if s.Title != "2" {
			t.Errorf("after two increments the space's title is %q, want 2", s.Title)
		}
		return nil
	})
}

// TestUpdateUnderContention runs many transactions at once that each read
// every space of one organization and change one of them: each pair
// conflicts, as concurrent requests on one organization's spaces do (an
// installation's answer counts its spaces). Update keeps running them until
// they pass, as SQLite, where writers take turns, would.
func TestUpdateUnderContention(t *testing.T) {
	store := storetest.Postgres(t)
	ctx := context.Background()
	now := time.Now()
	const workers, rounds = 16, 25
	if err := store.Update(ctx, func(tx integrations.Tx) error {
		if err := tx.CreateOrganization(&integrations.Organization{ID: "org", Title: "Org", CreatedAt: now}); err != nil {
			return err
		}
		for w := range workers {
			if err := tx.CreateSpace(&integrations.Space{ID: fmt.Sprint("s", w), OrganizationID: "org", Title: "0", Visibility: "private", CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := range workers {
		wg.Go(func() {
			for range rounds {
				errs <- store.Update(ctx, func(tx integrations.Tx) error {
					if _, _, err := tx.Spaces(integrations.SpaceFilter{OrganizationID: "org"}, integrations.Page{Limit: 100}); err != nil {
						return err
					}
					s, err := tx.Space(fmt.Sprint("s", w))
					if err != nil {
						return err
					}
					var n int
					fmt.Sscan(s.Title, &n)
					s.Title = fmt.Sprint(n + 1)
					return tx.UpdateSpace(s)
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil {
			failed++
			if failed <= 3 {
				t.Errorf("Update: %v", err)
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d transactions failed", failed, workers*rounds)
	}
	store.View(ctx, func(tx integrations.Tx) error {
		for w := range workers {
			if s, err := tx.Space(fmt.Sprint("s", w)); err != nil || s.Title != fmt.Sprint(rounds) {
				t.Errorf("space %d after %d increments: %+v, %v", w, rounds, s, err)
			}
		}
		return nil
	})
}

// TestConcurrentInstalls installs the same integration on the same
// organization from many transactions at once, each of which looks for the
// installation first and creates it only when it finds none, as the service
// does. As on SQLite, where writers take turns, exactly one creates it and
// every other finds it: none fails with a conflict, although PostgreSQL
// reports some of these races as a unique violation of a row that the
// transaction could not see.
func TestConcurrentInstalls(t *testing.T) {
	store := storetest.Postgres(t)
	ctx := context.Background()
	now := time.Now()
	if err := store.Update(ctx, func(tx integrations.Tx) error {
		if err := tx.CreateOrganization(&integrations.Organization{ID: "org", Title: "Org", CreatedAt: now}); err != nil {
			return err
		}
		return tx.CreateIntegration(&integrations.Integration{ID: "int", Name: "int", OrganizationID: "org", Title: "Int", Visibility: "public", Target: "all", CreatedAt: now, UpdatedAt: now})
	}); err != nil {
		t.Fatal(err)
	}
	const n = 32
	created := make(chan bool, n)
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := range n {
		go func() {
			<-start
			var made bool
			errs <- store.Update(ctx, func(tx integrations.Tx) error {
				made = false
				_, err := tx.InstallationOf("int", "org")
				if integrations.ErrorCode(err) != integrations.ENOTFOUND {
					return err
				}
				made = true
				return tx.CreateInstallation(&integrations.Installation{ID: fmt.Sprint("inst", i), IntegrationID: "int", OrganizationID: "org",
					Status: "active", SpaceSelection: "selected", SiteSelection: "selected", CreatedAt: now, UpdatedAt: now})
			})
			created <- made
		}()
	}
	close(start)
	won := 0
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("Update: %v", err)
		}
		if <-created {
			won++
		}
	}
	if won != 1 {
		t.Errorf("%d transactions created the installation, want 1", won)
	}
	// A real duplicate still fails, with the conflict of the store.
	err := store.Update(ctx, func(tx integrations.Tx) error {
		return tx.CreateInstallation(&integrations.Installation{ID: "again", IntegrationID: "int", OrganizationID: "org",
			Status: "active", SpaceSelection: "selected", SiteSelection: "selected", CreatedAt: now, UpdatedAt: now})
	})
	if integrations.ErrorCode(err) != integrations.ECONFLICT || !strings.Contains(integrations.ErrorMessage(err), "already exists") {
		t.Errorf("creating a duplicate: %v, want the store's %s", err, integrations.ECONFLICT)
	}
}

// TestConcurrentOpen opens a new database from many goroutines at once:
// every Open succeeds and each migration is applied once.
func TestConcurrentOpen(t *testing.T) {
	url := storetest.PostgresURL(t)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			db, err := postgres.Open(context.Background(), url, storetest.TestOptions)
			if err == nil {
				err = db.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
		}
	}

	entries, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, e := range entries {
		want = append(want, strings.TrimSuffix(e.Name(), ".sql"))
	}
	var got []string
	rows := storetest.PostgresQuery(t, url, `SELECT version FROM schema_migrations ORDER BY version`)
	for _, r := range rows {
		got = append(got, r[0].(string))
	}
	if !slices.Equal(got, want) {
		t.Errorf("schema_migrations holds %q, want each of %q once", got, want)
	}
}

// TestMigrationWaitsForLock holds the migrations' lock while a process
// starts: Open waits for it longer than the statement timeout, and goes on
// once the lock is free.
func TestMigrationWaitsForLock(t *testing.T) {
	url := storetest.PostgresURL(t)
	ctx := context.Background()
	holder, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(ctx)
	if _, err := holder.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(postgres.MigrationLock)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		db, err := postgres.Open(ctx, url, postgres.Options{StatementTimeout: 50 * time.Millisecond})
		if err == nil {
			db.Close()
		}
		done <- err
	}()
	// Wait until Open has waited for the lock for four statement timeouts,
	// as the server measures it.
	deadline := time.Now().Add(time.Minute)
	for {
		var waiting bool
		err := holder.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
			WHERE l.locktype = 'advisory' AND NOT l.granted AND now() - a.query_start > interval '200 milliseconds')`).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("Open ended while another process held the lock: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("Open never waited for the lock")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := holder.Exec(ctx, `SELECT pg_advisory_unlock($1)`, int64(postgres.MigrationLock)); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("Open after the lock was released: %v", err)
	}
}

// TestMigrationsMirrorSQLite checks that PostgreSQL has a migration for each
// of SQLite's, with the same number and name.
func TestMigrationsMirrorSQLite(t *testing.T) {
	names := func(dir string) []string {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var list []string
		for _, e := range entries {
			list = append(list, e.Name())
		}
		return list
	}
	if pg, lite := names("migrations"), names("../sqlite/migrations"); !slices.Equal(pg, lite) {
		t.Errorf("postgres/migrations has %q, sqlite/migrations %q", pg, lite)
	}
}

// TestTextLimits shows that both stores refuse text that PostgreSQL cannot
// hold, NUL characters and invalid UTF-8, with the same error, in writes and
// in lookups alike, and keep any other text exactly.
func TestTextLimits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		store := open(t)
		ctx := context.Background()
		now := time.Now()
		tests := []struct {
			name string
			fn   func(tx integrations.Tx) error
		}{
			{"NUL in a created title", func(tx integrations.Tx) error {
				return tx.CreateOrganization(&integrations.Organization{ID: "nul", Title: "a\x00b", CreatedAt: now})
			}},
			{"invalid UTF-8 in a created title", func(tx integrations.Tx) error {
				return tx.CreateOrganization(&integrations.Organization{ID: "bad", Title: "a\xffb", CreatedAt: now})
			}},
			{"NUL in a search", func(tx integrations.Tx) error {
				_, _, err := tx.Integrations(integrations.IntegrationFilter{Search: "a\x00"}, integrations.Page{Limit: 10})
				return err
			}},
			{"invalid UTF-8 in a lookup", func(tx integrations.Tx) error {
				_, err := tx.Organization("a\xffb")
				return err
			}},
		}
		for _, tt := range tests {
			if err := store.Update(ctx, tt.fn); integrations.ErrorCode(err) != integrations.EINVALID {
				t.Errorf("%s: %v, want %s", tt.name, err, integrations.EINVALID)
			}
		}

		const title = "Ünïcödé 😀 \u212a\t'\"%_\\"
		if err := store.Update(ctx, func(tx integrations.Tx) error {
			return tx.CreateOrganization(&integrations.Organization{ID: "ok", Title: title, CreatedAt: now})
		}); err != nil {
			t.Fatal(err)
		}
		store.View(ctx, func(tx integrations.Tx) error {
			o, err := tx.OrganizationByTitle(title)
			if err != nil || o.Title != title {
				t.Errorf("read back %+v, %v; want the title %q", o, err, title)
			}
			return nil
		})
	})
}

// TestSameAsSQLite compares how the two databases order and match text, on
// columns declared as in the migrations: byte-wise order, and LIKE (ILIKE on
// PostgreSQL) that ignores the case of ASCII letters only.
func TestSameAsSQLite(t *testing.T) {
	ctx := context.Background()
	lite, err := sql.Open("sqlite", "file:"+t.TempDir()+"/t.db")
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	pg, err := postgres.OpenDB(storetest.PostgresURL(t), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	for db, ddl := range map[*sql.DB]string{
		lite: `CREATE TABLE t (n INTEGER, s TEXT, p TEXT)`,
		pg:   `CREATE TABLE t (n BIGINT, s TEXT COLLATE "C", p TEXT COLLATE "C")`,
	} {
		if _, err := db.ExecContext(ctx, ddl); err != nil {
			t.Fatal(err)
		}
	}
	texts := []string{"a", "B", "b", "A", "_", "-", "Z", "z", "é", "É", "e", "ß", "SS", "ǅ", "İ", "i", "ı", "K", "k", "\u212a", "😀", "a b", "a-b", "a_b", "%", `\`, "10", "9", "", "ａ", "Ａ"}
	patterns := []string{"%a%", "%A%", "%é%", "%É%", "%k%", "%K%", "%ss%", "%ß%", "%i%", "%I%", "%\\_%", "%\\%%", "%\\\\%", "%ａ%", "_", "%"}
	n := 0
	for _, s := range texts {
		for _, p := range patterns {
			n++
			for _, db := range []*sql.DB{lite, pg} {
				q := `INSERT INTO t (n, s, p) VALUES (?, ?, ?)`
				if db == pg {
					q = postgres.Rebind(q)
				}
				if _, err := db.ExecContext(ctx, q, n, s, p); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	for _, q := range []string{
		`SELECT n FROM t ORDER BY s, p, n`,
		`SELECT n FROM t ORDER BY s DESC, p DESC, n`,
		`SELECT n FROM t WHERE s LIKE p ESCAPE '\' ORDER BY n`,
		`SELECT n FROM t WHERE s > p ORDER BY n`,
		`SELECT n FROM t WHERE (s || '/' || p) < 'b/%' ORDER BY n`,
	} {
		want := column(t, lite, q)
		got := column(t, pg, postgres.Rebind(q))
		if !slices.Equal(got, want) {
			t.Errorf("%s: PostgreSQL gives %d rows %v..., SQLite %d rows %v...", q, len(got), head(got), len(want), head(want))
		}
	}
}

func column(t *testing.T, db *sql.DB, q string) []int64 {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var list []int64
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		list = append(list, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return list
}

func head(l []int64) []int64 { return l[:min(len(l), 10)] }

// schemaBefore makes a schema of its own with the migrations before the
// named one, and returns its URL and a handle on it.
func schemaBefore(t *testing.T, migration string) (string, *sql.DB) {
	t.Helper()
	url := storetest.PostgresSchemaURL(t)
	raw, err := postgres.OpenDB(url, storetest.TestOptions)
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlstore.Migrate(t.Context(), raw, storetest.MigrationsBefore(t, os.DirFS("migrations"), migration), postgres.Rebind); err != nil {
		t.Fatal(err)
	}
	return url, raw
}

// TestMigrationKeepsSpaceInstallations opens a database made by the
// migrations before 0006, which gives the space installations a new key,
// writes to it, and checks that the store at the newest schema finds it all.
func TestMigrationKeepsSpaceInstallations(t *testing.T) {
	url, raw := schemaBefore(t, "0006")
	storetest.SpaceInstallationsSurviveMigration(t, sqlstore.New(raw, raw, postgres.Dialect), func() integrations.Store {
		return storetest.PostgresAt(t, url)
	})
}

// TestMigrationKeepsEventAttempts opens a database made by the migrations
// before 0008, which gives an event's first attempt a place in its row,
// with events and attempts as they were written then, and checks that the
// store at the newest schema finds them all.
func TestMigrationKeepsEventAttempts(t *testing.T) {
	url, raw := schemaBefore(t, "0008")
	exec := func(query string, args ...any) error {
		_, err := raw.ExecContext(t.Context(), postgres.Rebind(query), args...)
		return err
	}
	storetest.EventsSurviveMigration(t, sqlstore.New(raw, raw, postgres.Dialect), exec, func() integrations.Store {
		return storetest.PostgresAt(t, url)
	})
}

// TestLoadAnalyzes checks that a bulk load ends with the statistics and the
// vacuum of the tables it filled, which autovacuum would otherwise make a
// minute later, changing the snapshot that labels the cached answers.
func TestLoadAnalyzes(t *testing.T) {
	url := storetest.PostgresSchemaURL(t)
	s := storetest.PostgresAt(t, url)
	d := &integrations.Dataset{Organizations: []integrations.Organization{{ID: "o1", Title: "One", EmailDomains: []string{}, CreatedAt: time.Now()}}}
	if err := s.(*sqlstore.DB).Load(t.Context(), d, nil); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var analyzed, vacuumed bool
	err = conn.QueryRow(t.Context(), `SELECT last_analyze IS NOT NULL, last_vacuum IS NOT NULL FROM pg_stat_user_tables
		WHERE relname = 'organizations' AND schemaname = current_schema()`).Scan(&analyzed, &vacuumed)
	if err != nil {
		t.Fatal(err)
	}
	if !analyzed || !vacuumed {
		t.Errorf("after the load, organizations analyzed: %v, vacuumed: %v", analyzed, vacuumed)
	}
}

// TestReadWindow shows the read window between two processes on one
// database: a reading of the version serves the requests of the window after
// its query began, even when something committed meanwhile, and a write
// through Update or Load returns only once no process can give a reading
// older than its commit.
func TestReadWindow(t *testing.T) {
	url := storetest.PostgresSchemaURL(t)
	ctx := t.Context()
	const window = testWindow
	a, _ := openPresent(t, url)
	b, pb := openPresent(t, url)
	// Once b shares its readings, neither process is alone.
	waitFor(t, "sharing its readings", func() bool { return shares(pb) })
	raw, err := postgres.OpenDB(url, storetest.TestOptions)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()

	before, err := b.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A commit outside Update, which does not wait: b's reading still serves.
	if _, err := raw.ExecContext(ctx, `SELECT txid_current()`); err != nil {
		t.Fatal(err)
	}
	if v, _ := b.Version(ctx); v != before {
		t.Fatalf("b read the version again within the window: %s, then %s", before, v)
	}
	began := time.Now()
	err = a.Update(ctx, func(tx integrations.Tx) error {
		return tx.CreateUser(&integrations.User{ID: "u", DisplayName: "U", CreatedAt: tx.Now()})
	})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took < window+window/10 {
		t.Errorf("Update returned %v after it began, within the window", took)
	}
	after, _ := b.Version(ctx)
	if after == before {
		t.Errorf("after a write through a returned, b gives the version read before it: %s", after)
	}
	// A bulk load waits the same.
	began = time.Now()
	err = a.Load(ctx, &integrations.Dataset{Users: []integrations.User{{ID: "v", DisplayName: "V", CreatedAt: time.Now()}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took < window+window/10 {
		t.Errorf("Load returned %v after it began, within the window", took)
	}
	if v, _ := b.Version(ctx); v == after {
		t.Errorf("after a load through a returned, b gives the version read before it: %s", v)
	}
}

// TestBeginAndCommit checks the dialect's Begin and Commit, which run a
// transaction on a connection outside database/sql's own transactions:
// Begin opens the transaction with its options and reads the generation in
// it; Commit reports a transaction that PostgreSQL rolled back; and a
// connection that goes back to the pool in a transaction, committed or
// not, is never handed out again.
func TestBeginAndCommit(t *testing.T) {
	url := storetest.PostgresURL(t)
	store, err := postgres.Open(t.Context(), url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	store.Close()
	db, err := postgres.OpenDB(url, postgres.Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := t.Context()
	var want int64
	if err := db.QueryRowContext(ctx, sqlstore.GenerationQuery).Scan(&want); err != nil {
		t.Fatal(err)
	}
	// notInTransaction checks that the pool's connection is in no
	// transaction: a statement runs, at the default isolation.
	notInTransaction := func(after string) {
		t.Helper()
		var isolation string
		if err := db.QueryRowContext(ctx, `SHOW transaction_isolation`).Scan(&isolation); err != nil || isolation != "read committed" {
			t.Errorf("after %s: the pool's connection answers %q, %v; want read committed, outside any transaction", after, isolation, err)
		}
	}
	for _, tt := range []struct {
		opts      sql.TxOptions
		isolation string
		readOnly  string
	}{
		{sql.TxOptions{Isolation: sql.LevelSerializable}, "serializable", "off"},
		{sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}, "repeatable read", "on"},
		{sql.TxOptions{Isolation: sql.LevelReadCommitted}, "read committed", "off"},
		{sql.TxOptions{}, "read committed", "off"},
	} {
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r, err := postgres.Dialect.Begin(ctx, conn, tt.opts)
		if err != nil {
			t.Fatalf("%+v: %v", tt.opts, err)
		}
		if r.Generation != want {
			t.Errorf("%+v: generation %d, want %d", tt.opts, r.Generation, want)
		}
		var isolation, readOnly, snapshot string
		if err := conn.QueryRowContext(ctx, `SELECT current_setting('transaction_isolation'), current_setting('transaction_read_only'), pg_current_snapshot()::text`).Scan(&isolation, &readOnly, &snapshot); err != nil {
			t.Fatal(err)
		}
		// The version is the transaction's snapshot, where it keeps one
		// (other tests' transactions move the server's meanwhile).
		if r.Version == "" || tt.opts.Isolation > sql.LevelReadCommitted && r.Version != snapshot {
			t.Errorf("%+v: version %q, want the transaction's snapshot %q", tt.opts, r.Version, snapshot)
		}
		if isolation != tt.isolation || readOnly != tt.readOnly {
			t.Errorf("%+v: isolation %q, read only %q; want %q, %q", tt.opts, isolation, readOnly, tt.isolation, tt.readOnly)
		}
		if err := postgres.Dialect.Commit(ctx, conn); err != nil {
			t.Errorf("%+v: commit: %v", tt.opts, err)
		}
		conn.Close()
		notInTransaction(fmt.Sprintf("the commit of %+v", tt.opts))
	}

	// A transaction with a failed statement: COMMIT rolls it back, and
	// Commit says so; nothing of it stays.
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Dialect.Begin(ctx, conn, sql.TxOptions{Isolation: sql.LevelSerializable}); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, `UPDATE generation SET n = n + 1`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, `SELECT n FROM no_such_table`); err == nil {
		t.Fatal("a query of a missing table succeeded")
	}
	if err := postgres.Dialect.Commit(ctx, conn); err == nil {
		t.Error("the commit of a transaction that PostgreSQL rolled back reported success")
	}
	conn.Close()
	generationIs := func(after string, want int64) {
		t.Helper()
		var n int64
		if err := db.QueryRowContext(ctx, sqlstore.GenerationQuery).Scan(&n); err != nil || n != want {
			t.Errorf("generation %d (%v) after %s, want %d", n, err, after, want)
		}
	}
	generationIs("a rolled-back update", want)

	// A first statement sent with the BEGIN, and a last one with the
	// COMMIT: their rows and counts come back, and they commit with the
	// rest of the transaction.
	var pid int
	if err := db.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	beginWith := func(first *sqlstore.Statement) *sql.Conn {
		t.Helper()
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r, err := postgres.Dialect.Begin(ctx, conn, sql.TxOptions{Isolation: sql.LevelSerializable}, first)
		if err != nil || r.Generation != want || r.Version == "" {
			t.Fatalf("Begin with %q: %+v, %v; want generation %d and a version", first.Query, r, err, want)
		}
		return conn
	}
	first := &sqlstore.Statement{Query: `UPDATE generation SET n = n + $1`, Args: []any{1}}
	conn = beginWith(first)
	if first.Err != nil || first.Affected != 1 {
		t.Errorf("first statement: %d rows, %v; want 1, none", first.Affected, first.Err)
	}
	var n int64
	last := &sqlstore.Statement{Query: `UPDATE generation SET n = n + $1 RETURNING n`, Args: []any{10}, Dest: []any{&n}}
	if err := postgres.Dialect.Commit(ctx, conn, last); err != nil || last.Err != nil || n != want+11 {
		t.Errorf("commit with a last statement: row %d, errors %v, %v; want %d, none", n, last.Err, err, want+11)
	}
	conn.Close()
	want += 11
	generationIs("a commit with a first and a last statement", want)

	// A first statement that fails leaves the transaction open, failed:
	// Begin returns the generation, the statement its error, and the
	// rollback ends it. A last statement that fails rolls back the
	// transaction, what came before it too. Either way the connection
	// goes back to the pool out of any transaction, still there (the same
	// server process answers).
	stillThere := func(after string) {
		t.Helper()
		var p int
		if err := db.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&p); err != nil || p != pid {
			t.Errorf("after %s, server process %d (%v), want %d: the connection was dropped", after, p, err, pid)
		}
		notInTransaction(after)
	}
	divByZero := func(what string, err error) {
		t.Helper()
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "22012" {
			t.Errorf("%s: %v, want division_by_zero", what, err)
		}
	}
	first = &sqlstore.Statement{Query: `SELECT n / $1 FROM generation`, Args: []any{0}, Dest: []any{&n}}
	conn = beginWith(first)
	divByZero("a first statement that divides by zero", first.Err)
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Error(err)
	}
	conn.Close()
	stillThere("a first statement that failed")

	conn = beginWith(&sqlstore.Statement{Query: `UPDATE generation SET n = n + 1`})
	last = &sqlstore.Statement{Query: `SELECT n / $1 FROM generation`, Args: []any{0}, Dest: []any{&n}}
	if err := postgres.Dialect.Commit(ctx, conn, last); err != nil {
		t.Errorf("commit with a last statement that failed: %v, want the statement's error alone", err)
	}
	divByZero("a last statement that divides by zero", last.Err)
	conn.Close()
	generationIs("a last statement that failed", want)
	stillThere("a last statement that failed")

	// A transaction left open: its connection is dropped, not reused.
	conn, err = db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Dialect.Begin(ctx, conn, sql.TxOptions{Isolation: sql.LevelSerializable}); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	notInTransaction("a transaction left open")

	// A Begin that fails after its BEGIN (no generation table) leaves the
	// connection in a failed transaction; closed, it is not reused either.
	if _, err := db.ExecContext(ctx, `DROP TABLE generation`); err != nil {
		t.Fatal(err)
	}
	conn, err = db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Dialect.Begin(ctx, conn, sql.TxOptions{Isolation: sql.LevelSerializable}); err == nil {
		t.Error("Begin without a generation table succeeded")
	}
	conn.Close()
	notInTransaction("a Begin that failed")
}

// TestWriteRoundTrips counts the round trips of an enable's and a
// disable's transactions, as the service runs them when its lookups come
// from the reference cache: the space installation's insert or delete
// with the BEGIN, the event with its attempt and the COMMIT. A proxy
// between the store and PostgreSQL counts the times the store sends after
// it heard from the server.
func TestWriteRoundTrips(t *testing.T) {
	url := storetest.PostgresURL(t)
	storetest.PostgresAt(t, url).Close() // migrates
	proxy := newFlightCounter(t, url)
	// One connection in the pool, through the proxy; the presence
	// connection, whose checks come every 100 ms, goes around it.
	store, err := postgres.OpenBesidePresence(t.Context(), proxy.url, url, postgres.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := t.Context()
	storetest.RefWorld(t, store)
	event := func(tx integrations.Tx) error {
		e := &integrations.Event{ID: integrations.NewEventID(), IntegrationID: "int1", InstallationID: "inst1", SpaceID: "handbook", OrganizationID: "acme",
			Type: integrations.EventSpaceInstallationSetup, Payload: json.RawMessage(`{}`), Status: integrations.EventFailed, Attempts: 1,
			NextAttemptAt: tx.Now(), CreatedAt: tx.Now(), UpdatedAt: tx.Now()}
		return tx.CreateEvent(e, &integrations.EventAttempt{EventID: e.ID, Attempt: 1, At: tx.Now(), Error: "not delivered"})
	}
	enable := func(tx integrations.Tx) error {
		created, err := tx.AddSpaceInstallation(&integrations.SpaceInstallation{InstallationID: "inst1", SpaceID: "handbook", Status: integrations.StatusActive,
			Configuration: json.RawMessage(`{}`), ExternalIDs: []string{}, CreatedAt: tx.Now(), UpdatedAt: tx.Now()})
		if err != nil || !created {
			return fmt.Errorf("enable: created %v, %v", created, err)
		}
		return event(tx)
	}
	disable := func(tx integrations.Tx) error {
		si, err := tx.DeleteSpaceInstallation("inst1", "handbook")
		if err != nil || si == nil {
			return fmt.Errorf("disable: deleted %v, %v", si, err)
		}
		return event(tx)
	}
	for round := range 2 { // the first prepares the statements
		for _, op := range []struct {
			name string
			fn   func(integrations.Tx) error
		}{{"enable", enable}, {"disable", disable}} {
			before := proxy.flights()
			if err := store.Update(ctx, op.fn); err != nil {
				t.Fatal(err)
			}
			if n := proxy.flights() - before; round == 1 && n != 2 {
				t.Errorf("%s: %d round trips, want 2", op.name, n)
			}
		}
	}
}

// flightCounter is a TCP proxy to PostgreSQL that counts the flights of
// the client: the times it sends after the server last sent.
type flightCounter struct {
	url string
	mu  sync.Mutex
	n   int
	// clientSpoke says that the client sent last.
	clientSpoke bool
}

func newFlightCounter(t *testing.T, rawURL string) *flightCounter {
	t.Helper()
	u, err := neturl.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	target := u.Host
	u.Host = ln.Addr().String()
	f := &flightCounter{url: u.String()}
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", target)
			if err != nil {
				client.Close()
				continue
			}
			go f.copy(server, client, true)
			go f.copy(client, server, false)
		}
	}()
	return f
}

func (f *flightCounter) copy(dst, src net.Conn, fromClient bool) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			f.mu.Lock()
			if fromClient && !f.clientSpoke {
				f.n++
			}
			f.clientSpoke = fromClient
			f.mu.Unlock()
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (f *flightCounter) flights() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}
