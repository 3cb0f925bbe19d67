package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// The delivery measure: the events integration sends its events to a
// receiver in this process. The receiver holds every delivery until all the
// events exist, so that what is measured is how fast the server delivers,
// not how fast the benchmark creates events; then it counts them until the
// last one arrives.

// maxHold bounds how long the receiver holds deliveries: well under the
// server's delivery timeout (10s), after which held deliveries would fail
// and be retried.
const maxHold = 5 * time.Second

// receiver counts the distinct events delivered to it.
type receiver struct {
	release chan struct{} // closed when deliveries may proceed
	done    chan struct{} // closed when want events arrived

	mu   sync.Mutex
	want int
	seen map[string]bool
	dups int
	last time.Time
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case <-rc.release:
	case <-r.Context().Done():
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	id := eventID(body)
	w.WriteHeader(http.StatusOK)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.seen[id] {
		rc.dups++
		return
	}
	rc.seen[id] = true
	rc.last = time.Now()
	if len(rc.seen) == rc.want {
		close(rc.done)
	}
}

// eventID finds the eventId of the event in a delivery, whatever its format.
func eventID(body []byte) string {
	const key = `"eventId":"`
	i := bytes.Index(body, []byte(key))
	if i < 0 {
		return "unknown"
	}
	rest := body[i+len(key):]
	if j := bytes.IndexByte(rest, '"'); j >= 0 {
		return string(rest[:j])
	}
	return "unknown"
}

// measureEvents creates n events (n/2 enable-then-disable pairs of the
// events integration) and measures their delivery. onRelease, if set, runs
// when the deliveries may go on, and what it returns once they are done.
func measureEvents(ctx context.Context, serverAddr string, w *world, n int, onRelease func() func()) (Events, error) {
	var res Events
	rc := &receiver{release: make(chan struct{}), done: make(chan struct{}), seen: map[string]bool{}, want: -1}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	srv := &http.Server{Handler: rc}
	go srv.Serve(ln)
	defer srv.Close()
	defer func() {
		select {
		case <-rc.release:
		default:
			close(rc.release)
		}
	}()

	// Point the integration's events at the receiver, as its publisher
	// does: an admin of the organization that owns it.
	owner := w.userSecrets[w.orgUsers[0][0]]
	c := &client{addr: serverAddr}
	defer c.close()
	set := request{method: "PUT", uri: "/ext/integrations/" + eventsIntegration + "/event-settings", token: owner,
		body: []byte(`{"url":"http://` + ln.Addr().String() + `/"}`)}
	if status, body, err := c.do(set.wire(serverAddr)); err != nil || status != http.StatusOK {
		return res, fmt.Errorf("PUT event-settings: %d %s %v", status, body, err)
	}

	// Create the events, each connection on slots of its own: pair k
	// uses slot k modulo the slots, and a slot always goes to the same
	// connection, so that its pairs never race.
	pairs := (n + 1) / 2
	slots := w.eventSlots[:min(len(w.eventSlots), pairs)]
	requests := w.pairRequests(slots)
	const connections = 16
	var created, createErrors int
	var mu sync.Mutex
	var firstErr error
	t := time.Now()
	var wg sync.WaitGroup
	for worker := range connections {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &client{addr: serverAddr}
			defer c.close()
			for k := 0; k < pairs; k++ {
				s := k % len(slots)
				if s%connections != worker {
					continue
				}
				ok := true
				for _, req := range requests[2*s : 2*s+2] {
					status, body, err := c.do(req.wire(serverAddr))
					if err == nil && status != req.want {
						err = fmt.Errorf("%s %s: status %d, want %d: %.200s", req.method, req.uri, status, req.want, body)
					}
					if err != nil {
						mu.Lock()
						if firstErr == nil {
							firstErr = err
						}
						mu.Unlock()
						ok = false
						break
					}
					mu.Lock()
					created++
					mu.Unlock()
				}
				if !ok {
					mu.Lock()
					createErrors++
					mu.Unlock()
				}
				if ctx.Err() != nil {
					return
				}
			}
		}()
	}
	// Deliveries wait until every event exists, or maxHold.
	hold := time.AfterFunc(maxHold, func() {
		mu.Lock()
		defer mu.Unlock()
		select {
		case <-rc.release:
		default:
			close(rc.release)
		}
	})
	wg.Wait()
	hold.Stop()
	res.CreateSeconds = time.Since(t).Seconds()
	res.CreateErrors = createErrors
	if created == 0 {
		return res, fmt.Errorf("no event created: %v", firstErr)
	}
	rc.mu.Lock()
	rc.want = created
	if len(rc.seen) >= created {
		close(rc.done)
	}
	rc.mu.Unlock()
	released := time.Now()
	mu.Lock()
	select {
	case <-rc.release:
		released = t.Add(maxHold) // released by the hold's timer, while events were still being created
	default:
		close(rc.release)
	}
	mu.Unlock()
	if onRelease != nil {
		defer onRelease()()
	}

	select {
	case <-rc.done:
	case <-ctx.Done():
		return res, ctx.Err()
	case <-time.After(5 * time.Minute):
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return res, fmt.Errorf("only %d of %d events arrived within 5 minutes", len(rc.seen), created)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	res.Count = len(rc.seen)
	res.Duplicates = rc.dups
	res.Seconds = rc.last.Sub(released).Seconds()
	if res.Seconds > 0 {
		res.PerSecond = float64(res.Count) / res.Seconds
	}
	return res, nil
}
