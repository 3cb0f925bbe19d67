package sqlstore

import (
	"context"
	"sync"
	"time"
)

// sharedReads shares the reads of a value that changes with commits (the
// store's version, the reference generation) among the requests that ask
// for it at the same time. Each request needs a value read by a query that
// began after it asked, so that no write that returned before is missing
// from it; one query that begins after several requests asked serves them
// all. So at most one query runs at a time and one more waits: under load a
// round trip to the database serves every request that came during the one
// before, instead of one each.
type sharedReads[T any] struct {
	mu      sync.Mutex
	running bool           // a query is under way
	next    *sharedRead[T] // the query to run when it ends, for those who asked since it began
	query   func(ctx context.Context) (T, error)
}

type sharedRead[T any] struct {
	done  chan struct{}
	value T
	err   error
}

// sharedTimeout bounds a shared query, which no single request owns.
const sharedTimeout = 10 * time.Second

func (v *sharedReads[T]) get(ctx context.Context) (T, error) {
	v.mu.Lock()
	if v.next == nil {
		v.next = &sharedRead[T]{done: make(chan struct{})}
	}
	r := v.next
	if !v.running {
		v.running, v.next = true, nil
		go v.run(r)
	}
	v.mu.Unlock()
	select {
	case <-r.done:
		return r.value, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// run runs the query of r, then those that were asked for meanwhile.
func (v *sharedReads[T]) run(r *sharedRead[T]) {
	for r != nil {
		ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
		r.value, r.err = v.query(ctx)
		cancel()
		close(r.done)
		v.mu.Lock()
		r, v.next = v.next, nil
		v.running = r != nil
		v.mu.Unlock()
	}
}

// atVersion keeps a value with the store version read before it.
type atVersion[T any] struct {
	mu      sync.Mutex
	version string
	value   T
	ok      bool
}

// get returns the value kept at version v, if any.
func (a *atVersion[T]) get(v string) (T, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.ok || a.version != v {
		var zero T
		return zero, false
	}
	return a.value, true
}

func (a *atVersion[T]) set(v string, value T) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.version, a.value, a.ok = v, value, true
}
