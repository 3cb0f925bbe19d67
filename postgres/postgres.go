// Package postgres opens the store on PostgreSQL through pgx (github.com/jackc/pgx/v5),
// behind database/sql so that the shared SQL of package sqlstore runs unchanged.
// Any number of server processes may use one database at the same time.
package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"integrations/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options tune the connections of one server process. A zero field takes
// the value of the URL's parameter of the same meaning when there is one,
// the default otherwise.
type Options struct {
	// MaxConns bounds the open connections of this process, its presence
	// connection (presence.go) included: at least 2. With N processes the
	// database sees up to N*MaxConns connections, which must stay below
	// its max_connections.
	MaxConns int
	// StatementTimeout bounds every statement on the server, so that a
	// stuck query ends in an error instead of holding a request and a
	// connection (URL parameter statement_timeout, in milliseconds).
	StatementTimeout time.Duration
	// ConnectTimeout bounds opening a connection, including the TLS and
	// authentication exchanges (URL parameter connect_timeout, in seconds).
	ConnectTimeout time.Duration
}

// The defaults of Options.
const (
	DefaultMaxConns         = 10
	DefaultStatementTimeout = 30 * time.Second
	DefaultConnectTimeout   = 5 * time.Second
)

// Open opens the PostgreSQL database named by a postgres:// or postgresql://
// URL (any connection string that pgx accepts), applies the migrations that
// it lacks and returns the store. Processes that start at the same time
// migrate one after the other: the first applies the migrations and the
// others find nothing left to do.
func Open(ctx context.Context, url string, opts Options) (*sqlstore.DB, error) {
	return open(ctx, url, opts, Dialect)
}

func open(ctx context.Context, url string, opts Options, d sqlstore.Dialect) (*sqlstore.DB, error) {
	store, _, err := openPresent(ctx, url, opts, d, presenceTick, presenceLease, "")
	return store, err
}

// openPresent opens the store and, where it has a read window, its
// presence on the database (presence.go), with the presence's durations,
// on presenceURL if not empty (tests that watch the store's own
// connections), else on url.
func openPresent(ctx context.Context, url string, opts Options, d sqlstore.Dialect, tick, lease time.Duration, presenceURL string) (*sqlstore.DB, *presence, error) {
	cfg, err := config(url, opts)
	if err != nil {
		return nil, nil, err
	}
	presenceCfg := cfg
	if presenceURL != "" {
		if presenceCfg, err = config(presenceURL, opts); err != nil {
			return nil, nil, err
		}
	}
	if err := migrate(ctx, cfg); err != nil {
		return nil, nil, fmt.Errorf("postgres: %w", err)
	}
	present := d.ReadWindow > 0
	if present && opts.MaxConns == 1 {
		return nil, nil, errors.New("postgres: at least 2 connections are needed: one keeps the process's presence on the database")
	}
	db := openDB(cfg, opts, present)
	store := sqlstore.New(db, db, d)
	var p *presence
	if present {
		p = startPresence(presenceCfg, tick, lease)
		store.SetPresence(p)
		store.OnClose(p.close)
	}
	return store, p, nil
}

