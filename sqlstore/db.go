// Package sqlstore implements integrations.Store with SQL that SQLite and
// PostgreSQL both run. The sqlite and postgres packages open a database, apply
// their own migrations and hand it here with a Dialect that says what differs.
package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"integrations"
)

// Dialect is what differs between the databases.
type Dialect struct {
	Name string
	// Placeholders rewrites the '?' placeholders of a query, e.g. to $1, $2.
	Placeholders func(query string) string
	// VersionQuery reads, in one row, a value that changes whenever a
	// transaction commits anywhere in the database (Store.Version), and the
	// reference generation: a Reading. Empty where the store's opener sets
	// how the version is read (SetVersion).
	VersionQuery string
	// ReadWindow lets one reading of the version, or of the reference
	// generation, serve every request that asks within this time after its
	// query began, not only those that asked before it began. In exchange
	// Update (and Load) returns only once this time, and a tenth more, has
	// passed since its commit: a request that comes after the write
	// returned, to this process or to any other that uses the same window,
	// asks more than the window after the commit, so the reading it gets
	// began after the commit. Zero: each request gets a reading begun after
	// it asked. A Presence (SetPresence) lets the writes of a process that
	// is alone on the database return at once.
	ReadWindow time.Duration
	// SkipLocked is appended to the SELECT that claims events: " FOR UPDATE
	// SKIP LOCKED" where concurrent writers exist, "" where writes are serial.
	SkipLocked string
	// LockRow is appended to a SELECT that must keep the row it reads from
	// being deleted until the transaction ends: " FOR KEY SHARE" where
	// writers run at the same time, "" where they take turns.
	LockRow string
	// ReadTx and WriteTx are the options of read and write transactions,
	// LeaseTx those of UpdateLeases: where SkipLocked is set, READ
	// COMMITTED, the isolation that SKIP LOCKED is made for.
	ReadTx, WriteTx, LeaseTx sql.TxOptions
	// IsUniqueViolation, IsForeignKeyViolation and IsRetryable classify errors.
	IsUniqueViolation     func(error) bool
	IsForeignKeyViolation func(error) bool
	IsRetryable           func(error) bool // a conflict with a concurrent transaction
	IsUnavailable         func(error) bool // the database cannot be reached

	// LastInsertID says that the driver reports the key an INSERT gave
	// its row (sql.Result.LastInsertId): cheaper than RETURNING it.
	LastInsertID bool
	// Begin, where set, begins a transaction of the options opts on conn
	// and reads in it what VersionQuery reads, in one round trip where the
	// driver sends both statements at once; Commit then commits it. What
	// it read serves as a reading of the version and of the generation
	// begun when Begin was called. Without them, a transaction begins with
	// its own round trip (database/sql's BeginTx), and reads the generation
	// with another.
	//
	// first are the transaction's first statements, which Begin sends in
	// the same round trip, after the reading, in their order, and last
	// statements that Commit sends before the COMMIT, in the same round
	// trip: the transaction's last writes, held back for it (see
	// tx.holdBack). Each reports its outcome in its Statement; the database
	// skips what follows a statement that fails, and those report an error
	// too. Where a last statement fails, Commit rolls the transaction back
	// instead; err is the error of the BEGIN, of the reading or of the
	// COMMIT.
	Begin  func(ctx context.Context, conn *sql.Conn, opts sql.TxOptions, first ...*Statement) (Reading, error)
	Commit func(ctx context.Context, conn *sql.Conn, last ...*Statement) error

	// BatchWrites runs concurrent write transactions in batches that share
	// one commit (group commit): for a database with one writer, where they
	// would wait for each other anyway.
	BatchWrites bool
	// PipelineWrites, where above zero and the dialect has Begin and
	// Commit, lets concurrent write transactions that reach their first
	// statement at the same time share one transaction and its commit,
	// their statements sent together (pipeline.go), in up to this many
	// such batches at once (fewer where the write pool has no more
	// connections than that: pipelineLanes): for a database whose writers
	// run at the same time, but where each transaction costs round trips
	// and a commit of its own.
	PipelineWrites int

	// LoadSettings run on the connection of a bulk load (Load) before it
	// starts, and LoadReset after it ends, e.g. a larger page cache.
	LoadSettings, LoadReset []string
	// LoadDone, followed by the names of the tables it filled, runs once a
	// bulk load has loaded everything, e.g. to gather statistics.
	LoadDone string
}

