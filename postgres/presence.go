package postgres

import (
	"context"
	"hash/fnv"
	"math"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// Presence: which server processes use the database, so that a write need
// not wait the read window when its process is the only one.
//
// A reading of the version serves the requests of the read window after its
// query began (ReadWindow), and every write waits the window after its
// commit, so that no process serves a reading older than the commit once
// the write returned. Only the readings of other processes need the wait:
// a process drops its own older readings when its write ends (sqlstore's
// Presence). So a process that knows no other one reads the database lets
// its writes return at once. It knows it this way:
//
//   - Each process holds a shared advisory lock of its schema, on a
//     connection of its own, for as long as it runs, and checks every
//     presenceTick that the connection still answers. A check begun at a
//     time and answered shows that the lock was held then.
//   - A process shares its readings within the window only once
//     presenceLease has passed since it took the lock, and only readings
//     begun since then, and only while its last answered check began less
//     than presenceLease ago; else each request waits for a reading of its
//     own, begun after it asked.
//   - It tries the same lock exclusively, which it gets only while no other
//     process holds it. From presenceLease and a fifth more after it got
//     it, and while its last answered check began less than presenceLease
//     ago, it is alone: its writes do not wait.
//   - A process that starts waits for the shared lock while another holds
//     it exclusively. The holder sees the waiter at its next check, stops
//     being alone, and then lets the exclusive lock go.
//
// Why no process then serves a reading older than a write that returned
// without waiting: the writing process P held the exclusive lock from x
// and was alone from more than presenceLease after x.
//   - Another process Q whose lock was held before x lost it before x, so
//     its last answered check began before x, and it stopped sharing
//     readings presenceLease after that: before P was alone.
//   - A process Q that takes the lock after x takes it after P let the
//     exclusive lock go, so after P stopped being alone, or after P's own
//     lock went with its connection; then P's last answered check began
//     before, and P stopped being alone presenceLease after it. Q shares
//     only readings begun presenceLease after it took the lock: after P's
//     last write without the wait returned.
//
// The durations are measured on each process's clock, as the read window
// is: the clocks must run at the same rate, within the margin between
// presenceLease and its fifth more. Every process on a database must take
// part: a process of a version before this one holds no lock, and its
// readings could be older than the writes of a process alone. The
// presence connection must reach the database itself, not a pooler that
// hands a session's statements to several connections.
const (
	presenceTick  = 100 * time.Millisecond
	presenceLease = time.Second
)

// never is the time of what has not happened.
const never = math.MinInt64 / 2

// presence keeps the process's advisory lock and tells the store what it
// allows (sqlstore.Presence). Times are durations since base, on the
// monotonic clock.
type presence struct {
	cfg  *pgx.ConnConfig
	base time.Time
	// tick and lease are presenceTick and presenceLease, shorter in
	// tests; alone is lease and a fifth more.
	tick, lease, alone time.Duration
	pid                atomic.Uint32 // of the presence connection's backend

	checked    atomic.Int64 // when the last answered check began
	sharesFrom atomic.Int64 // lock taken + lease: readings begun since may be shared
	aloneFrom  atomic.Int64 // exclusive lock taken + alone; never without it

	cancel context.CancelFunc
	done   chan struct{}
}

// startPresence takes the process's place on the database in the
// background, checking it every tick with the lease given (presenceTick,
// presenceLease; shorter in tests), and keeps it until close.
func startPresence(cfg *pgx.ConnConfig, tick, lease time.Duration) *presence {
	p := &presence{cfg: cfg, base: time.Now(), tick: tick, lease: lease, alone: lease + lease/5}
	p.checked.Store(never)
	p.sharesFrom.Store(never)
	p.aloneFrom.Store(never)
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan struct{})
	go p.run(ctx)
	return p
}

// close lets the locks go.
func (p *presence) close() error {
	p.cancel()
	<-p.done
	return nil
}

func (p *presence) now() int64 { return int64(time.Since(p.base)) }

// Shares reports whether readings may serve the requests of the window
// after they began, and from when they must have begun.
func (p *presence) Shares() (time.Time, bool) {
	now, from := p.now(), p.sharesFrom.Load()
	if from == never || now < from || now >= p.checked.Load()+int64(p.lease) {
		return time.Time{}, false
	}
	return p.base.Add(time.Duration(from)), true
}

// Alone reports whether no other process reads the database now.
func (p *presence) Alone() bool {
	now, from := p.now(), p.aloneFrom.Load()
	return from != never && now >= from && now < p.checked.Load()+int64(p.lease)
}

// presenceKey returns the key of the advisory lock of a schema: any
// number that nothing else uses. Two schemas with the same key only make
// their processes wait as if they shared a database.
func presenceKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("integrations presence\x00" + schema))
	return int64(h.Sum64())
}

// waitingQuery reports whether a session waits for the lock of key (the
// bigint form: its high and low halves are classid and objid).
const waitingQuery = `SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
	AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
	AND classid::int8 = $1 AND objid::int8 = $2 AND objsubid = 1)`

// run keeps the lock and checks it every tick, until the context ends.
func (p *presence) run(ctx context.Context) {
	defer close(p.done)
	var (
		conn      *pgx.Conn
		key       int64
		exclusive bool
	)
	drop := func() {
		p.aloneFrom.Store(never)
		exclusive = false
		if conn != nil {
			conn.Close(context.Background())
			conn = nil
		}
	}
	defer drop()
	for {
		if conn == nil {
			conn, key = p.register(ctx)
		}
		if conn != nil {
			began := p.now()
			var waiting bool
			err := conn.QueryRow(ctx, waitingQuery, int64(uint64(key)>>32), int64(uint32(key))).Scan(&waiting)
			if err == nil {
				p.checked.Store(began)
			}
			switch {
			case err != nil:
				drop()
			case exclusive && waiting:
				// Stop being alone before the newcomer can read.
				p.aloneFrom.Store(never)
				exclusive = false
				if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, key); err != nil {
					drop()
				}
			case !exclusive && !waiting:
				var got bool
				if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&got); err != nil {
					drop()
				} else if got {
					exclusive = true
					p.aloneFrom.Store(p.now() + int64(p.alone))
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(p.tick):
		}
	}
}

// register connects and takes the shared lock, waiting while a process
// holds it exclusively; it returns nil when it could not.
func (p *presence) register(ctx context.Context) (*pgx.Conn, int64) {
	conn, err := pgx.ConnectConfig(ctx, p.cfg)
	if err != nil {
		return nil, 0
	}
	var schema string
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		conn.Close(context.Background())
		return nil, 0
	}
	key := presenceKey(schema)
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock_shared($1)`, key); err != nil {
		conn.Close(context.Background())
		return nil, 0
	}
	p.sharesFrom.Store(p.now() + int64(p.lease))
	p.pid.Store(conn.PgConn().PID())
	return conn, key
}
