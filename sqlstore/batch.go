package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"integrations"
)

// Group commit. Where the database has one writer (SQLite), concurrent write
// transactions run one after the other anyway. The batcher runs the ones
// that wait at the same time in one database transaction: they share one
// commit, so the pages they change are written to the log once per batch
// rather than once per transaction. Each still behaves as if it ran alone:
//   - one that fails before it changed anything (the usual failure: a check
//     refuses the request) just answers its error;
//   - one that fails after it changed something cannot be undone alone:
//     the whole batch rolls back, and each of its transactions runs again on
//     its own (a write transaction may always run again: see Store.Update).
//
// Every caller gets its result only once the whole batch has committed:
// nothing is answered before it is durable.

// maxBatch bounds the transactions of one batch, and so the wait of the
// first one.
const maxBatch = 64

type batcher struct {
	db   *DB
	jobs chan *job
	quit chan struct{}
	done chan struct{}
}

// job is one write transaction waiting for its batch.
type job struct {
	ctx      context.Context
	fn       func(integrations.Tx) error
	result   chan error
	panicked any // what fn panicked with, raised again in the caller
}

func newBatcher(db *DB) *batcher {
	b := &batcher{db: db, jobs: make(chan *job), quit: make(chan struct{}), done: make(chan struct{})}
	go b.run()
	return b
}

// errClosed answers the transactions that arrive after Close.
var errClosed = errors.New("the store is closed")

// do runs fn in the next batch and returns its result. It waits for the
// batch even when ctx ends meanwhile: a transaction that started runs to its
// end, and its caller must learn whether it committed.
func (b *batcher) do(ctx context.Context, fn func(integrations.Tx) error) error {
	j := &job{ctx: ctx, fn: fn, result: make(chan error, 1)}
	select {
	case b.jobs <- j:
	case <-b.quit:
		return errClosed
	case <-ctx.Done():
		return b.db.wrap(ctx.Err())
	}
	err := <-j.result
	if j.panicked != nil {
		panic(j.panicked)
	}
	return err
}

func (b *batcher) run() {
	defer close(b.done)
	for {
		batch, ok := gather(b.jobs, b.quit, maxBatch)
		if !ok {
			return
		}
		b.runBatch(batch)
	}
}

// gather waits for a first item of ch, then takes those waiting behind it,
// most in all; it reports false once quit is closed instead.
func gather[T any](ch <-chan T, quit <-chan struct{}, most int) ([]T, bool) {
	var items []T
	select {
	case v := <-ch:
		items = append(items, v)
	case <-quit:
		return nil, false
	}
	for len(items) < most {
		select {
		case v := <-ch:
			items = append(items, v)
		default:
			return items, true
		}
	}
	return items, true
}

// gatherFor adds to items those that come on ch within d, most in all.
func gatherFor[T any](items []T, ch <-chan T, d time.Duration, most int) []T {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for len(items) < most {
		select {
		case v := <-ch:
			items = append(items, v)
		case <-timer.C:
			return items
		}
	}
	return items
}

// close stops the batcher once the batch under way has committed.
func (b *batcher) close() {
	close(b.quit)
	<-b.done
}

// runBatch runs a batch and answers its jobs.
func (b *batcher) runBatch(batch []*job) {
	db := b.db
	if len(batch) == 1 {
		j := batch[0]
		j.result <- db.run(j.ctx, db.write, db.writeStmts, db.dialect.WriteTx, j.guarded)
		return
	}
	results, ok := b.together(batch)
	if !ok {
		// Nothing of the batch stays: one of its transactions failed after
		// it changed something, or the commit failed (the disk is full,
		// say). Each runs again alone, to get an answer of its own.
		for _, j := range batch {
			j.result <- db.run(j.ctx, db.write, db.writeStmts, db.dialect.WriteTx, j.guarded)
		}
		return
	}
	for n, j := range batch {
		j.result <- results[n]
	}
}

// together runs the jobs in one transaction and commits it. It reports false
// when a job failed after it changed something, or the commit failed, and
// then nothing of it is kept.
func (b *batcher) together(batch []*job) ([]error, bool) {
	db := b.db
	// The transaction is not bound to any job's context: one caller going
	// away must not roll back the others.
	sqlTx, err := db.write.BeginTx(context.Background(), &db.dialect.WriteTx)
	if err != nil {
		return nil, false
	}
	results := make([]error, len(batch))
	txs := make([]*tx, len(batch))
	// The reference generation, once a job has read it: the batch holds
	// the write lock, so only its own jobs can move it, and a job that
	// changes a table of the cache (wrote) makes the next one read it
	// again.
	var gen int64
	genKnown := false
	for n, j := range batch {
		if err := j.ctx.Err(); err != nil {
			results[n] = db.wrap(err)
			continue
		}
		// The job's statements are not interrupted when its caller goes
		// away: on SQLite an interrupted write rolls back the whole
		// transaction, the other jobs' work with it.
		t := &tx{ctx: context.WithoutCancel(j.ctx), tx: sqlTx, db: db, stmts: db.writeStmts, now: db.Now().UTC().Truncate(time.Microsecond),
			gen: gen, genRead: genKnown}
		txs[n] = t
		err := j.guarded(t)
		switch {
		case t.wrote:
			genKnown = false
		case t.genRead:
			gen, genKnown = t.gen, true
		}
		if err != nil {
			if t.changed {
				sqlTx.Rollback()
				return nil, false
			}
			results[n] = t.failed(err)
		}
	}
	if err := sqlTx.Commit(); err != nil {
		return nil, false
	}
	for n, t := range txs {
		if t != nil && results[n] == nil {
			t.committed()
		}
	}
	return results, true
}

// guarded runs the job's function, turning a panic into an error that rolls
// the job back; do raises the panic again in the caller's goroutine.
func (j *job) guarded(t integrations.Tx) (err error) {
	j.panicked = nil // a run again after its batch failed starts afresh
	defer func() {
		if p := recover(); p != nil {
			j.panicked = p
			err = errPanicked
		}
	}()
	return j.fn(t)
}

var errPanicked = errors.New("the transaction panicked")

// writeTx runs one attempt of a write transaction: in the next batch where
// writes are batched (where there is one writer, all write transactions
// have the same options); else on its own with opts, or, where writes are
// pipelined, in a batch of the pipeline that it joins at its first
// statement, and on its own again if the batch could not keep it.
func (db *DB) writeTx(ctx context.Context, opts sql.TxOptions, fn func(integrations.Tx) error) error {
	if db.batch != nil {
		return db.batch.do(ctx, fn)
	}
	if db.dialect.Begin != nil {
		var pipe *pipeline
		if opts == db.dialect.WriteTx {
			pipe = db.pipe
		}
		err := db.runLazy(ctx, db.write, db.writeStmts, opts, pipe, fn)
		if err == errRunAlone {
			err = db.runLazy(ctx, db.write, db.writeStmts, opts, nil, fn)
		}
		if err != errGenerationMoved {
			return err
		}
	}
	return db.run(ctx, db.write, db.writeStmts, opts, fn)
}