// Reading is what a Dialect's VersionQuery reads.
type Reading struct {
	Version    string
	Generation int64
}

// Statement is a query with its arguments, in the dialect's placeholders,
// that a dialect's Begin or Commit sends with its own statements, and its
// outcome.
type Statement struct {
	Query string
	Args  []any
	// Dest receives the columns of the statement's one row (an error
	// that is sql.ErrNoRows when there is none); a statement without Dest
	// or Rows returns no rows.
	Dest []any
	// Rows receive the columns of each of the rows that the statement
	// returns, in their order: an error unless it returns as many.
	Rows [][]any

	// Filled in once the statement ran: the rows it affected, and its
	// error.
	Affected int64
	Err      error
}

// DB is a store on a SQL database.
type DB struct {
	read, write *sql.DB
	readStmts   *statements
	writeStmts  *statements
	version     func(context.Context) (string, error) // Version, if not VersionQuery on read
	closers     []func() error
	dialect     Dialect
	batch       *batcher  // nil unless the dialect batches writes
	pipe        *pipeline // nil unless the dialect pipelines writes
	refs        *refs     // the reference cache
	// readings are the readings of VersionQuery, which lazy Views and
	// writes take the reference generation from too; generations are
	// those of the generation alone, where SetVersion reads the version.
	readings    sharedReads[Reading]
	generations sharedReads[int64]
	// genAt is the generation last read and the version before it, where
	// the version is cheap (SetVersion): see generation.
	genAt atVersion[int64]
	// presence, if set, says what the other processes allow (Presence).
	presence Presence
	// floor and refFloor, raised by the writes of a process alone on its
	// database, bound from below the readings that serve the version and
	// the generation; refWrites counts the statements that changed the
	// tables of the reference cache (see waitReadWindow).
	floor, refFloor readingFloor
	refWrites       atomic.Int64
	// Now returns the current time; tests may replace it.
	Now func() time.Time
}

// New returns a store that reads through read and writes through write, which
// may be the same handle.
func New(read, write *sql.DB, d Dialect) *DB {
	db := &DB{read: read, write: write, dialect: d, Now: time.Now, readStmts: newStatements(read), refs: newRefs()}
	db.writeStmts = db.readStmts
	if write != read {
		db.writeStmts = newStatements(write)
	}
	if d.BatchWrites {
		db.batch = newBatcher(db)
	}
	if lanes := pipelineLanes(d, write); lanes > 0 {
		db.pipe = newPipeline(db, lanes)
	}
	db.readings.window = d.ReadWindow
	db.generations.window = d.ReadWindow
	db.readings.query = func(ctx context.Context) (r Reading, err error) {
		err = db.readRow(ctx, d.VersionQuery).Scan(&r.Version, &r.Generation)
		return r, err
	}
	db.generations.query = func(ctx context.Context) (n int64, err error) {
		err = db.readRow(ctx, GenerationQuery).Scan(&n)
		return n, err
	}
	return db
}

