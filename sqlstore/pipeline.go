package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Pipelined group commit. Where writers run at the same time but each
// transaction costs round trips and a commit of its own (PostgreSQL), write
// transactions that reach their first statement at the same time share one
// database transaction, and their statements travel together:
//
//   - A write transaction runs its function in its caller's goroutine, as
//     always, its lookups answered by the reference cache. At its first
//     statement, if that statement writes a table outside the cache's, the
//     transaction joins the pipeline's next batch instead of beginning on
//     its own: it becomes a member of the batch.
//   - A batch sends, in one round trip, the BEGIN, the reading of the
//     version and the reference generation, and the first statement of
//     every member, in their order. Each member then goes on with its
//     statement's outcome.
//   - A member that ends without another statement, but for at most one
//     held back for the commit (tx.holdBack: its event), hands that one to
//     the batch. Once every member has ended, the batch sends their held-back
//     statements (those of one query as one insert of many rows: merge.go)
//     and the COMMIT, in one round trip.
//
// So a batch of any size costs two round trips and one commit. A transaction
// alone in its batch, as under a light load, goes on as one that began on its
// own, on the batch's connection, with as many statements as it needs; the
// lane waits for it to end, as for any batch, and keeps the connection. The
// outcome of a batch of several is that of its members run one after the
// other, in their order:
//   - before its first statement, a member read only the cache, at the
//     generation that the batch reads (checked), and no first statement
//     changes a table of the cache (those do not join), so each member reads
//     what it would read after the members before it;
//   - the first statements run in their order, each seeing those before;
//   - a held-back statement runs after the first statements of the members
//     that follow its own, not before them: that changes nothing as long as
//     none of those names its table (checked; the held-back statements are
//     inserts of events, which later statements of a batch have no reason to
//     read, and the changes that reach another table by a cascade or a
//     trigger come from tables of the cache).
//
// Anything else ends a batch of several: a member that needs a second
// statement (even one that goes on without it), that fails, or whose cached
// lookups are of another generation; a statement that fails; a held-back
// statement whose table a later member names. The batch then rolls back,
// and each of its members runs again on its own, as a write transaction does
// without a pipeline (a write transaction may always run again: see
// Store.Update). A serialization failure, among the first statements or at
// the COMMIT, makes each member run again as any conflict does, through
// Update's retries, and join another batch.
//
// Every member gets its result only once the batch has committed: a member's
// reading may include what a member before it wrote.

// maxMembers bounds the members of one batch.
const maxMembers = 64

// PipelineLinger is how long a lane that found a single member waiting, while
// another lane runs a batch, waits for more to join it. Without it, under
// load, the lanes took turns at a large batch and a batch of one, which
// costs as many round trips and a commit of its own: half the batches had a
// single member (bench/HISTORY.md, a tenth session). A batch takes longer
// than that to run, so the wait costs the lone member little; when no other
// lane is busy, a lone member waits for nothing.
const PipelineLinger = 100 * time.Microsecond

// errRunAlone is what a member of a batch returns when it must run again on
// its own: the batch could not keep it.
var errRunAlone = errors.New("sqlstore: the write runs again outside the batch")

type pipeline struct {
	db    *DB
	joins chan *member
	quit  chan struct{}
	stop  sync.Once
	lanes sync.WaitGroup
	busy  atomic.Int32 // lanes running a batch
	// linger is how long a lane waits for company for a lone member.
	linger time.Duration
}

// member is a write transaction in a batch.
type member struct {
	t     *tx
	first *Statement
	// ready says that the first statements have run: nil to go on, else the
	// batch's error, which the member's statement and do then answer.
	ready chan error
	// Once its function has returned, the member says whether the batch
	// must end (abort) or else what it held back for the COMMIT (last), and
	// counts itself out of the batch's running members (left), the last
	// one telling the batch (ended); outcome is then the batch's, for all
	// its members.
	broken  bool // the member asked for a second statement
	abort   bool
	last    *heldBack
	left    *atomic.Int32
	ended   chan<- struct{}
	outcome *outcome
}