// config parses the URL and applies the options to it.
func config(url string, opts Options) (*pgx.ConnConfig, error) {
	if opts.MaxConns < 0 || opts.StatementTimeout < 0 || opts.ConnectTimeout < 0 {
		return nil, errors.New("postgres: negative connection option")
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	switch {
	case opts.ConnectTimeout > 0:
		cfg.ConnectTimeout = opts.ConnectTimeout
	case cfg.ConnectTimeout == 0:
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	switch _, inURL := cfg.RuntimeParams["statement_timeout"]; {
	case opts.StatementTimeout > 0:
		cfg.RuntimeParams["statement_timeout"] = strconv.FormatInt(opts.StatementTimeout.Milliseconds(), 10)
	case !inURL:
		cfg.RuntimeParams["statement_timeout"] = strconv.FormatInt(DefaultStatementTimeout.Milliseconds(), 10)
	}
	// The shared SQL writes ESCAPE '\' and means one backslash.
	cfg.RuntimeParams["standard_conforming_strings"] = "on"
	return cfg, nil
}

// openDB returns the connection pool of the store: the connections of
// opts, but the presence connection where there is one.
func openDB(cfg *pgx.ConnConfig, opts Options, presence bool) *sql.DB {
	n := opts.MaxConns
	if n == 0 {
		n = DefaultMaxConns
	}
	if presence {
		n--
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	return db
}

// migrationLock is the key of the session advisory lock that serializes
// migrations: any constant that nothing else in the database uses.
const migrationLock = 0x696e746567726174 // "integrat"

// migrate applies the migrations on a connection of its own that holds an
// advisory lock throughout, so that one process migrates while the others
// wait for it. Migrations may take longer than the statement timeout, and
// so may the wait: that connection has none. Closing it releases the lock
// even when unlocking fails.
func migrate(ctx context.Context, cfg *pgx.ConnConfig) error {
	cfg = cfg.Copy()
	cfg.RuntimeParams["statement_timeout"] = "0"
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLock)); err != nil {
		return fmt.Errorf("lock for migrations: %w", err)
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	if err := sqlstore.Migrate(ctx, conn, sub, rebind); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, int64(migrationLock)); err != nil {
		return fmt.Errorf("unlock after migrations: %w", err)
	}
	return nil
}

// rebind rewrites a query of the shared SQL for PostgreSQL:
//   - the placeholders ? become $1, $2, ...
//   - LIKE becomes ILIKE: SQLite's LIKE ignores the case of ASCII letters
//     (and only theirs), and so does ILIKE on the COLLATE "C" columns of the
//     migrations.
//
// Quoted strings and identifiers are copied as they are. The rewritings of
// the queries seen last are kept: the server sends a few dozen queries over
// and over, each rewritten once.
func rebind(query string) string {
	if q, ok := rebound.get(query); ok {
		return q
	}
	q := rewrite(query)
	rebound.add(query, q)
	return q
}

// rebound keeps the rewritings of rebind.
var rebound = rewrites{m: map[string]string{}}

// maxRewrites bounds the rewritings kept: the shared SQL is a fixed set of
// queries, but IN lists and bulk inserts vary their number of placeholders.
const maxRewrites = 1000

type rewrites struct {
	mu sync.RWMutex
	m  map[string]string
}

func (r *rewrites) get(query string) (string, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	q, ok := r.m[query]
	return q, ok
}

// add keeps a rewriting; once full, the rewritings kept start afresh.
func (r *rewrites) add(query, q string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.m) >= maxRewrites {
		clear(r.m)
	}
	r.m[query] = q
}

// rewrite is rebind without its memory.
func rewrite(query string) string {
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'' || c == '"':
			end := strings.IndexByte(query[i+1:], c)
			if end < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			b.WriteString(query[i : i+end+2])
			i += end + 1
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		case isKeyword(query, i, "LIKE"):
			b.WriteString("ILIKE")
			i += len("LIKE") - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// isKeyword reports whether the word kw starts at s[i], as a whole word in
// any case.
func isKeyword(s string, i int, kw string) bool {
	return len(s)-i >= len(kw) && strings.EqualFold(s[i:i+len(kw)], kw) &&
		(i == 0 || !isWordByte(s[i-1])) && (i+len(kw) == len(s) || !isWordByte(s[i+len(kw)]))
}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// Dialect is what the shared SQL needs to know about PostgreSQL.
var Dialect = sqlstore.Dialect{
	Name:         "postgres",
	Placeholders: rebind,
	// Replicas claim events at the same time: each skips the rows that
	// another has locked instead of waiting for it.
	SkipLocked:   " FOR UPDATE SKIP LOCKED",
	LockRow:      " FOR KEY SHARE",
	VersionQuery: versionQuery,
	// One reading of the version serves the requests of the next
	// millisecond, and each write returns 1.1 ms after its commit.
	ReadWindow: ReadWindow,
	// Reads see one snapshot; writes are serializable, and Update runs them
	// again when PostgreSQL reports a conflict. Claims of events and the
	// attempts recorded under their leases are READ COMMITTED: in a
	// serializable transaction, a claim that meets an event which a
	// concurrent claim or attempt changed since its snapshot fails, and
	// claims and attempts conflict with the writes that add events; READ
	// COMMITTED checks such a row again as it is now, and row locks keep
	// each event with one worker.
	ReadTx:                sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true},
	WriteTx:               sql.TxOptions{Isolation: sql.LevelSerializable},
	LeaseTx:               sql.TxOptions{Isolation: sql.LevelReadCommitted},
	IsUniqueViolation:     hasCode("23505"),
	IsForeignKeyViolation: hasCode("23503"),
	// serialization_failure, deadlock_detected, and out_of_memory: what a
	// serializable transaction gets when the locks of its reads no longer
	// fit the shared lock table (max_pred_locks_per_transaction), which
	// frees up as the concurrent transactions end.
	IsRetryable:   hasCode("40001", "40P01", "53200"),
	IsUnavailable: isUnavailable,
	// A transaction's BEGIN and its reading of the reference generation
	// go in one round trip.
	Begin:  begin,
	Commit: commit,
	// Concurrent write transactions share transactions and commits, in
	// up to two batches at once.
	PipelineWrites: 2,
	// After a bulk load, the planner's statistics and the visibility map
	// are made at once, rather than by autovacuum a minute later, while
	// the server serves: its transactions would change the snapshot that
	// labels the server's cached answers (Version), and empty the cache.
	LoadDone: "VACUUM (ANALYZE)",
}

