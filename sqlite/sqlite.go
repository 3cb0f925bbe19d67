// Package sqlite opens the store on an embedded SQLite file (modernc.org/sqlite,
// no cgo).
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"integrations/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Open opens (creating if needed) the SQLite database named by a URL of the
// form sqlite:PATH, with optional parameters: sqlite:data/app.db?synchronous=full.
// It applies the migrations before it returns.
//
// Parameters:
//   - synchronous: NORMAL (the default) keeps every committed transaction
//     through a crash of the process; FULL also through a crash of the machine,
//     at the cost of one fsync per commit.
func Open(ctx context.Context, rawURL string) (*sqlstore.DB, error) {
	return open(ctx, rawURL, checkpointInterval, walRestartBytes)
}

// busyTimeout is how long a connection waits for a lock that another holds.
const busyTimeout = 10 * time.Second

func open(ctx context.Context, rawURL string, checkpointEvery time.Duration, restartBytes int) (*sqlstore.DB, error) {
	path, sync, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	dsn := func(extra string) string {
		return "file:" + path + "?_pragma=busy_timeout(" + strconv.FormatInt(busyTimeout.Milliseconds(), 10) + ")&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous(" + sync + ")" + extra
	}
	// One connection writes, with transactions that take the write lock when
	// they begin, so that writers queue instead of failing with SQLITE_BUSY.
	// It never checkpoints on its own: the checkpointer does, in the
	// background, and on this connection only to make the WAL start over
	// (checkpoint.go), when it is truncated to restartBytes. Its statement
	// journals, which keep what each savepoint of a batch may have to undo,
	// stay in memory instead of temporary files.
	write, err := sql.Open("sqlite", dsn("&_txlock=immediate&_pragma=wal_autocheckpoint(0)&_pragma=journal_size_limit("+strconv.Itoa(restartBytes)+")&_pragma=temp_store(MEMORY)"))
	if err != nil {
		return nil, err
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxIdleTime(0)
	write.SetConnMaxLifetime(0)
	if err := sqlstore.Migrate(ctx, write, mustSub(migrations, "migrations"), func(q string) string { return q }); err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	read, err := sql.Open("sqlite", dsn("&_pragma=query_only(1)"))
	if err != nil {
		write.Close()
		return nil, err
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	read.SetConnMaxIdleTime(0)
	read.SetConnMaxLifetime(0)
	vdb, err := sql.Open("sqlite", dsn("&_pragma=query_only(1)"))
	if err != nil {
		write.Close()
		read.Close()
		return nil, err
	}
	v := newVersioner(path, vdb)
	if _, err := v.dataVersion(ctx); err != nil { // opens the versioner's connection
		v.close()
		write.Close()
		read.Close()
		return nil, err
	}
	cdb, err := sql.Open("sqlite", dsn(""))
	if err != nil {
		v.close()
		write.Close()
		read.Close()
		return nil, err
	}
	c, err := newCheckpointer(ctx, cdb, write, checkpointEvery, restartBytes)
	if err != nil {
		cdb.Close()
		v.close()
		write.Close()
		read.Close()
		return nil, err
	}
	db := sqlstore.New(read, write, Dialect)
	db.SetVersion(v.version, v.close)
	db.OnClose(c.close)
	return db, nil
}

// parseURL splits sqlite:PATH?synchronous=X into the path and the setting.
func parseURL(raw string) (path, sync string, err error) {
	rest, ok := strings.CutPrefix(raw, "sqlite:")
	if !ok {
		return "", "", fmt.Errorf("database URL %q does not start with sqlite:", raw)
	}
	rest = strings.TrimPrefix(rest, "//")
	path, query, _ := strings.Cut(rest, "?")
	if path == "" {
		return "", "", fmt.Errorf("database URL %q names no file", raw)
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", "", fmt.Errorf("database URL %q: %w", raw, err)
	}
	sync = "NORMAL"
	for key, values := range q {
		switch key {
		case "synchronous":
			sync = strings.ToUpper(values[0])
			if sync != "NORMAL" && sync != "FULL" && sync != "EXTRA" {
				return "", "", fmt.Errorf("database URL %q: synchronous must be normal, full or extra", raw)
			}
		default:
			return "", "", fmt.Errorf("database URL %q: unknown parameter %q", raw, key)
		}
	}
	return path, sync, nil
}

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

// Dialect is what the shared SQL needs to know about SQLite.
var Dialect = sqlstore.Dialect{
	Name:         "sqlite",
	Placeholders: func(q string) string { return q },
	// No VersionQuery: Open sets a versioner that reads data_version on
	// its own connection.
	IsUniqueViolation:     hasCode(sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY),
	IsForeignKeyViolation: hasCode(sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY),
	IsRetryable:           hasCode(sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED),
	IsUnavailable:         hasCode(sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL),
	LastInsertID:          true,
	// One connection writes: concurrent writes share commits.
	BatchWrites: true,
	// A bulk load inserts into indexes at random places: a page cache that
	// holds them saves rereading pages. LoadReset restores SQLite's default.
	LoadSettings: []string{"PRAGMA cache_size = -262144"},
	LoadReset:    []string{"PRAGMA cache_size = -2000"},
}

// hasCode returns a function that reports whether an error is a SQLite error
// with one of the codes (extended codes, or primary codes matching their low byte).
func hasCode(codes ...int) func(error) bool {
	return func(err error) bool {
		var e *sqlite.Error
		if !errors.As(err, &e) {
			return false
		}
		for _, c := range codes {
			if e.Code() == c || (c < 256 && e.Code()&0xff == c) {
				return true
			}
		}
		return false
	}
}