// newPipeline starts lanes goroutines, each running one batch at a time.
func newPipeline(db *DB, lanes int) *pipeline {
	p := &pipeline{db: db, joins: make(chan *member), quit: make(chan struct{}), linger: PipelineLinger}
	p.lanes.Add(lanes)
	for range lanes {
		go p.lane()
	}
	return p
}

// close stops the lanes once their batches have ended.
func (p *pipeline) close() {
	p.stop.Do(func() { close(p.quit) })
	p.lanes.Wait()
}

// joins reports whether a transaction whose first statement is query may
// join a batch: one that writes, outside the tables of the reference cache.
// A transaction that begins with a read usually decides on what it read and
// writes next, which a batch cannot keep; one that changes the cache's tables
// would change what the members after it read from the cache.
func joins(query string) bool {
	k := kindOf(query)
	return k.writes && !k.refs
}

// join makes the transaction a member of the next batch, with first as its
// first statement, and returns once the batch has run it. Where the batch
// failed, every statement of the transaction answers the batch's error from
// then on, and so does do. A transaction alone in its batch goes on as one
// that began on its own: the batch's connection becomes its own.
func (t *tx) join(first *Statement) error {
	m := &member{t: t, first: first, ready: make(chan error, 1)}
	var err error
	select {
	case t.pipe.joins <- m:
		err = <-m.ready
	case <-t.pipe.quit:
		err = errClosed
	case <-t.ctx.Done():
		err = t.db.wrap(t.ctx.Err())
	}
	switch {
	case err != nil:
		t.stop = err
		return err
	case t.tx == nil:
		t.member = m
	}
	return nil
}

// end hands the member's outcome to its batch once its function returned
// err, and returns the transaction's.
func (m *member) end(err error) error {
	t := m.t
	m.abort = m.broken || err != nil || t.heldErr != nil || t.wrote
	if !m.abort {
		m.last = t.last
	}
	m.out()
	<-m.outcome.done
	if err := m.outcome.err; err != nil {
		return err
	}
	t.committed()
	return nil
}

// abandon ends the member of a function that panicked: the batch rolls back.
func (m *member) abandon() {
	m.abort = true
	m.out()
}

// out counts the member out of its batch's running members: the last one
// tells the batch, once for all of them.
func (m *member) out() {
	if m.left.Add(-1) == 0 {
		m.ended <- struct{}{}
	}
}

// lane runs batches one after the other: each takes the members waiting to
// join when the lane is free, so that batches grow with the load. The lane
// keeps its connection from one batch to the next, a lone member's included:
// the database serves a lane's batches with one process, whose caches stay
// warm (handing the connection to a lone member's transaction for good spread
// the batches over the pool's connections, and cost PostgreSQL a fifth more
// CPU per write). It does not give it back when idle: the pipeline has fewer
// lanes than the pool has connections (pipelineLanes).
func (p *pipeline) lane() {
	defer p.lanes.Done()
	var conn *sql.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for {
		batch, ok := p.next()
		if !ok {
			return
		}
		p.busy.Add(1)
		conn = p.run(batch, conn)
		p.busy.Add(-1)
	}
}

// next waits for the members of the lane's next batch: those waiting when
// the first comes, and, where that is one alone while another lane runs a
// batch, those that come within p.linger. It reports false once the
// pipeline is closed instead.
func (p *pipeline) next() ([]*member, bool) {
	batch, ok := gather(p.joins, p.quit, maxMembers)
	if ok && len(batch) == 1 && p.busy.Load() > 0 {
		batch = gatherFor(batch, p.joins, p.linger, maxMembers)
	}
	return batch, ok
}