// begin sends BEGIN, with the options, and the reading of the version and
// the reference generation (versionQuery) as one query of the simple
// protocol: PostgreSQL runs them in turn, the reading inside the
// transaction, which stays open after the query (one BEGIN in a query of
// several statements opens a transaction block that outlives it). With a
// first statement, the three go in one pipeline of the extended protocol
// instead (see run). On an error the connection may be left in the
// transaction; the caller closes it, and pgx's database/sql driver drops a
// connection that comes back to the pool in a transaction. The first
// statement's own error leaves the transaction open, failed, for the caller
// to roll back.
func begin(ctx context.Context, conn *sql.Conn, opts sql.TxOptions, first ...*sqlstore.Statement) (sqlstore.Reading, error) {
	var r sqlstore.Reading
	begin, err := beginStatement(opts)
	if err != nil {
		return r, err
	}
	err = conn.Raw(func(driverConn any) error {
		c := driverConn.(*stdlib.Conn).Conn()
		if len(first) > 0 {
			statements := append([]*sqlstore.Statement{{Query: begin}, {Query: versionQuery}}, first...)
			return run(ctx, c, func(br pgx.BatchResults) error {
				if _, err := br.Exec(); err != nil {
					return err
				}
				if err := br.QueryRow().Scan(&r.Version, &r.Generation); err != nil {
					return fmt.Errorf("postgres: the reference generation: %w", err)
				}
				for _, st := range first {
					result(br, st)
				}
				return nil
			}, statements...)
		}
		results, err := c.PgConn().Exec(ctx, begin+"; "+versionQuery).ReadAll()
		if err != nil {
			return err
		}
		if len(results) != 2 || len(results[1].Rows) != 1 || len(results[1].Rows[0]) != 2 {
			return errors.New("postgres: the reference generation: no row")
		}
		r.Version = string(results[1].Rows[0][0])
		r.Generation, err = strconv.ParseInt(string(results[1].Rows[0][1]), 10, 64)
		return err
	})
	return r, err
}

// run sends the statements in one pipeline, a batch of pgx, whose
// statements pgx prepares once on each connection, and reads their results
// with read. PostgreSQL skips what follows a statement that fails. The
// error of a statement whose outcome read recorded (Statement.Err) is not
// run's, though the batch reports it again when it closes.
func run(ctx context.Context, c *pgx.Conn, read func(pgx.BatchResults) error, statements ...*sqlstore.Statement) error {
	var b pgx.Batch
	for _, st := range statements {
		b.Queue(st.Query, st.Args...)
	}
	br := c.SendBatch(ctx, &b)
	err := read(br)
	closeErr := br.Close()
	if err != nil {
		return err // which closeErr repeats
	}
	for _, st := range statements {
		if st.Err != nil && errors.Is(closeErr, st.Err) {
			return nil
		}
	}
	return closeErr
}

// result reads the outcome of st from br.
func result(br pgx.BatchResults, st *sqlstore.Statement) {
	if st.Rows != nil {
		rows, err := br.Query()
		n := 0
		for ; err == nil && rows.Next(); n++ {
			if n == len(st.Rows) {
				err = fmt.Errorf("postgres: more than the %d rows expected", len(st.Rows))
				break
			}
			err = rows.Scan(st.Rows[n]...)
		}
		rows.Close()
		switch {
		case err == nil && rows.Err() != nil:
			err = rows.Err()
		case err == nil && n != len(st.Rows):
			err = fmt.Errorf("postgres: %d rows, want %d", n, len(st.Rows))
		}
		st.Affected, st.Err = int64(n), err
		return
	}
	if len(st.Dest) > 0 {
		st.Err = br.QueryRow().Scan(st.Dest...)
		st.Affected = 1
		return
	}
	tag, err := br.Exec()
	st.Affected, st.Err = tag.RowsAffected(), err
}