// readRow runs a query of one row outside any transaction, prepared once
// it is.
func (db *DB) readRow(ctx context.Context, query string, args ...any) *sql.Row {
	if st := db.readStmts.get(query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return db.read.QueryRowContext(ctx, query, args...)
}

// SetVersion replaces how Version is read; close runs when the store closes.
func (db *DB) SetVersion(version func(context.Context) (string, error), close func() error) {
	db.version = version
	db.closers = append(db.closers, close)
}

// Presence tells a store with a ReadWindow what the other server processes
// on its database allow (postgres/presence.go). The window's readings
// serve the requests of this process, and the wait of its writes is for
// the readings of the others: a process alone on the database needs none.
type Presence interface {
	// Shares reports whether a reading may serve the requests of the
	// window after it began, and from when a reading must have begun to.
	// Else each request gets a reading begun after it asked.
	Shares() (since time.Time, ok bool)
	// Alone reports whether no other process reads the database now: a
	// write that ends then returns without waiting the window, and only
	// the readings of this process begun after its end serve the requests
	// that come after it.
	Alone() bool
}

// SetPresence sets the store's Presence, before it serves.
func (db *DB) SetPresence(p Presence) {
	db.presence = p
	db.readings.shares = p.Shares
	db.generations.shares = p.Shares
}

// OnClose adds a function that Close runs after it closed the database handles.
func (db *DB) OnClose(close func() error) {
	db.closers = append(db.closers, close)
}

// Version returns a value that changes whenever a transaction commits, in
// this process or any other on the same database. Caches compare it to know
// whether what they hold may be stale.
func (db *DB) Version(ctx context.Context) (string, error) {
	if db.version != nil {
		v, err := db.version(ctx)
		return v, db.wrap(err)
	}
	r, err := db.readings.get(ctx, db.floor.get())
	return r.Version, db.wrap(err)
}

// Generation returns the reference generation (see refs.go), as read by a
// query begun after the call, or within the read window before it.
func (db *DB) Generation(ctx context.Context) (int64, error) {
	n, err := db.generation(ctx)
	return n, db.wrap(err)
}

// pipelineLanes returns how many lanes the pipeline of writes has: the
// dialect's PipelineWrites, but fewer than the write pool's connections.
// A lane keeps its connection from one batch to the next, so that with as
// many lanes as connections nothing else (a transaction run again alone, a
// reading of the version, on a pool shared with the reads) could ever get
// one; with a single connection there is no pipeline, and each write runs
// as a transaction of its own.
func pipelineLanes(d Dialect, write *sql.DB) int {
	if d.PipelineWrites <= 0 || d.Begin == nil {
		return 0
	}
	lanes := d.PipelineWrites
	if most := write.Stats().MaxOpenConnections; most > 0 {
		lanes = min(lanes, most-1)
	}
	return lanes
}

// Close closes the database handles.
func (db *DB) Close() error {
	if db.batch != nil {
		db.batch.close()
	}
	if db.pipe != nil {
		db.pipe.close()
	}
	db.readStmts.close()
	db.writeStmts.close()
	err := db.read.Close()
	if db.write != db.read {
		err = errors.Join(err, db.write.Close())
	}
	for _, c := range db.closers {
		err = errors.Join(err, c())
	}
	return err
}

// Ping reports whether the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.read.PingContext(ctx); err != nil {
		return db.wrap(err)
	}
	return nil
}

// View runs fn in a read-only transaction, which begins at fn's first
// statement: a View whose lookups all come from the reference cache (most
// authentications) reads the reference generation alone, with a query that
// concurrent Views share, and needs no transaction. When a statement
// follows and finds that the generation moved since, what came from the
// cache may not belong to the transaction's snapshot: fn runs again, in a
// transaction from its start.
func (db *DB) View(ctx context.Context, fn func(integrations.Tx) error) error {
	t := &tx{ctx: ctx, db: db, stmts: db.readStmts, now: db.Now().UTC().Truncate(time.Microsecond),
		lazy: db.read, lazyOpts: db.dialect.ReadTx}
	err := t.do(fn)
	if err == errGenerationMoved {
		err = db.run(ctx, db.read, db.readStmts, db.dialect.ReadTx, fn)
	}
	var r *retryable
	if errors.As(err, &r) {
		return db.wrap(r.err)
	}
	return err
}

// maxAttempts bounds how many times Update runs a transaction that keeps
// conflicting with concurrent ones.
const maxAttempts = 50

// maxUniqueRetries bounds how many times Update runs again a transaction
// that ran into a unique violation (see uniqueViolation).
const maxUniqueRetries = 3

// Update runs fn in a read-write transaction, again when the database reports
// a conflict with a concurrent transaction. With a ReadWindow it returns once
// the window has passed since the end of the transaction, whatever the
// outcome: a commit whose answer was lost may have happened.
func (db *DB) Update(ctx context.Context, fn func(integrations.Tx) error) error {
	defer db.waitReadWindow(db.refWrites.Load())
	return db.update(ctx, db.dialect.WriteTx, false, fn)
}

// waitReadWindow waits, after a write, for the ReadWindow and a tenth more,
// the tenth for the clocks of processes that do not run at quite the same
// rate: then every process reads the version and the generation anew. A
// process alone on the database (Presence) waits for nothing: its readings
// begun before now serve no request for the version from now on, nor, if a
// statement changed the tables of the reference cache since refWrites was
// read (the write's or another's), for the generation. The generation
// moves only with those tables: the other writes of this process leave it
// as it was, so that the requests after them that need the generation
// alone (their authentication) take it from a reading of the window
// without a query; a write of another process waits the window anyway.
func (db *DB) waitReadWindow(refWrites int64) {
	w := db.dialect.ReadWindow
	switch {
	case w <= 0:
	case db.presence != nil && db.presence.Alone():
		now := time.Now()
		db.floor.raise(now)
		if db.refWrites.Load() != refWrites {
			db.refFloor.raise(now)
		}
	default:
		time.Sleep(w + w/10)
	}
}

