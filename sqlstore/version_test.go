package sqlstore

import (
	"context"
	"strconv"
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
				got, err := v.get(t.Context())
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