// beginStatement returns the BEGIN of a transaction of the options.
func beginStatement(opts sql.TxOptions) (string, error) {
	var isolation string
	switch opts.Isolation {
	case sql.LevelDefault:
	case sql.LevelReadCommitted:
		isolation = " ISOLATION LEVEL READ COMMITTED"
	case sql.LevelRepeatableRead:
		isolation = " ISOLATION LEVEL REPEATABLE READ"
	case sql.LevelSerializable:
		isolation = " ISOLATION LEVEL SERIALIZABLE"
	default:
		return "", fmt.Errorf("postgres: unsupported isolation %v", opts.Isolation)
	}
	access := ""
	if opts.ReadOnly {
		access = " READ ONLY"
	}
	return "BEGIN" + isolation + access, nil
}

// commit sends COMMIT, and reports a transaction that PostgreSQL rolled
// back instead, as it does one where a statement failed. With a last
// statement, both go in one pipeline (see run): PostgreSQL runs the COMMIT
// only if the statement succeeds; if it fails, commit rolls back, so that
// the connection goes back to the pool out of any transaction.
func commit(ctx context.Context, conn *sql.Conn, last ...*sqlstore.Statement) error {
	return conn.Raw(func(driverConn any) error {
		c := driverConn.(*stdlib.Conn).Conn()
		if len(last) == 0 {
			results, err := c.PgConn().Exec(ctx, "COMMIT").ReadAll()
			if err != nil {
				return err
			}
			return commitTag(results[0].CommandTag)
		}
		var tag pgconn.CommandTag
		err := run(ctx, c, func(br pgx.BatchResults) error {
			for _, st := range last {
				result(br, st)
			}
			var err error
			tag, err = br.Exec()
			return err
		}, append(last[:len(last):len(last)], &sqlstore.Statement{Query: "COMMIT"})...)
		if slices.ContainsFunc(last, func(st *sqlstore.Statement) bool { return st.Err != nil }) {
			if c.PgConn().TxStatus() != 'I' {
				_, err := c.PgConn().Exec(ctx, "ROLLBACK").ReadAll()
				return err
			}
			return nil
		}
		if err != nil {
			return err
		}
		return commitTag(tag)
	})
}

// commitTag returns the error of a COMMIT that PostgreSQL answered with
// ROLLBACK: the transaction had failed.
func commitTag(tag pgconn.CommandTag) error {
	if tag.String() == "ROLLBACK" {
		return pgx.ErrTxCommitRollback
	}
	return nil
}

// versionQuery reads the current snapshot, the version: the transactions in
// progress and the next transaction id. A commit either ends a transaction
// that was in progress or one that took an id since, so an unchanged snapshot
// means that nothing committed since the last reading. It also changes when a
// writing transaction begins or rolls back: caches then recompute for
// nothing, which costs time, never correctness. With it, in the same
// snapshot, the reference generation, which lazy Views and writes need
// too: one round trip for both.
const versionQuery = `SELECT pg_current_snapshot()::text, n FROM generation`

// ReadWindow is the store's sqlstore.Dialect.ReadWindow: a reading of the
// version serves the requests that ask within a millisecond after its query
// began, so that under load one round trip serves a millisecond of requests
// (a few dozen) instead of those that came during the round trip before
// (about five), and every write returns 1.1 ms after its commit. Each
// process must use the same window, or one may serve an answer older than
// a write that another returned.
const ReadWindow = time.Millisecond

// hasCode returns a function that reports whether an error is a PostgreSQL
// error with one of the SQLSTATE codes.
func hasCode(codes ...string) func(error) bool {
	return func(err error) bool {
		var e *pgconn.PgError
		return errors.As(err, &e) && slices.Contains(codes, e.Code)
	}
}

// isUnavailable reports whether an error means that the database cannot be
// reached or cannot serve now, rather than that the request was wrong: a
// failed connection, a connection ended by the server or the network, a
// server shutting down or starting, too many connections, or the statement
// timeout.
func isUnavailable(err error) bool {
	// Any failure to connect, whatever the server answered: the database
	// is unreachable, refuses connections for now, or rejects ours.
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "08") || // connection_exception
			slices.Contains([]string{
				"57P01", // admin_shutdown, also pg_terminate_backend
				"57P02", // crash_shutdown
				"57P03", // cannot_connect_now
				"53300", // too_many_connections
				"57014", // query_canceled: the statement timeout
			}, pgErr.Code)
	}
	var netErr net.Error
	return errors.As(err, &netErr) || pgconn.Timeout(err) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}