// UpdateLeases runs fn in a read-write transaction of the options LeaseTx,
// for claiming events and recording their attempts. On PostgreSQL it is
// READ COMMITTED: SKIP LOCKED skips the rows that concurrent claims hold,
// and a row that another transaction changed since this one began is
// checked again as it is now, where a serializable transaction fails (and
// its predicate reads conflict with every write that adds an event). Each
// statement sees what committed before it began: a row read by one
// statement may be gone by the next, so a foreign key violation, like a
// unique one, runs fn again, on fresh data.
func (db *DB) UpdateLeases(ctx context.Context, fn func(integrations.Tx) error) error {
	return db.update(ctx, db.dialect.LeaseTx, true, fn)
}

func (db *DB) update(ctx context.Context, opts sql.TxOptions, retryForeignKey bool, fn func(integrations.Tx) error) error {
	uniqueRetries := 0
	for attempt := 1; ; attempt++ {
		err := db.writeTx(ctx, opts, fn)
		var u *uniqueViolation
		if errors.As(err, &u) {
			err = u.err
			if uniqueRetries < maxUniqueRetries && (!u.foreignKey || retryForeignKey) {
				uniqueRetries++
				err = &retryable{u.err}
			}
		}
		var r *retryable
		if !errors.As(err, &r) {
			return err
		}
		if attempt == maxAttempts {
			return fmt.Errorf("%w (%v)", integrations.Errorf(integrations.ECONFLICT, "The request kept conflicting with concurrent changes; try again."), r.err)
		}
		select {
		case <-ctx.Done():
			return db.wrap(ctx.Err())
		case <-time.After(backoff(attempt)):
		}
	}
}

// uniqueViolation marks the error of a transaction that ran into a unique
// violation. Update runs it again, up to maxUniqueRetries times: on
// PostgreSQL the row in the way may come from a concurrent transaction that
// committed after this one began, so that the checks that ran before the
// insert could not see it (PostgreSQL reports such a race as a
// serialization failure only when those checks used the unique index). On a
// fresh snapshot the checks see the row, as they always do on SQLite, where
// writers take turns; but the row may be gone again by then and another
// come in its place (an integration unpublished and published again while
// a publication of the same name runs), so that one more run can meet the
// same race. A violation that keeps coming back is a real conflict. In the
// READ COMMITTED transactions of UpdateLeases a foreign key violation
// (foreignKey) may have the same cause: the row referred to was deleted
// after an earlier statement read it.
type uniqueViolation struct {
	err        error
	foreignKey bool
}

func (u *uniqueViolation) Error() string { return u.err.Error() }
func (u *uniqueViolation) Unwrap() error { return u.err }

// backoff returns how long Update waits before it runs a transaction again
// after the given failed attempt: a random time up to a bound that doubles
// with each attempt, so that transactions that keep conflicting with each
// other spread out instead of meeting again.
func backoff(attempt int) time.Duration {
	bound := min(maxBackoff, time.Millisecond<<min(attempt-1, 16))
	return time.Duration(rand.Int64N(int64(bound))) + 1
}

// maxBackoff bounds the wait between two attempts.
const maxBackoff = 100 * time.Millisecond

// retryable marks an error that Update should retry.
type retryable struct{ err error }

func (r *retryable) Error() string { return r.err.Error() }

func (db *DB) run(ctx context.Context, h *sql.DB, stmts *statements, opts sql.TxOptions, fn func(integrations.Tx) error) (err error) {
	t := &tx{ctx: ctx, db: db, stmts: stmts, now: db.Now().UTC().Truncate(time.Microsecond),
		perStatement: opts.Isolation == sql.LevelReadCommitted}
	gen, err := db.beginTx(ctx, h, opts, t, nil)
	if err != nil {
		return db.classify(err)
	}
	if gen >= 0 && !t.perStatement {
		t.gen, t.genRead = gen, true
	}
	return t.do(fn)
}

