package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"integrations"
)

// event returns a pending event of an integration, due at due.
func event(id, integrationID, installationID string, due time.Time) *integrations.Event {
	return &integrations.Event{ID: id, IntegrationID: integrationID, InstallationID: installationID, OrganizationID: "o1",
		Type: integrations.EventInstallationSetup, Payload: json.RawMessage(`{"eventId":"` + id + `","type":"installation_setup"}`),
		Status: integrations.EventPending, NextAttemptAt: due, CreatedAt: t0, UpdatedAt: t0}
}

func eventIDs(list []*integrations.Event) string {
	ids := []string{}
	for _, e := range list {
		ids = append(ids, e.ID)
	}
	return fmt.Sprint(ids)
}

func testEvents(t *testing.T, s integrations.Store) {
	// Several events in one transaction: a store that holds an event
	// back for the COMMIT sends it before the next. Each has its Seq once
	// the transaction committed, in the order of creation.
	var created []*integrations.Event
	build(t, s, func(b builder) {
		b.org("o1", "Org", t0)
		b.integration(newIntegration("i1", "one", "o1"))
		b.integration(newIntegration("i2", "two", "o1"))
		for n := 1; n <= 5; n++ {
			e := event(fmt.Sprintf("e%d", n), "i1", "inst-a", at(n))
			if n%2 == 0 {
				e.InstallationID = "inst-b"
			}
			b.must(b.tx.CreateEvent(e))
			created = append(created, e)
		}
		other := event("other", "i2", "", at(0))
		b.must(b.tx.CreateEvent(other))
		created = append(created, other)
	})
	for n, e := range created {
		if e.Seq == 0 || n > 0 && e.Seq <= created[n-1].Seq {
			t.Fatalf("event %s: Seq %d after %d", e.ID, e.Seq, created[max(n-1, 0)].Seq)
		}
	}
	failsWith(t, s, integrations.ECONFLICT, func(tx integrations.Tx) error { return tx.CreateEvent(event("e1", "i1", "", t0)) })
	failsWith(t, s, integrations.ENOTFOUND, func(tx integrations.Tx) error { return tx.CreateEvent(event("x", "nope", "", t0)) })
	// The same when a statement follows the event's (which a store that
	// held the event back sends first), even if the caller goes on.
	failsWith(t, s, integrations.ECONFLICT, func(tx integrations.Tx) error {
		if err := tx.CreateEvent(event("e1", "i1", "", t0)); err != nil {
			return err
		}
		_, err := tx.Event("e2")
		return err
	})
	failsWith(t, s, integrations.ENOTFOUND, func(tx integrations.Tx) error {
		if err := tx.CreateEvent(event("y", "nope", "", t0)); err != nil {
			return err
		}
		tx.Event("e2") // its error ignored: the transaction still fails
		return nil
	})

	t.Run("round trip", func(t *testing.T) {
		e := get(t, s, func(tx integrations.Tx) (*integrations.Event, error) { return tx.Event("e2") })
		want := event("e2", "i1", "inst-b", at(2))
		want.Seq = e.Seq
		sameJSON(t, "event", e, want)
		missing(t, s, "unknown event", func(tx integrations.Tx) (*integrations.Event, error) { return tx.Event("nope") })
	})
	t.Run("listing, newest first", func(t *testing.T) {
		checkListing(t, s, listing[*integrations.Event]{
			list: func(tx integrations.Tx, p integrations.Page) ([]*integrations.Event, int, error) {
				return tx.Events(integrations.EventFilter{IntegrationID: "i1"}, p)
			},
			key:    func(e *integrations.Event) string { return e.ID },
			cursor: func(e *integrations.Event) integrations.Cursor { return integrations.Cursor{At: e.Seq, ID: e.ID} },
		}, []string{"e5", "e4", "e3", "e2", "e1"})
		checkListing(t, s, listing[*integrations.Event]{
			list: func(tx integrations.Tx, p integrations.Page) ([]*integrations.Event, int, error) {
				return tx.Events(integrations.EventFilter{IntegrationID: "i1", InstallationID: "inst-b"}, p)
			},
			key:    func(e *integrations.Event) string { return e.ID },
			cursor: func(e *integrations.Event) integrations.Cursor { return integrations.Cursor{At: e.Seq, ID: e.ID} },
		}, []string{"e4", "e2"})
	})
	t.Run("claims take due events once, oldest first", func(t *testing.T) {
		var first, second []*integrations.Event
		update(t, s, func(tx integrations.Tx) (err error) {
			first, err = tx.ClaimEvents("w1", 3, at(3), at(100))
			return err
		})
		// Due at 3: other (0), e1 (1), e2 (2), e3 (3); the limit keeps three.
		if got := eventIDs(first); got != "[e1 e2 other]" && got != "[other e1 e2]" {
			t.Errorf("w1 claimed %s", got)
		}
		update(t, s, func(tx integrations.Tx) (err error) {
			second, err = tx.ClaimEvents("w2", 10, at(3), at(100))
			return err
		})
		if got := eventIDs(second); got != "[e3]" {
			t.Errorf("w2 claimed %s, want only the due event not leased to w1", got)
		}
		// After the leases run out, another worker takes the events again.
		var again []*integrations.Event
		update(t, s, func(tx integrations.Tx) (err error) {
			again, err = tx.ClaimEvents("w3", 10, at(100), at(200))
			return err
		})
		if len(again) != 6 {
			t.Errorf("after the leases ran out, w3 claimed %s", eventIDs(again))
		}
	})
	t.Run("attempts release the lease of its holder only", func(t *testing.T) {
		e := get(t, s, func(tx integrations.Tx) (*integrations.Event, error) { return tx.Event("e4") })
		a := &integrations.EventAttempt{EventID: "e4", Attempt: 1, At: at(101), Target: "http://x", StatusCode: 500, Error: "boom", Duration: 1500 * time.Microsecond}
		next := *e
		next.Status, next.Attempts, next.NextAttemptAt = integrations.EventPending, 1, at(150)
		var held bool
		update(t, s, func(tx integrations.Tx) (err error) {
			held, err = tx.RecordAttempt(&next, a, "w1") // w3 holds e4 now
			return err
		})
		if held {
			t.Error("a worker without the lease changed the event")
		}
		update(t, s, func(tx integrations.Tx) (err error) {
			held, err = tx.RecordAttempt(&next, a, "w3")
			return err
		})
		if !held {
			t.Error("the holder of the lease could not record its attempt")
		}
		got := get(t, s, func(tx integrations.Tx) (*integrations.Event, error) { return tx.Event("e4") })
		if got.Status != integrations.EventPending || got.Attempts != 1 || !got.NextAttemptAt.Equal(at(150)) {
			t.Errorf("after the attempt: %+v", got)
		}
		attempts := get(t, s, func(tx integrations.Tx) ([]*integrations.EventAttempt, error) { return tx.EventAttempts("e4") })
		if len(attempts) != 2 || attempts[1].StatusCode != 500 || attempts[1].Duration != a.Duration || !attempts[1].At.Equal(a.At) {
			t.Errorf("attempts: %+v", attempts)
		}
		// Released: due at 150, it is claimed then, not before.
		var claimed []*integrations.Event
		update(t, s, func(tx integrations.Tx) (err error) {
			claimed, err = tx.ClaimEvents("w4", 10, at(149), at(300))
			return err
		})
		for _, c := range claimed {
			if c.ID == "e4" {
				t.Error("e4 was claimed before it was due")
			}
		}
	})
	t.Run("final statuses are never claimed; retry makes them pending again, with a fresh budget", func(t *testing.T) {
		done := event("done", "i1", "", t0)
		update(t, s, func(tx integrations.Tx) error { return tx.CreateEvent(done) })
		update(t, s, func(tx integrations.Tx) error {
			if _, err := tx.ClaimEvents("w5", 100, at(1000), at(1100)); err != nil {
				return err
			}
			done.Status, done.Attempts = integrations.EventSuccess, 1
			_, err := tx.RecordAttempt(done, &integrations.EventAttempt{EventID: "done", Attempt: 1, At: t0}, "w5")
			return err
		})
		var claimed []*integrations.Event
		update(t, s, func(tx integrations.Tx) (err error) {
			claimed, err = tx.ClaimEvents("w6", 100, at(5000), at(5100))
			return err
		})
		for _, c := range claimed {
			if c.ID == "done" {
				t.Error("a delivered event was claimed")
			}
		}
		update(t, s, func(tx integrations.Tx) error { return tx.RetryEvent("done", at(6000)) })
		got := get(t, s, func(tx integrations.Tx) (*integrations.Event, error) { return tx.Event("done") })
		// A fresh budget of attempts; the attempts made stay recorded.
		if got.Status != integrations.EventPending || !got.NextAttemptAt.Equal(at(6000)) || got.Attempts != 0 {
			t.Errorf("after retry: %+v", got)
		}
		attempts := get(t, s, func(tx integrations.Tx) ([]*integrations.EventAttempt, error) { return tx.EventAttempts("done") })
		if len(attempts) != 1 || attempts[0].Attempt != 1 {
			t.Errorf("after retry, attempts %+v, want the one recorded before", attempts)
		}
		failsWith(t, s, integrations.ENOTFOUND, func(tx integrations.Tx) error { return tx.RetryEvent("nope", t0) })
	})
	t.Run("UpdateLeases commits, or rolls back on an error", func(t *testing.T) {
		update(t, s, func(tx integrations.Tx) error { return tx.CreateEvent(event("leased", "i1", "", at(7000))) })
		claim := func(worker string, fail error) ([]*integrations.Event, error) {
			var got []*integrations.Event
			err := s.UpdateLeases(t.Context(), func(tx integrations.Tx) (err error) {
				if got, err = tx.ClaimEvents(worker, 100, at(7000), at(7100)); err != nil {
					return err
				}
				return fail
			})
			return got, err
		}
		if got, err := claim("w7", integrations.Errorf(integrations.EINVALID, "changed my mind")); integrations.ErrorCode(err) != integrations.EINVALID ||
			!strings.Contains(eventIDs(got), "leased") {
			t.Fatalf("a failing claim: %s, %v", eventIDs(got), err)
		}
		if got, err := claim("w8", nil); err != nil || !strings.Contains(eventIDs(got), "leased") {
			t.Fatalf("after a rolled back claim the event is not free: %s, %v", eventIDs(got), err)
		}
		if got, err := claim("w9", nil); err != nil || strings.Contains(eventIDs(got), "leased") {
			t.Fatalf("a committed claim did not hold: %s, %v", eventIDs(got), err)
		}
		// A foreign key violation may come from a row deleted since an
		// earlier statement read it: UpdateLeases runs the transaction
		// again, on fresh data, a few times at most before it gives up;
		// Update, whose reads are one snapshot, does not.
		for _, tt := range []struct {
			name             string
			run              func(context.Context, func(integrations.Tx) error) error
			minRuns, maxRuns int
		}{{"UpdateLeases", s.UpdateLeases, 2, 5}, {"Update", s.Update, 1, 1}} {
			runs := 0
			err := tt.run(t.Context(), func(tx integrations.Tx) error {
				runs++
				return tx.CreateInstallation(&integrations.Installation{ID: "orphan", IntegrationID: "nope", OrganizationID: "o1",
					Status: integrations.StatusActive, SpaceSelection: "selected", SiteSelection: "selected", CreatedAt: t0, UpdatedAt: t0})
			})
			if integrations.ErrorCode(err) != integrations.ENOTFOUND || runs < tt.minRuns || runs > tt.maxRuns {
				t.Errorf("%s with a foreign key violation: %v after %d runs, want ENOTFOUND after %d to %d", tt.name, err, runs, tt.minRuns, tt.maxRuns)
			}
		}
		// An event of an integration that does not exist fails, in either
		// kind of transaction, whether or not a foreign key checks it.
		for _, tt := range []struct {
			name string
			run  func(context.Context, func(integrations.Tx) error) error
		}{{"UpdateLeases", s.UpdateLeases}, {"Update", s.Update}} {
			err := tt.run(t.Context(), func(tx integrations.Tx) error { return tx.CreateEvent(event("orphan", "nope", "", t0)) })
			if integrations.ErrorCode(err) != integrations.ENOTFOUND {
				t.Errorf("%s: an event of an unknown integration: %v, want ENOTFOUND", tt.name, err)
			}
			missing(t, s, "event of an unknown integration", func(tx integrations.Tx) (*integrations.Event, error) { return tx.Event("orphan") })
			// Nor does a transaction that goes on without the error
			// commit it.
			err = tt.run(t.Context(), func(tx integrations.Tx) error {
				if err := tx.CreateEvent(event("orphan", "nope", "", t0)); integrations.ErrorCode(err) != integrations.ENOTFOUND {
					t.Errorf("%s: an event of an unknown integration: %v, want ENOTFOUND", tt.name, err)
				}
				return nil
			})
			if err != nil && integrations.ErrorCode(err) != integrations.ENOTFOUND {
				t.Errorf("%s: a transaction that went on without its error: %v, want none or ENOTFOUND", tt.name, err)
			}
			missing(t, s, "event of an unknown integration", func(tx integrations.Tx) (*integrations.Event, error) { return tx.Event("orphan") })
		}
	})
	t.Run("events go with their integration, and their attempts with them", func(t *testing.T) {
		update(t, s, func(tx integrations.Tx) error {
			return tx.AddAttempt(&integrations.EventAttempt{EventID: "other", Attempt: 1, At: at(1), Error: "not delivered"})
		})
		update(t, s, func(tx integrations.Tx) error { _, err := tx.DeleteIntegration("i2"); return err })
		missing(t, s, "event of a deleted integration", func(tx integrations.Tx) (*integrations.Event, error) { return tx.Event("other") })
		// An attempt of the event that is gone fails, as if it were not there.
		failsWith(t, s, integrations.ENOTFOUND, func(tx integrations.Tx) error {
			gone := event("other", "i2", "", at(0))
			_, err := tx.RecordAttempt(gone, &integrations.EventAttempt{EventID: "other", Attempt: 2, At: at(2)}, "w1")
			return err
		})
		// An event of the same id, made again, starts with no attempts:
		// none of the old event's stayed behind.
		build(t, s, func(b builder) {
			b.integration(newIntegration("i2", "two", "o1"))
			b.must(b.tx.CreateEvent(event("other", "i2", "", at(0))))
		})
		if got := get(t, s, func(tx integrations.Tx) ([]*integrations.EventAttempt, error) { return tx.EventAttempts("other") }); len(got) != 0 {
			t.Errorf("the event made again has the attempts %+v of the deleted one", got)
		}
	})
	t.Run("created with its attempts", func(t *testing.T) {
		build(t, s, func(b builder) { b.integration(newIntegration("i3", "three", "o1")) })
		failed := func(id, integrationID string, attempts int) (*integrations.Event, []*integrations.EventAttempt) {
			e := event(id, integrationID, "", t0)
			e.Status, e.Attempts = integrations.EventFailed, attempts
			var list []*integrations.EventAttempt
			for n := 1; n <= attempts; n++ {
				list = append(list, &integrations.EventAttempt{EventID: id, Attempt: n, At: at(n), Target: "https://example.com/" + id,
					StatusCode: 500 + n, Error: fmt.Sprintf("not delivered %d", n), Duration: time.Duration(n) * time.Millisecond})
			}
			return e, list
		}
		for _, n := range []int{1, 2} {
			id := fmt.Sprintf("failed%d", n)
			e, attempts := failed(id, "i3", n)
			update(t, s, func(tx integrations.Tx) error { return tx.CreateEvent(e, attempts...) })
			if e.Seq == 0 {
				t.Fatalf("%s: CreateEvent set no Seq", id)
			}
			got := get(t, s, func(tx integrations.Tx) (*integrations.Event, error) { return tx.Event(id) })
			sameJSON(t, id, got, e)
			sameJSON(t, id+"'s attempts", get(t, s, func(tx integrations.Tx) ([]*integrations.EventAttempt, error) { return tx.EventAttempts(id) }), attempts)
			// The same event again fails, and adds no attempt either.
			again, more := failed(id, "i3", 1)
			more[0].Error = "again"
			failsWith(t, s, integrations.ECONFLICT, func(tx integrations.Tx) error { return tx.CreateEvent(again, more...) })
			sameJSON(t, id+"'s attempts after a conflict", get(t, s, func(tx integrations.Tx) ([]*integrations.EventAttempt, error) { return tx.EventAttempts(id) }), attempts)
		}
		// One that was not delivered as it was made: its one attempt, sent
		// nowhere (which a store may keep in the event's row), comes back
		// as it went in, and before those recorded later; without a time
		// too.
		for n, first := range []time.Time{at(1), {}} {
			id := fmt.Sprintf("undelivered%d", n+1)
			e := event(id, "i3", "", t0)
			e.Status, e.Attempts = integrations.EventFailed, 1
			attempts := []*integrations.EventAttempt{{EventID: id, Attempt: 1, At: first, Error: "not delivered: no URL"}}
			update(t, s, func(tx integrations.Tx) error { return tx.CreateEvent(e, attempts...) })
			sameJSON(t, id, get(t, s, func(tx integrations.Tx) (*integrations.Event, error) { return tx.Event(id) }), e)
			sameJSON(t, id+"'s attempts", get(t, s, func(tx integrations.Tx) ([]*integrations.EventAttempt, error) { return tx.EventAttempts(id) }), attempts)
			again := *attempts[0]
			again.Error = "again"
			failsWith(t, s, integrations.ECONFLICT, func(tx integrations.Tx) error { return tx.CreateEvent(event(id, "i3", "", t0), &again) })
			later := &integrations.EventAttempt{EventID: id, Attempt: 2, At: at(5), Target: "https://example.com/", StatusCode: 200, Duration: time.Millisecond}
			update(t, s, func(tx integrations.Tx) error { return tx.AddAttempt(later) })
			sameJSON(t, id+"'s attempts after another", get(t, s, func(tx integrations.Tx) ([]*integrations.EventAttempt, error) { return tx.EventAttempts(id) }),
				append(attempts, later))
		}
		// Its attempt goes with it: made again, the event has none.
		update(t, s, func(tx integrations.Tx) error { _, err := tx.DeleteIntegration("i3"); return err })
		build(t, s, func(b builder) {
			b.integration(newIntegration("i3", "three", "o1"))
			b.must(b.tx.CreateEvent(event("undelivered1", "i3", "", at(0))))
		})
		if got := get(t, s, func(tx integrations.Tx) ([]*integrations.EventAttempt, error) {
			return tx.EventAttempts("undelivered1")
		}); len(got) != 0 {
			t.Errorf("the event made again has the attempts %+v of the deleted one", got)
		}
		// One of an unknown integration fails, and leaves no attempt behind.
		orphan, attempts := failed("orphan1", "nope", 1)
		failsWith(t, s, integrations.ENOTFOUND, func(tx integrations.Tx) error { return tx.CreateEvent(orphan, attempts...) })
		if got := get(t, s, func(tx integrations.Tx) ([]*integrations.EventAttempt, error) { return tx.EventAttempts("orphan1") }); len(got) != 0 {
			t.Errorf("attempts of an event that failed to be created: %d, want none", len(got))
		}
	})
}

