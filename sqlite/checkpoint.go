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

// walRestartBytes is the size of the WAL past which the checkpointer makes
// it start over; it is also the size the WAL is truncated to then
// (journal_size_limit, set in Open).
const walRestartBytes = 64 << 20

// checkpointer runs the WAL checkpoints in the background, on a connection
// of its own, instead of SQLite's automatic checkpoints: those run on the
// connection that commits, so that the one writer of the database would
// stop writing while the checkpoint copies pages and waits for fsync. A
// PASSIVE checkpoint takes no lock that a writer or a reader waits for.
//
// A WAL starts over from its beginning only when a write transaction
// begins while every frame of it has been copied. Under a steady flow of
// writes that never happens, since new frames come while the checkpoint
// copies, and the WAL would grow without end: on disk, in the work of
// recovery after a crash, and in the cost of each write, which appends to
// the file instead of overwriting pages that it holds already. So once
// the WAL is past walRestartBytes, the checkpointer copies it again while
// writes go on, until little is left, then takes the writer's connection
// between two write transactions and checkpoints there: what is left gets
// copied, none comes meanwhile, and the next write begins the WAL again
// (unless a reader still uses the WAL's end then: a later tick tries
// again). Writes wait for that, 5–30 ms in the benchmark, at most once a
// tick and only while writes keep the WAL past walRestartBytes.
type checkpointer struct {
	db            *sql.DB // the checkpointer's own connection
	write         *sql.DB // the writer's
	interval      time.Duration
	restartFrames int // frames in the WAL past which it starts over
	stop          chan struct{}
	done          sync.WaitGroup
}

func newCheckpointer(ctx context.Context, db, write *sql.DB, interval time.Duration, restartBytes int) (*checkpointer, error) {
	db.SetMaxOpenConns(1)
	var pageSize int
	if err := db.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize); err != nil {
		return nil, err
	}
	c := &checkpointer{db: db, write: write, interval: interval, restartFrames: max(1, restartBytes/pageSize), stop: make(chan struct{})}
	c.done.Add(1)
	go c.run()
	return c, nil
}

func (c *checkpointer) run() {
	defer c.done.Done()
	tick := time.NewTicker(c.interval)
	defer tick.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-tick.C:
			// An error (the disk is full, say) leaves the frames in the WAL,
			// where readers find them: the next tick tries again.
			if frames, copied, err := c.passive(); err == nil && frames >= c.restartFrames {
				c.catchUp(copied)
				c.restart()
			}
		}
	}
}

// passive runs a PASSIVE checkpoint: it returns the frames in the WAL and
// those of them that are in the database file now.
func (c *checkpointer) passive() (frames, copied int, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var busy int
	err = c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied)
	return frames, copied, err
}

// catchUpFrames is what may be left for the restart to copy while writes
// wait.
const catchUpFrames = 1000

// catchUp runs PASSIVE checkpoints again while writes go on, each copying
// what came during the one before (the first, what came since copied
// frames were in the database file), until what is left is small: the
// restart then copies only that while writes wait.
func (c *checkpointer) catchUp(copied int) {
	for range 4 {
		frames, done, err := c.passive()
		if err != nil || frames-copied < catchUpFrames {
			return
		}
		copied = done
	}
}

// restart checkpoints on the writer's connection: no write transaction runs
// meanwhile, so every frame that no reader needs gets copied, and the next
// write begins the WAL again. A PASSIVE checkpoint waits for no reader, so
// that the writes wait no longer than the copy.
func (c *checkpointer) restart() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := c.write.Conn(ctx) // once the write transaction under way has ended
	if err != nil {
		return
	}
	defer conn.Close()
	var busy, frames, copied int
	conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied)
}

// close stops the checkpointer. The last connection of the database to
// close checkpoints the whole WAL and removes it, as SQLite always does.
func (c *checkpointer) close() error {
	close(c.stop)
	c.done.Wait()
	return c.db.Close()
}