// runLazy runs fn in a transaction that begins at its first statement, in
// the round trip of that statement (Dialect.Begin): until then, fn's
// lookups come from the reference cache at the generation of now, as a
// lazy View's do. It returns errGenerationMoved when the transaction began
// at another generation: what came from the cache may not belong to its
// snapshot, and fn must run again in a transaction from its start.
//
// With a pipeline, the transaction may join one of its batches at its first
// statement instead (see pipeline.go); it then returns errRunAlone when fn
// must run again on its own.
func (db *DB) runLazy(ctx context.Context, h *sql.DB, stmts *statements, opts sql.TxOptions, pipe *pipeline, fn func(integrations.Tx) error) error {
	t := &tx{ctx: ctx, db: db, stmts: stmts, now: db.Now().UTC().Truncate(time.Microsecond),
		perStatement: opts.Isolation == sql.LevelReadCommitted, lazy: h, lazyOpts: opts, pipe: pipe}
	return t.do(fn)
}

// beginTx begins t's transaction on h, with the dialect's Begin where it
// has one, and then returns the reference generation it read; else -1.
// first, with the dialect's Begin only, is a statement sent with the BEGIN.
func (db *DB) beginTx(ctx context.Context, h *sql.DB, opts sql.TxOptions, t *tx, first *Statement) (int64, error) {
	if db.dialect.Begin == nil {
		sqlTx, err := h.BeginTx(ctx, &opts)
		if err != nil {
			return -1, err
		}
		t.tx = sqlTx
		return -1, nil
	}
	conn, err := h.Conn(ctx)
	if err != nil {
		return -1, err
	}
	var firsts []*Statement
	if first != nil {
		firsts = append(firsts, first)
	}
	gen, err := db.begin(ctx, conn, opts, firsts...)
	if err != nil {
		// A connection left in a transaction that failed to begin is
		// not reused: the driver drops it when it goes back to the pool.
		conn.Close()
		return -1, err
	}
	t.tx = &connTx{ctx: ctx, Conn: conn, commit: db.dialect.Commit}
	return gen, nil
}

// begin begins a transaction on conn with the dialect's Begin, and returns
// the generation it read. What it reads serves the requests that ask for
// the version or the generation within the read window, as a shared
// reading would: one begun when Begin was called; those that ask while it
// is under way wait for it (sharedReads.pend).
func (db *DB) begin(ctx context.Context, conn *sql.Conn, opts sql.TxOptions, first ...*Statement) (int64, error) {
	p := db.readings.pend()
	r, err := db.dialect.Begin(ctx, conn, opts, first...)
	db.readings.settle(p, r, err)
	if err != nil {
		return -1, err
	}
	return r.Generation, nil
}

// txConn is what a transaction runs its statements on: a *sql.Tx, or a
// connection on which the dialect began the transaction (connTx).
type txConn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	Commit() error
	Rollback() error
}

// connTx is a transaction that Dialect.Begin began on a connection of its
// own, which goes back to the pool when the transaction ends.
type connTx struct {
	ctx context.Context
	*sql.Conn
	commit func(context.Context, *sql.Conn, ...*Statement) error
	// lent, where the connection is a pipeline lane's, takes it back once
	// the transaction ended, or nil when the transaction ended with an
	// error: the lane then gives it up.
	lent func(*sql.Conn)
}

func (c *connTx) Commit() error { return c.commitWith() }

// commitWith sends last, then the COMMIT, in one round trip (Dialect.Commit).
func (c *connTx) commitWith(last ...*Statement) (err error) {
	defer func() { c.release(err) }()
	return c.commit(c.ctx, c.Conn, last...)
}

// Rollback rolls back even when the transaction's context has ended. Where
// it fails, the connection is still in the transaction, and the driver
// drops it rather than let it back into the pool.
func (c *connTx) Rollback() error {
	_, err := c.Conn.ExecContext(context.WithoutCancel(c.ctx), "ROLLBACK")
	c.release(err)
	return err
}

// release gives the connection back to the lane that lent it, or else to
// the pool. A lane takes back only a connection whose transaction ended
// well; the pool drops one still in a transaction.
func (c *connTx) release(err error) {
	switch {
	case c.lent == nil:
		c.Conn.Close()
	case err != nil:
		c.Conn.Close()
		c.lent(nil)
	default:
		c.lent(c.Conn)
	}
}