// OverlappingClaims checks what only a store with concurrent writers can
// show, so it is not part of Run: PostgreSQL. (On SQLite writers take turns,
// and the claim that waits in its transaction for another would wait
// forever.) A claim holds an event while a second claim skips it, takes the
// next one and settles it; the first then claims again and gets the rest,
// without running its transaction a second time: in UpdateLeases, an event
// changed by a concurrent claim since the transaction began is looked at as
// it is now, where a serializable transaction would fail and run again.
func OverlappingClaims(t *testing.T, s integrations.Store) {
	build(t, s, func(b builder) {
		b.org("o1", "Org", t0)
		b.integration(newIntegration("i1", "one", "o1"))
		for n := 1; n <= 4; n++ {
			b.must(b.tx.CreateEvent(event(fmt.Sprintf("c%d", n), "i1", "", at(n))))
		}
	})
	claimed, proceed := make(chan string, 1), make(chan struct{})
	var runs int
	var first, rest []*integrations.Event
	done := make(chan error, 1)
	go func() {
		done <- s.UpdateLeases(t.Context(), func(tx integrations.Tx) (err error) {
			runs++
			if first, err = tx.ClaimEvents("a", 1, at(10), at(100)); err != nil {
				return err
			}
			if runs == 1 {
				claimed <- eventIDs(first)
				<-proceed
			}
			rest, err = tx.ClaimEvents("a", 10, at(10), at(100))
			return err
		})
	}()
	select {
	case ids := <-claimed:
		if ids != "[c1]" {
			t.Errorf("the first claim took %s, want [c1]", ids)
		}
	case err := <-done:
		t.Fatalf("the first claim ended early: %v", err)
	}
	var second []*integrations.Event
	err := s.UpdateLeases(t.Context(), func(tx integrations.Tx) (err error) {
		if second, err = tx.ClaimEvents("b", 1, at(10), at(100)); err != nil || len(second) != 1 {
			return err
		}
		settled := *second[0]
		settled.Status, settled.Attempts = integrations.EventSuccess, 1
		_, err = tx.RecordAttempt(&settled, &integrations.EventAttempt{EventID: settled.ID, Attempt: 1, At: at(10)}, "b")
		return err
	})
	close(proceed)
	if err != nil {
		t.Fatalf("the second claim: %v", err)
	}
	if got := eventIDs(second); got != "[c2]" {
		t.Errorf("the second claim took %s, want [c2]: the event the first holds is skipped", got)
	}
	if err := <-done; err != nil {
		t.Fatalf("the first claim: %v", err)
	}
	if runs != 1 {
		t.Errorf("the first claim's transaction ran %d times, want once", runs)
	}
	if got := eventIDs(rest); got != "[c3 c4]" {
		t.Errorf("the first claim's second look took %s, want [c3 c4]", got)
	}
}

