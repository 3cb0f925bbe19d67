package sqlite

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// checkpointInterval is how often the checkpointer copies the WAL into the
// database file.
const checkpointInterval = time.Second

// checkpointer runs the WAL checkpoints in the background, on a connection
// of its own, instead of SQLite's automatic checkpoints: those run on the
// connection that commits, so that the one writer of the database would
// stop writing while the checkpoint copies pages and waits for fsync. A
// PASSIVE checkpoint takes no lock that a writer or a reader waits for.
type checkpointer struct {
	db   *sql.DB
	stop chan struct{}
	done sync.WaitGroup
}

func newCheckpointer(db *sql.DB) *checkpointer {
	db.SetMaxOpenConns(1)
	c := &checkpointer{db: db, stop: make(chan struct{})}
	c.done.Add(1)
	go c.run()
	return c
}

func (c *checkpointer) run() {
	defer c.done.Done()
	tick := time.NewTicker(checkpointInterval)
	defer tick.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-tick.C:
			// An error (the disk is full, say) leaves the frames in the WAL,
			// where readers find them: the next tick tries again.
			c.checkpoint("PASSIVE")
		}
	}
}

// checkpoint runs one checkpoint of the given mode.
func (c *checkpointer) checkpoint(mode string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var busy, log, done int
	return c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &log, &done)
}

// close stops the checkpointer. The last connection of the database to
// close checkpoints the whole WAL and removes it, as SQLite always does.
func (c *checkpointer) close() error {
	close(c.stop)
	c.done.Wait()
	return c.db.Close()
}