// do runs fn in the transaction and ends it: commits it when fn succeeds,
// else rolls it back. The transaction of a lazy View may not have begun.
func (t *tx) do(fn func(integrations.Tx) error) error {
	// A panic in fn (recovered further up, e.g. by the HTTP server) must not
	// leave the transaction open: it would hold its connection, and on SQLite
	// the only write connection, forever.
	done := false
	defer func() {
		switch {
		case done:
		case t.member != nil:
			t.member.abandon()
		case t.tx != nil:
			t.tx.Rollback()
		}
	}()
	err := fn(t)
	done = true
	if t.member != nil {
		return t.member.end(err)
	}
	if t.genLast && t.tx == nil && t.stop == nil {
		// Nothing checked the generation that the lookups used: they
		// hold for this transaction only if it is the generation now.
		n, genErr := t.db.generation(t.ctx)
		switch {
		case genErr != nil:
			return t.db.wrap(genErr)
		case n != t.gen:
			return errGenerationMoved
		}
	}
	switch {
	case t.stop != nil:
		if t.tx != nil {
			t.tx.Rollback()
		}
		return t.stop
	case err != nil:
		if t.tx != nil {
			t.tx.Rollback()
		}
		if t.heldErr != nil {
			err = t.heldErr // what made the statements after it fail
		}
		return t.failed(err)
	case t.heldErr != nil:
		// A write that CreateEvent, say, accepted failed when a later
		// statement sent it: the transaction must not commit without it.
		if t.tx != nil {
			t.tx.Rollback()
		}
		return t.failed(t.heldErr)
	case t.tx == nil:
		return nil // a lazy View that took everything from the cache
	}
	if err := t.commit(); err != nil {
		return err
	}
	t.committed()
	return nil
}

// commit commits the transaction, with the statement it held back, if any.
func (t *tx) commit() error {
	if t.last == nil {
		if err := t.tx.Commit(); err != nil {
			return t.db.classify(err)
		}
		return nil
	}
	last := t.last
	t.last = nil
	st := &Statement{Query: t.db.dialect.Placeholders(last.query), Args: last.args, Dest: last.dest}
	err := t.tx.(*connTx).commitWith(st)
	switch {
	case err != nil:
		return t.db.classify(err)
	case st.Err != nil:
		return t.failed(t.insertErr(st.Err, last.what))
	}
	return nil
}

// heldBack is a write that a transaction holds back (holdBack).
type heldBack struct {
	what, query string
	args, dest  []any
}

// holdBack runs a write whose outcome nothing in the transaction needs: an
// INSERT of one row, whose errors insertErr maps as of what, and whose
// returned columns go to dest. Where the dialect began the transaction
// (and so commits it, with a last statement), the transaction holds the
// write back until its next statement, which sends it first, or until its
// COMMIT, which it joins: a transaction that ends with it saves a round
// trip. Its errors then come from there, and dest is filled by then. A
// transaction that has not begun yet sends it at once, with its BEGIN.
func (t *tx) holdBack(what, query string, args []any, dest ...any) error {
	if err := t.flush(); err != nil {
		return err
	}
	if _, ok := t.tx.(*connTx); !ok && t.member == nil {
		return t.insertErr(t.queryRow(query, args...).Scan(dest...), what)
	}
	if err := checkText(args); err != nil {
		return err
	}
	t.changes(query)
	t.last = &heldBack{what: what, query: query, args: args, dest: dest}
	return nil
}

// flush sends the statement held back, if any, before another.
func (t *tx) flush() error {
	if t.last == nil {
		return nil
	}
	last := t.last
	t.last = nil
	if err := t.insertErr(t.queryRow(last.query, last.args...).Scan(last.dest...), last.what); err != nil {
		t.heldErr = err
		return err
	}
	return nil
}

// errGenerationMoved is what the statements of a lazy View answer once its
// transaction began after the reference generation that its cached lookups
// came from (see View).
var errGenerationMoved = errors.New("the reference generation moved")

// begin begins a lazy transaction (a View's, or runLazy's), at its first
// statement: with it, where the dialect's Begin can send it (first). When
// the transaction took lookups from the cache already, its snapshot must be
// at their generation; else it reads at the generation it began in.
func (t *tx) begin(first *Statement) error {
	switch {
	case t.stop != nil:
		return t.stop
	case t.member != nil:
		// A member of a batch has sent its one statement: it must run
		// again on its own (see pipeline.go).
		t.member.broken = true
		return errRunAlone
	case t.tx != nil:
		return nil
	case first != nil && t.pipe != nil && joins(first.Query):
		return t.join(first)
	}
	n, err := t.db.beginTx(t.ctx, t.lazy, t.lazyOpts, t, first)
	if err != nil {
		return err
	}
	switch {
	case t.perStatement:
	case t.genRead:
		if n < 0 {
			if err := t.queryRow(GenerationQuery).Scan(&n); err != nil {
				return err
			}
		}
		if n != t.gen {
			t.stop = errGenerationMoved
			return errGenerationMoved
		}
	case n >= 0:
		t.gen, t.genRead = n, true
	}
	return nil
}