func testDelivery(t *testing.T, s integrations.Store) {
	build(t, s, func(b builder) {
		b.org("o1", "Org", t0)
		b.integration(newIntegration("i1", "one", "o1"))
	})
	// InitDelivery may write: it runs in write transactions.
	initDelivery := func(secret string) (d *integrations.Delivery) {
		update(t, s, func(tx integrations.Tx) (err error) {
			d, err = tx.InitDelivery("i1", secret)
			return err
		})
		return d
	}
	missing(t, s, "delivery settings before InitDelivery", func(tx integrations.Tx) (*integrations.Delivery, error) { return tx.Delivery("i1") })
	first, again := initDelivery("secret-1"), initDelivery("secret-2")
	sameJSON(t, "Delivery after InitDelivery", get(t, s, func(tx integrations.Tx) (*integrations.Delivery, error) { return tx.Delivery("i1") }), first)
	if first.SigningSecret != "secret-1" || again.SigningSecret != "secret-1" || first.Format != integrations.FormatRuntime {
		t.Errorf("InitDelivery: %+v then %+v", first, again)
	}
	d := &integrations.Delivery{IntegrationID: "i1", TunnelURL: "http://t", TunnelAll: true, URL: "http://u", Format: integrations.FormatWebhook, SigningSecret: "secret-1"}
	update(t, s, func(tx integrations.Tx) error { return tx.UpdateDelivery(d) })
	sameJSON(t, "delivery", initDelivery("x"), d)
	failsWith(t, s, integrations.ENOTFOUND, func(tx integrations.Tx) error {
		return tx.UpdateDelivery(&integrations.Delivery{IntegrationID: "nope", Format: integrations.FormatRuntime})
	})

	// Expired temporary tokens go; the others stay.
	build(t, s, func(b builder) {
		b.token("forever", integrations.Token{Kind: integrations.TokenIntegration, IntegrationID: "i1"})
		b.token("old", integrations.Token{Kind: integrations.TokenIntegration, IntegrationID: "i1", ExpiresAt: at(10)})
		b.token("fresh", integrations.Token{Kind: integrations.TokenIntegration, IntegrationID: "i1", ExpiresAt: at(30)})
	})
	var n int
	update(t, s, func(tx integrations.Tx) (err error) {
		n, err = tx.DeleteExpiredTokens(at(20))
		return err
	})
	if n != 1 {
		t.Errorf("deleted %d tokens, want 1", n)
	}
	missing(t, s, "expired token", func(tx integrations.Tx) (*integrations.Token, error) { return tx.Token(integrations.HashToken("old")) })
	for _, secret := range []string{"forever", "fresh"} {
		get(t, s, func(tx integrations.Tx) (*integrations.Token, error) { return tx.Token(integrations.HashToken(secret)) })
	}
}

func testVersion(t *testing.T, s integrations.Store) {
	version := func() string {
		v, err := s.Version(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// On PostgreSQL the version also moves with what other databases of
	// the server commit, such as the tests of other packages: a read must
	// leave it unchanged at least once in a few tries.
	var v1, v string
	for range 20 {
		v1 = version()
		view(t, s, func(tx integrations.Tx) error { _, err := tx.Setting("x"); return err })
		if v = version(); v == v1 {
			break
		}
	}
	if v != v1 {
		t.Errorf("every read changed the version, e.g. %s then %s", v1, v)
	}
	update(t, s, func(tx integrations.Tx) error { _, err := tx.InitSetting("x", "1"); return err })
	v2 := version()
	if v2 == v1 {
		t.Errorf("a commit left the version at %s", v1)
	}
	// A rolled back write may change the version or not: caches only
	// recompute for nothing. The contract is that commits change it, from
	// any connection.
	update(t, s, func(tx integrations.Tx) error { _, err := tx.InitSetting("y", "1"); return err })
	if v := version(); v == v2 {
		t.Errorf("a second commit left the version at %s", v2)
	}
}
