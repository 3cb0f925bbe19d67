package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"integrations/internal/storetest"
)

// testDatabase returns the URL of a new, empty database of the backend:
// a SQLite file, or a PostgreSQL database of its own (the test is skipped,
// saying why, without INTEGRATIONS_TEST_POSTGRES).
func testDatabase(t *testing.T, backend string) string {
	t.Helper()
	if backend == "postgres" {
		return storetest.PostgresURL(t)
	}
	return "sqlite:" + filepath.Join(t.TempDir(), "integrations.db")
}

// deliveryFlags make deliveries quick to retry and a crashed server's
// leases quick to run out, so that the tests wait seconds, not minutes.
var deliveryFlags = []string{"--delivery-timeout", "2s", "--delivery-lease", "4s", "--delivery-backoff", "100ms", "--rate-limit", "-1"}

// eventKey names what an event is about, so that events can be matched with
// the changes that caused them: "task <g>/<i>" or "visibility <space> <v>".
func eventKey(typ, spaceID, visibility string, task json.RawMessage) string {
	switch typ {
	case "task":
		var p struct{ G, I int }
		json.Unmarshal(task, &p)
		return fmt.Sprintf("task %d/%d", p.G, p.I)
	case "space_visibility_updated":
		return "visibility " + spaceID + " " + visibility
	}
	return typ + " " + spaceID
}

// burst is a burst of changes from several goroutines, each on a space of
// its own: tasks queued and visibility changes. It keeps the keys of the
// events of every change that was answered 2xx.
type burst struct {
	mu        sync.Mutex
	answered  map[string]int // event key: changes answered 2xx
	ok        atomic.Int64   // changes answered 2xx
	failed    atomic.Int64   // requests that got no answer
	conflicts atomic.Int64   // answers 409, sent again
}

// maxConflicts bounds how often a change answered 409 is sent again.
const maxConflicts = 10

// send sends a request with a JSON body and reports whether it was answered
// with status want; it reports false without an answer (the server died).
// A change answered 409 (it kept conflicting with concurrent ones and was
// not made, which PostgreSQL's serializable transactions may answer under
// contention) is sent again, as the message asks clients to.
func (b *burst) send(t testing.TB, urls []string, n int, method, path, token string, body any, want int) bool {
	data, _ := json.Marshal(body)
	for range maxConflicts {
		req, err := http.NewRequest(method, urls[n%len(urls)]+path, bytes.NewReader(data))
		if err != nil {
			t.Error(err)
			return false
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			b.failed.Add(1)
			return false
		}
		answer, _ := io.ReadAll(res.Body)
		res.Body.Close()
		switch res.StatusCode {
		case want:
			b.ok.Add(1)
			return true
		case http.StatusConflict:
			b.conflicts.Add(1)
			continue
		}
		t.Errorf("%s %s: status %d, want %d: %s", method, path, res.StatusCode, want, answer)
		return false
	}
	t.Errorf("%s %s: answered 409 %d times", method, path, maxConflicts)
	return false
}

func (b *burst) answer(key string) {
	b.mu.Lock()
	b.answered[key]++
	b.mu.Unlock()
}

// run fires changes from one goroutine per space through the servers at
// urls (in turn) until each has made perRoutine rounds, or a request gets
// no answer.
func (b *burst) run(t testing.TB, urls []string, name, userToken, integrationToken string, spaces []string, perRoutine int) {
	var wg sync.WaitGroup
	for g, space := range spaces {
		wg.Go(func() {
			for i := range perRoutine {
				task := map[string]any{"task": map[string]int{"g": g, "i": i}}
				if !b.send(t, urls, g+i, "POST", "/v1/integrations/"+name+"/tasks", integrationToken, task, http.StatusNoContent) {
					return
				}
				b.answer(fmt.Sprintf("task %d/%d", g, i))
				visibility := []string{"public", "private"}[i%2]
				if !b.send(t, urls, g+i+1, "PATCH", "/v1/spaces/"+space, userToken, map[string]string{"visibility": visibility}, http.StatusOK) {
					return
				}
				b.answer("visibility " + space + " " + visibility)
			}
		})
	}
	wg.Wait()
}

