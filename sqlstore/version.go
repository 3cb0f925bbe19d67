package sqlstore

import (
	"context"
	"sync"
	"time"
)

// versionReads shares the reads of the version among the requests that ask
// for it at the same time. Each request needs a version read by a query
// that began after it asked, so that no write that returned before is
// missing from it; one query that begins after several requests asked
// serves them all. So at most one query runs at a time and one more waits:
// under load a round trip to the database serves every request that came
// during the one before, instead of one each.
type versionReads struct {
	mu      sync.Mutex
	running bool         // a query is under way
	next    *versionRead // the query to run when it ends, for those who asked since it began
	query   func(ctx context.Context) (string, error)
}

type versionRead struct {
	done    chan struct{}
	version string
	err     error
}

// versionTimeout bounds a version query, which no single request owns.
const versionTimeout = 10 * time.Second

func (v *versionReads) get(ctx context.Context) (string, error) {
	v.mu.Lock()
	if v.next == nil {
		v.next = &versionRead{done: make(chan struct{})}
	}
	r := v.next
	if !v.running {
		v.running, v.next = true, nil
		go v.run(r)
	}
	v.mu.Unlock()
	select {
	case <-r.done:
		return r.version, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// run runs the query of r, then those that were asked for meanwhile.
func (v *versionReads) run(r *versionRead) {
	for r != nil {
		ctx, cancel := context.WithTimeout(context.Background(), versionTimeout)
		r.version, r.err = v.query(ctx)
		cancel()
		close(r.done)
		v.mu.Lock()
		r, v.next = v.next, nil
		v.running = r != nil
		v.mu.Unlock()
	}
}
