package sqlstore

import (
	"context"
	"slices"
	"sync"
	"time"
)

// sharedReads shares the reads of a value that changes with commits (the
// store's version, the reference generation) among the requests that ask
// for it at the same time. Each request needs a value read by a query that
// began no earlier than window before it asked: with window 0, after it
// asked, so that no write that returned before is missing from it; with a
// window, the writes wait for it after they commit (see Dialect.ReadWindow),
// to the same effect. One query serves every request that asks within that
// bound: at most one query runs at a time and one more waits, and a request
// that finds a value read recently enough takes it without waiting.
//
// The queries run on a goroutine of their own, which stays for workerIdle
// after its last query: under load one goroutine runs them all, and its
// stack, grown by the database driver's calls, is not grown again for each.
//
// A reading serves within the window only if it began no earlier than the
// floor the request gives (see DB.waitReadWindow), and than shares allows,
// if set (see Presence).
type sharedReads[T any] struct {
	mu      sync.Mutex
	window  time.Duration
	shares  func() (since time.Time, ok bool)
	stale   time.Time      // see markStale
	running *sharedRead[T] // the query under way, if any
	next    *sharedRead[T] // the query to run when it ends, for those who asked since it began
	last    *sharedRead[T] // the last query that succeeded
	working bool           // whether the goroutine that runs the queries is there
	wake    chan *sharedRead[T]
	query   func(ctx context.Context) (T, error)
	// pending are the readings under way outside the shared reads (those
	// of transactions' BEGINs: see pend).
	pending []*sharedRead[T]
}

type sharedRead[T any] struct {
	done  chan struct{}
	begun time.Time // when the query began, before it was sent
	value T
	err   error
}

// sharedTimeout bounds a shared query, which no single request owns.
const sharedTimeout = 10 * time.Second

// pendingPatience is how long a request waits for a BEGIN's reading under
// way before it reads without it.
const pendingPatience = 2 * time.Millisecond

// workerIdle is how long the goroutine of the queries waits for another
// before it ends.
const workerIdle = time.Second

func (v *sharedReads[T]) get(ctx context.Context, floor time.Time) (T, error) {
	return v.read(ctx, floor, true)
}

// read is get; withPending says whether a BEGIN's reading under way may
// serve.
func (v *sharedReads[T]) read(ctx context.Context, floor time.Time, withPending bool) (T, error) {
	asked := time.Now()
	window, since := v.window, time.Time{}
	if window > 0 && v.shares != nil {
		var ok bool
		if since, ok = v.shares(); !ok {
			window = 0
		}
	}
	v.mu.Lock()
	// serves reports whether the reading r serves this request.
	serves := func(r *sharedRead[T]) bool {
		return window > 0 && asked.Sub(r.begun) <= window && !r.begun.Before(floor) && !r.begun.Before(since)
	}
	if l := v.last; l != nil && serves(l) {
		v.mu.Unlock()
		return l.value, nil
	}
	var r *sharedRead[T]
	if withPending {
		for _, p := range v.pending {
			if serves(p) && (r == nil || p.begun.After(r.begun)) {
				r = p
			}
		}
	}
	switch {
	case r != nil:
		// A BEGIN's reading under way serves: it usually ends as soon
		// as a query of its own would, at no cost. Its round trip also
		// runs the first statements of a batch, which may wait for a
		// lock: after pendingPatience, the request reads without it.
		v.mu.Unlock()
		patience := time.NewTimer(pendingPatience)
		defer patience.Stop()
		select {
		case <-r.done:
			if r.err == nil {
				return r.value, nil
			}
		case <-patience.C:
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		}
		return v.read(ctx, floor, false)
	case v.running != nil && serves(v.running):
		r = v.running
	case v.running != nil:
		if v.next == nil {
			v.next = &sharedRead[T]{done: make(chan struct{})}
		}
		r = v.next
	default:
		r = &sharedRead[T]{done: make(chan struct{}), begun: time.Now()}
		v.running = r
		if v.working {
			v.wake <- r // never blocks: the goroutine waits, and nothing else sends
		} else {
			if v.wake == nil {
				v.wake = make(chan *sharedRead[T], 1)
			}
			v.working = true
			go v.work(r)
		}
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

// work runs the query of r, and those that come until it has waited
// workerIdle for one.
func (v *sharedReads[T]) work(r *sharedRead[T]) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		v.run(r)
		idle.Reset(workerIdle)
		select {
		case r = <-v.wake:
			continue
		case <-idle.C:
		}
		v.mu.Lock()
		select {
		case r = <-v.wake: // sent as the timer fired
			v.mu.Unlock()
			continue
		default:
		}
		v.working = false
		v.mu.Unlock()
		return
	}
}

// latest returns the value of the last reading, however old, if any, and
// if it began after the last markStale.
func (v *sharedReads[T]) latest() (T, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.last == nil || v.last.begun.Before(v.stale) {
		var zero T
		return zero, false
	}
	return v.last.value, true
}

// markStale says that the readings begun before t are known to be out of
// date: latest no longer gives them.
func (v *sharedReads[T]) markStale(t time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if t.After(v.stale) {
		v.stale = t
	}
}

// pend notes a reading outside the shared reads that begins now (that of
// a transaction's BEGIN): until settle ends it, the requests it serves wait
// for it rather than for a query of their own. Under a load of writes the
// BEGINs read often enough that few queries of their own remain.
func (v *sharedReads[T]) pend() *sharedRead[T] {
	r := &sharedRead[T]{done: make(chan struct{}), begun: time.Now()}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.pending = append(v.pending, r)
	return r
}

// settle ends a reading that pend noted with what it read, and takes it as
// the last one when it succeeded and began after it.
func (v *sharedReads[T]) settle(r *sharedRead[T], value T, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if i := slices.Index(v.pending, r); i >= 0 {
		v.pending = slices.Delete(v.pending, i, i+1)
	}
	r.value, r.err = value, err
	if err == nil && (v.last == nil || r.begun.After(v.last.begun)) {
		v.last = r
	}
	close(r.done)
}

// run runs the query of r, then those that were asked for meanwhile.
func (v *sharedReads[T]) run(r *sharedRead[T]) {
	for r != nil {
		ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
		r.value, r.err = v.query(ctx)
		cancel()
		v.mu.Lock()
		if r.err == nil {
			v.last = r
		}
		ended := r
		r, v.next = v.next, nil
		if r != nil {
			r.begun = time.Now()
		}
		v.running = r
		v.mu.Unlock()
		close(ended.done)
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

// readingFloor is a time that only moves forward: the readings begun
// before it serve no request.
type readingFloor struct {
	mu sync.Mutex
	t  time.Time
}

func (f *readingFloor) get() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

// raise moves the floor to t, if t is later.
func (f *readingFloor) raise(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t.After(f.t) {
		f.t = t
	}
}