// setupBurst creates a user, an organization with spaces, and an
// integration installed on all of them whose events go to url in format.
// It returns the user's and the integration's tokens.
func setupBurst(t *testing.T, s *Server, name, url, format string, spaces int) (user, integration string, spaceIDs []string) {
	t.Helper()
	alice := s.CreateUser(t, adminToken, "Alice", "alice@example.com")
	org := s.CreateOrg(t, alice.Token, "Acme")
	for n := range spaces {
		spaceIDs = append(spaceIDs, s.CreateSpace(t, alice.Token, org, fmt.Sprintf("Space %d", n)))
	}
	publish(t, s, alice.Token, org, name, nil)
	setEventURL(t, s, alice.Token, name, url, format)
	in := install(t, s, alice.Token, name, org)
	s.Expect(t, http.StatusOK, "PATCH", "/v1/integrations/"+name+"/installations/"+in, alice.Token, map[string]string{"space_selection": "all"}, nil)
	return alice.Token, integrationToken(t, s, alice.Token, name), spaceIDs
}

// TestEventsSurviveCrash kills the server with SIGKILL in the middle of a
// burst of changes, restarts it on the same database, and checks that every
// event of every change answered 2xx is delivered: each is in the outbox,
// reaches success, and reaches the receiver (duplicates allowed, losses not).
func TestEventsSurviveCrash(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			database := testDatabase(t, backend)
			rcv := newReceiver(t)
			flags := Flags(database, append([]string{"--admin-token", adminToken}, deliveryFlags...)...)
			s := Start(t, bin, flags)
			const name = "crash-events"
			user, token, spaces := setupBurst(t, s, name, rcv.URL, "webhook", 4)

			b := &burst{answered: map[string]int{}}
			done := make(chan struct{})
			go func() {
				defer close(done)
				b.run(t, []string{s.URL}, name, user, token, spaces, 1000)
			}()
			// Kill it once the burst is well under way, with deliveries in
			// flight.
			waitUntil(t, func() string { return fmt.Sprintf("only %d changes answered", b.ok.Load()) }, func() bool {
				counts, _ := rcv.snapshot()
				return b.ok.Load() >= 100 && len(counts) >= 20
			})
			s.Signal(t, syscall.SIGKILL)
			s.Wait(t)
			<-done
			if b.failed.Load() == 0 {
				t.Fatal("no request went unanswered: the server was not killed during the burst")
			}
			received, _ := rcv.snapshot()
			t.Logf("%s: %d changes answered 2xx before the kill (%d answers 409 sent again), %d events received",
				backend, b.ok.Load(), b.conflicts.Load(), len(received))

			s = Start(t, bin, flags)
			var events []apiEvent
			waitUntil(t, func() string {
				pending := 0
				for _, e := range events {
					if e.Status != "success" {
						pending++
					}
				}
				return fmt.Sprintf("%d of %d events not delivered after the restart", pending, len(events))
			}, func() bool {
				events = listEvents(t, s, user, name)
				for _, e := range events {
					if e.Status != "success" {
						return false
					}
				}
				return true
			})

			received, got := rcv.snapshot()
			listed := map[string]int{}
			for _, e := range events {
				if received[e.ID] == 0 {
					t.Errorf("event %s (%s) is a success but never reached the receiver", e.ID, e.Payload.Type)
				}
				listed[eventKey(e.Payload.Type, e.Payload.SpaceID, e.Payload.Visibility, e.Payload.Task)]++
			}
			delivered := map[string]int{}
			duplicates := 0
			for id, n := range received {
				e := got[id]
				delivered[eventKey(e.Type, e.SpaceID, e.Visibility, e.Task)]++
				duplicates += n - 1
			}
			for key, n := range b.answered {
				if listed[key] < n {
					t.Errorf("%d changes of %q answered 2xx, but %d events listed", n, key, listed[key])
				}
				if delivered[key] < n {
					t.Errorf("%d changes of %q answered 2xx, but %d events delivered", n, key, delivered[key])
				}
			}
			t.Logf("%s: %d events delivered after the restart, %d deliveries were duplicates", backend, len(events), duplicates)
			s.Stop(t)
		})
	}
}
