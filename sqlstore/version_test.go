package sqlstore

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestVersionReadsShareQueries checks that concurrent requests for the
// version share queries, and that each gets a version that a query read
// after the request asked: the version counts the queries begun so far, and
// a request must never get one that is lower than the count when it asked.
func TestVersionReadsShareQueries(t *testing.T) {
	var begun atomic.Int64
	v := &sharedReads[string]{query: func(ctx context.Context) (string, error) {
		n := begun.Add(1)
		time.Sleep(2 * time.Millisecond) // a round trip
		return strconv.FormatInt(n, 10), nil
	}}
	const requests = 200
	var wg sync.WaitGroup
	var stale atomic.Int64
	for range requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				asked := begun.Load()
				got, err := v.get(t.Context(), time.Time{})
				if err != nil {
					t.Error(err)
					return
				}
				if n, _ := strconv.ParseInt(got, 10, 64); n <= asked {
					stale.Add(1) // read by a query that began before the request
				}
			}
		}()
	}
	wg.Wait()
	if n := stale.Load(); n > 0 {
		t.Errorf("%d requests got a version read before they asked", n)
	}
	if n := begun.Load(); n > requests*5/4 {
		t.Errorf("%d queries for %d requests: they were not shared", n, requests*5)
	}
}

// TestVersionReadsWithinWindow checks that with a window a reading serves
// the requests that ask within the window after its query began, and never
// one that asks later.
func TestVersionReadsWithinWindow(t *testing.T) {
	const window = 20 * time.Millisecond
	var mu sync.Mutex
	var begun []time.Time // when each query began, by the value it returns
	var roundTrip atomic.Int64
	roundTrip.Store(int64(time.Millisecond))
	v := &sharedReads[string]{window: window, query: func(ctx context.Context) (string, error) {
		mu.Lock()
		begun = append(begun, time.Now())
		n := len(begun) - 1
		mu.Unlock()
		time.Sleep(time.Duration(roundTrip.Load()))
		return strconv.Itoa(n), nil
	}}
	beganAt := func(value string) time.Time {
		n, _ := strconv.Atoi(value)
		mu.Lock()
		defer mu.Unlock()
		return begun[n]
	}
	queries := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(begun)
	}

	first, _ := v.get(t.Context(), time.Time{})
	if again, _ := v.get(t.Context(), time.Time{}); again != first || queries() != 1 {
		t.Fatalf("right after a reading: %s after %s, %d queries; want the same reading", again, first, queries())
	}
	time.Sleep(window + time.Millisecond)
	if later, _ := v.get(t.Context(), time.Time{}); later == first || queries() != 2 {
		t.Fatalf("after the window: %s after %s, %d queries; want a new reading", later, first, queries())
	}

	// Under concurrent requests, for five windows.
	start := time.Now()
	var wg sync.WaitGroup
	var old atomic.Int64
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < 5*window {
				asked := time.Now()
				got, err := v.get(t.Context(), time.Time{})
				if err != nil {
					t.Error(err)
					return
				}
				if asked.Sub(beganAt(got)) > window {
					old.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := old.Load(); n > 0 {
		t.Errorf("%d requests got a reading begun more than the window before they asked", n)
	}
	// A query begins once the last reading is a window old: about one a
	// window, give or take the one under way.
	if n := queries() - 2; n > 5*2+2 {
		t.Errorf("%d queries in five windows: the readings were not shared", n)
	}

	// A query slower than the window serves those who asked while it was
	// young, not those who asked once it was older than the window.
	time.Sleep(window + time.Millisecond)
	roundTrip.Store(int64(3 * window))
	done := make(chan string)
	go func() {
		got, _ := v.get(t.Context(), time.Time{})
		done <- got
	}()
	time.Sleep(2 * window)
	asked := time.Now()
	late, _ := v.get(t.Context(), time.Time{})
	if asked.Sub(beganAt(late)) > window {
		t.Errorf("a request that asked %v after a slow query began got its reading", asked.Sub(beganAt(<-done)))
	} else {
		<-done
	}
}

// TestVersionReadsTakeOffers checks that a value read outside the shared
// reads (by a transaction's BEGIN) serves the requests that ask within the
// window after it began, without a query, and no others; and that an offer
// older than the last reading does not replace it.
func TestVersionReadsTakeOffers(t *testing.T) {
	const window = 50 * time.Millisecond
	var queries atomic.Int64
	v := &sharedReads[string]{window: window, query: func(ctx context.Context) (string, error) {
		return "query " + strconv.FormatInt(queries.Add(1), 10), nil
	}}
	offer := func(value string, begun time.Time) {
		r := v.pend()
		r.begun = begun
		v.settle(r, value, nil)
	}
	offer("offered", time.Now())
	if got, _ := v.get(t.Context(), time.Time{}); got != "offered" || queries.Load() != 0 {
		t.Fatalf("right after an offer: %q, %d queries; want the offer", got, queries.Load())
	}
	offer("too old", time.Now().Add(-2*window))
	if got, _ := v.get(t.Context(), time.Time{}); got != "offered" {
		t.Fatalf("after an older offer: %q, want the newer offer", got)
	}
	offer("old", time.Now().Add(-2*window))
	time.Sleep(window + time.Millisecond)
	if got, _ := v.get(t.Context(), time.Time{}); got != "query 1" {
		t.Fatalf("a window after the offer: %q, want a query's", got)
	}
}

// TestVersionReadsWaitForPendingOffers checks that a request that asks
// while a BEGIN's reading is under way waits for it rather than query, and
// reads without it when it fails or takes longer than pendingPatience.
func TestVersionReadsWaitForPendingOffers(t *testing.T) {
	const window = time.Second
	var queries atomic.Int64
	v := &sharedReads[string]{window: window, query: func(ctx context.Context) (string, error) {
		return "query " + strconv.FormatInt(queries.Add(1), 10), nil
	}}
	asked := func() <-chan string {
		got := make(chan string, 1)
		go func() {
			value, err := v.get(t.Context(), time.Time{})
			if err != nil {
				value = err.Error()
			}
			got <- value
		}()
		return got
	}
	for _, c := range []struct {
		name   string
		settle func(r *sharedRead[string])
		want   string
	}{
		{"settled", func(r *sharedRead[string]) { v.settle(r, "begun", nil) }, "begun"},
		{"failed", func(r *sharedRead[string]) { v.settle(r, "", errors.New("no")) }, "query 1"},
		{"late", func(r *sharedRead[string]) {
			time.Sleep(pendingPatience + 10*time.Millisecond)
			v.settle(r, "too late", errors.New("its statements failed"))
		}, "query 2"},
	} {
		v.last = nil
		r := v.pend()
		got := asked()
		time.Sleep(pendingPatience / 4) // the request waits
		c.settle(r)
		if g := <-got; g != c.want {
			t.Errorf("%s: got %q, want %q", c.name, g, c.want)
		}
	}
	if len(v.pending) != 0 {
		t.Errorf("%d readings still pending", len(v.pending))
	}
}

// TestVersionReadsShareAGoroutine checks that the queries of readings that
// follow each other run on one goroutine, which ends once it has waited
// workerIdle for another, and that a reading after that still gets its
// query.
func TestVersionReadsShareAGoroutine(t *testing.T) {
	var mu sync.Mutex
	goroutines := map[string]int{} // queries by the goroutine that ran them
	v := &sharedReads[string]{query: func(ctx context.Context) (string, error) {
		buf := make([]byte, 64)
		id, _, _ := strings.Cut(strings.TrimPrefix(string(buf[:runtime.Stack(buf, false)]), "goroutine "), " ")
		mu.Lock()
		defer mu.Unlock()
		goroutines[id]++
		return id, nil
	}}
	for range 100 {
		if _, err := v.get(t.Context(), time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	if len(goroutines) != 1 {
		t.Errorf("100 readings one after the other ran on %d goroutines: %v; want one", len(goroutines), goroutines)
	}
	working := func() bool {
		v.mu.Lock()
		defer v.mu.Unlock()
		return v.working
	}
	if !working() {
		t.Error("the goroutine of the queries ended right after them")
	}
	time.Sleep(workerIdle + 200*time.Millisecond)
	if working() {
		t.Errorf("the goroutine of the queries is still there %v after the last", workerIdle+200*time.Millisecond)
	}
	id, err := v.get(t.Context(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := goroutines[id]; !ok || len(goroutines) != 2 {
		t.Errorf("after the goroutine ended, a reading ran on goroutine %s, among %v; want a new one", id, goroutines)
	}
}