// fuses reports whether the transaction's next statement is its first,
// to be sent with its BEGIN (Dialect.Begin).
func (t *tx) fuses() bool {
	return t.tx == nil && t.member == nil && t.stop == nil && t.db.dialect.Begin != nil
}

// firstRow is the row of a transaction's first statement, sent with the
// BEGIN when Scan says where its columns go.
type firstRow struct {
	t  *tx
	st Statement
}

func (r *firstRow) Scan(dest ...any) error {
	r.st.Dest = dest
	if err := r.t.begin(&r.st); err != nil {
		return err
	}
	return r.st.Err
}

// failed returns the error of a transaction whose function failed with err:
// one that Update retries, or the application error.
func (t *tx) failed(err error) error {
	if t.unique || t.foreignKey {
		return &uniqueViolation{t.db.classify(err), !t.unique}
	}
	return t.db.classify(err)
}

// classify turns a database error into one that Update retries, or into an
// application error; application errors pass through.
func (db *DB) classify(err error) error {
	var appErr *integrations.Error
	switch {
	case errors.As(err, &appErr):
		return err
	case db.dialect.IsRetryable(err):
		return &retryable{err}
	}
	return db.wrap(err)
}

// wrap turns database errors that callers must tell apart into application
// errors; anything else stays as it is and shows as an internal error.
func (db *DB) wrap(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.DeadlineExceeded) || db.dialect.IsUnavailable(err):
		return &unavailable{err}
	}
	return err
}

// unavailable is an EUNAVAILABLE application error that keeps its cause for
// the logs.
type unavailable struct{ err error }

func (u *unavailable) Error() string { return "database unavailable: " + u.err.Error() }
func (u *unavailable) Unwrap() []error {
	return []error{u.err, integrations.Errorf(integrations.EUNAVAILABLE, "The database is unavailable; try again later.")}
}

// tx implements integrations.Tx.
type tx struct {
	ctx        context.Context
	tx         txConn // nil while a lazy View has not begun
	db         *DB
	stmts      *statements
	now        time.Time
	unique     bool // a statement ran into a unique violation
	foreignKey bool // a statement ran into a foreign key violation

	// The reference cache (refs.go): the generation this transaction
	// reads, what it read for the cache, and whether it changed a table
	// that the cache holds (wrote).
	gen     int64
	genRead bool
	// genLast says that gen is the generation last read, however long
	// ago, as a write of the pipeline takes it: its BEGIN checks it (see
	// ref), and do before it ends without one.
	genLast bool
	reads   map[string]refEntry
	wrote   bool
	// perStatement is set for a READ COMMITTED transaction: each of its
	// statements sees a snapshot of its own, later than the one the
	// generation was read in, so it may not use the cache.
	perStatement bool
	// changed is set once the transaction sent a statement that may change
	// the database (INSERT, UPDATE, DELETE), even one that failed.
	changed bool
	// stop, once set, is what every statement of the transaction answers,
	// and do returns whatever fn does: errGenerationMoved when a lazy
	// transaction began at a later reference generation than its cached
	// lookups (see View), or the error of a batch that the transaction
	// joined and that failed (see pipeline.go).
	stop error
	// pipe, where set, is the pipeline whose next batch the transaction
	// may join at its first statement, and member its part in the batch
	// once it did.
	pipe   *pipeline
	member *member
	// lazy, for a transaction that begins at its first statement, is the
	// handle it begins on, with the options lazyOpts.
	lazy     *sql.DB
	lazyOpts sql.TxOptions
	// last is the write held back for the COMMIT (holdBack), and heldErr
	// the error it met when a later statement sent it first.
	last    *heldBack
	heldErr error
}

func (t *tx) Now() time.Time { return t.now }

func (t *tx) exec(query string, args ...any) (sql.Result, error) {
	if err := checkText(args); err != nil {
		return nil, err
	}
	if err := t.flush(); err != nil {
		return nil, err
	}
	t.changes(query)
	q := t.db.dialect.Placeholders(query)
	if t.fuses() {
		first := &Statement{Query: q, Args: args}
		if err := t.begin(first); err != nil {
			return nil, err
		}
		return driver.RowsAffected(first.Affected), first.Err
	}
	if err := t.begin(nil); err != nil {
		return nil, err
	}
	if st := t.prepared(q); st != nil {
		return st.ExecContext(t.ctx, args...)
	}
	return t.tx.ExecContext(t.ctx, q, args...)
}