// run runs a batch on conn, or on a connection of the pool if conn is nil,
// and answers its members; it returns the connection for the next batch,
// nil if it gave it up. Its transaction is bound to no member's context:
// one caller going away must not roll back the others.
func (p *pipeline) run(batch []*member, conn *sql.Conn) *sql.Conn {
	db := p.db
	ctx := context.Background()
	if conn == nil {
		var err error
		if conn, err = db.write.Conn(ctx); err != nil {
			ready(batch, db.classify(err))
			return nil
		}
	}
	// The first round trip: the BEGIN, the reading of the generation and
	// the first statements.
	firsts := make([]*Statement, len(batch))
	for n, m := range batch {
		firsts[n] = m.first
	}
	gen, err := db.begin(ctx, conn, db.dialect.WriteTx, firsts...)
	if err != nil {
		// A connection left in a transaction is dropped, not reused.
		conn.Close()
		ready(batch, db.classify(err))
		return nil
	}
	if err := p.firstOutcome(batch, gen); err != nil {
		ready(batch, err)
		return rollback(ctx, conn)
	}
	if len(batch) == 1 {
		// Alone, the transaction goes on as one of its own would, with
		// the outcome of its first statement, on the lane's connection,
		// and ends itself. The lane waits for it, and takes its
		// connection back: the transaction is the lane's batch.
		t := batch[0].t
		t.gen, t.genRead = gen, true
		back := make(chan *sql.Conn, 1)
		t.tx = &connTx{ctx: t.ctx, Conn: conn, commit: db.dialect.Commit, lent: func(c *sql.Conn) { back <- c }}
		ready(batch, nil)
		return <-back
	}
	ended := make(chan struct{}, 1)
	var left atomic.Int32
	left.Store(int32(len(batch)))
	out := &outcome{done: make(chan struct{})}
	for _, m := range batch {
		m.t.gen, m.t.genRead = gen, true
		m.left, m.ended, m.outcome = &left, ended, out
	}
	ready(batch, nil)
	<-ended
	abort := slices.ContainsFunc(batch, func(m *member) bool { return m.abort })
	var held []*heldBack
	if !abort {
		held, abort = lastStatements(batch)
	}
	if abort {
		out.tell(errRunAlone)
		return rollback(ctx, conn)
	}
	// The second: the held-back statements, those of one shape merged,
	// and the COMMIT.
	lasts, check := db.mergeInserts(held)
	err = db.dialect.Commit(ctx, conn, lasts...)
	switch {
	case err != nil:
		// Whatever became of it, the connection goes: the driver drops
		// one that is still in a transaction.
		conn.Close()
		out.tell(db.classify(err))
		return nil
	case slices.ContainsFunc(lasts, func(st *Statement) bool { return st.Err != nil }):
		out.tell(errRunAlone) // Commit rolled the batch back
	default:
		out.tell(check())
	}
	return conn
}

// rollback rolls back the transaction on conn and returns conn, or nil
// when it could not: then the connection is dropped.
func rollback(ctx context.Context, conn *sql.Conn) *sql.Conn {
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		conn.Close()
		return nil
	}
	return conn
}

// firstOutcome returns why a batch cannot go on once its first statements
// ran, if it cannot: one of them ran into a concurrent transaction, and all
// run again (Update's retries: the batch was no more than a transaction
// that met another), or a member must run again alone, since its cached
// lookups are of another generation or its statement failed. A member
// alone in its batch takes its statement's outcome as it is.
func (p *pipeline) firstOutcome(batch []*member, gen int64) error {
	var err error
	for _, m := range batch {
		switch {
		case len(batch) > 1 && m.first.Err != nil && p.db.dialect.IsRetryable(m.first.Err):
			return &retryable{m.first.Err}
		case len(batch) > 1 && m.first.Err != nil, m.t.genRead && m.t.gen != gen:
			err = errRunAlone
		}
	}
	return err
}

// ready tells the members of a batch that their first statements ran, or
// the batch's error.
func ready(batch []*member, err error) {
	for _, m := range batch {
		m.ready <- err
	}
}

// outcome is a batch's, which its members wait for.
type outcome struct {
	done chan struct{}
	err  error
}

// tell gives the members their batch's outcome.
func (o *outcome) tell(err error) {
	o.err = err
	close(o.done)
}

// lastStatements returns the statements that the members held back for the
// COMMIT, in their order, and whether the batch must end instead: when a
// member's first statement names the table of a held-back statement of a
// member before it, which runs after it.
func lastStatements(batch []*member) (lasts []*heldBack, abort bool) {
	var tables []string // written by the held-back statements so far
	for _, m := range batch {
		for _, table := range tables {
			if strings.Contains(m.first.Query, table) {
				return nil, true
			}
		}
		if m.last != nil {
			lasts = append(lasts, m.last)
			if k := kindOf(m.last.query); !slices.Contains(tables, k.table) {
				tables = append(tables, k.table)
			}
		}
	}
	return lasts, false
}