func (t *tx) query(query string, args ...any) (*sql.Rows, error) {
	if err := checkText(args); err != nil {
		return nil, err
	}
	if err := t.flush(); err != nil {
		return nil, err
	}
	if err := t.begin(nil); err != nil {
		return nil, err
	}
	t.changes(query)
	q := t.db.dialect.Placeholders(query)
	if st := t.prepared(q); st != nil {
		return st.QueryContext(t.ctx, args...)
	}
	return t.tx.QueryContext(t.ctx, q, args...)
}

func (t *tx) queryRow(query string, args ...any) scanner {
	if err := checkText(args); err != nil {
		return errRow{err}
	}
	if err := t.flush(); err != nil {
		return errRow{err}
	}
	t.changes(query)
	q := t.db.dialect.Placeholders(query)
	if t.fuses() {
		return &firstRow{t: t, st: Statement{Query: q, Args: args}}
	}
	if err := t.begin(nil); err != nil {
		return errRow{err}
	}
	if st := t.prepared(q); st != nil {
		return st.QueryRowContext(t.ctx, args...)
	}
	return t.tx.QueryRowContext(t.ctx, q, args...)
}

// prepared returns the statement of query prepared on the transaction's
// connection, or nil while it is not prepared on the handle yet. A
// transaction that the dialect began (connTx) runs its queries as they are:
// the drivers of such dialects prepare them once on each connection
// themselves (pgx does).
func (t *tx) prepared(query string) *sql.Stmt {
	sqlTx, ok := t.tx.(*sql.Tx)
	if !ok {
		return nil
	}
	if st := t.stmts.get(query); st != nil {
		return sqlTx.StmtContext(t.ctx, st)
	}
	return nil
}

// checkText refuses text that PostgreSQL cannot hold, NUL characters and
// invalid UTF-8, before it reaches any database: SQLite would keep it, and
// the stores must answer alike.
func checkText(args []any) error {
	for _, a := range args {
		if s, ok := a.(string); ok && (strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s)) {
			return integrations.Errorf(integrations.EINVALID, "Text must be valid UTF-8 without NUL characters.")
		}
	}
	return nil
}

// errRow is a row that only holds an error.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// count runs a COUNT query.
func (t *tx) count(query string, args ...any) (int, error) {
	var n int
	err := t.queryRow(query, args...).Scan(&n)
	return n, err
}

// insertErr maps the errors of an INSERT or UPDATE to application errors.
func (t *tx) insertErr(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case t.db.dialect.IsUniqueViolation(err):
		t.unique = true
		return integrations.Errorf(integrations.ECONFLICT, "%s already exists.", what)
	case t.db.dialect.IsForeignKeyViolation(err):
		t.foreignKey = true
		return integrations.Errorf(integrations.ENOTFOUND, "%s refers to something that does not exist.", what)
	}
	return err
}

// isNotFound reports whether err is an ENOTFOUND error.
func isNotFound(err error) bool { return integrations.ErrorCode(err) == integrations.ENOTFOUND }

// notFound maps sql.ErrNoRows to an ENOTFOUND error.
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return integrations.Errorf(integrations.ENOTFOUND, format, args...)
	}
	return err
}

// affected reports whether a statement changed a row.
func affected(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// micros and fromMicros convert times to and from their stored form:
// microseconds since the Unix epoch, UTC.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMicro(n).UTC()
}

// likePattern returns a LIKE pattern that matches s anywhere, with LIKE's
// special characters escaped by '\'.
func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}

// where collects the conditions and arguments of a query.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// placeholders returns n comma-separated placeholders.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// pageClause adds to w the condition that keeps the items after the cursor in
// the order on (keyCol, idCol), where key is the cursor's value for keyCol,
// and returns the ORDER BY and LIMIT clauses. desc reverses the order.
func pageClause(w *where, p integrations.Page, keyCol, idCol string, key any, desc bool) string {
	op, dir := ">", "ASC"
	if desc {
		op, dir = "<", "DESC"
	}
	if p.After != nil {
		w.add(fmt.Sprintf("(%s %s ? OR (%s = ? AND %s %s ?))", keyCol, op, keyCol, idCol, op), key, key, p.After.ID)
	}
	return fmt.Sprintf(" ORDER BY %s %s, %s %s LIMIT %d", keyCol, dir, idCol, dir, p.Limit)
}
