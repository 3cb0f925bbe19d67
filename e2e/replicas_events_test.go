package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"integrations/internal/storetest"
)

// TestReplicasDeliverEachEventOnce runs two servers on one PostgreSQL
// database, both delivering events, fires a burst of changes through both,
// and checks that each event reaches the receiver exactly once, after one
// attempt, and that both servers delivered some. It needs
// INTEGRATIONS_TEST_POSTGRES.
func TestReplicasDeliverEachEventOnce(t *testing.T) {
	t.Parallel()
	database := storetest.PostgresURL(t)
	// The receiver answers no delivery until both servers have sent one: a
	// server only takes events for its free workers, so while its workers
	// wait the other takes the next events, and both deliver some whatever
	// the timing. The hold is bounded, well within the attempt timeout,
	// which an answer held that long must not reach (a timed-out attempt is
	// sent again).
	rcv := newHoldingReceiver(t, 2, 3*time.Second)
	// The default lease: this is normal operation, nobody crashes.
	flags := Flags(database, "--admin-token", adminToken, "--delivery-timeout", "10s", "--delivery-backoff", "100ms", "--rate-limit", "-1")
	a := Start(t, bin, flags)
	b := Start(t, bin, flags)

	const name = "replica-events"
	user, token, spaces := setupBurst(t, a, name, rcv.URL, "runtime", 4)
	before := len(listEvents(t, a, user, name)) // of the installation
	changes := &burst{answered: map[string]int{}}
	changes.run(t, []string{a.URL, b.URL}, name, user, token, spaces, 50)
	if changes.failed.Load() != 0 || t.Failed() {
		t.Fatalf("%d requests of the burst got no answer", changes.failed.Load())
	}

	var events []apiEvent
	waitUntil(t, func() string { return fmt.Sprintf("not every one of %d events delivered", len(events)) }, func() bool {
		events = listEvents(t, b, user, name)
		for _, e := range events {
			if e.Status != "success" {
				return false
			}
		}
		return true
	})
	if want := before + int(changes.ok.Load()); len(events) != want {
		t.Errorf("%d events listed, want %d", len(events), want)
	}
	received, _ := rcv.snapshot()
	if len(received) != len(events) {
		t.Errorf("the receiver got %d distinct events, want %d", len(received), len(events))
	}
	for _, e := range events {
		if n := received[e.ID]; n != 1 {
			t.Errorf("event %s (%s) reached the receiver %d times, want once", e.ID, e.Payload.Type, n)
		}
		trace := getEvent(t, []*Server{a, b}[len(e.ID)%2], user, name, e.ID)
		if lines, pending := trace.attempts(); len(lines) != 1 || pending {
			t.Errorf("event %s: trace %v, want exactly one attempt", e.ID, lines)
		}
	}

	// Each replica logs every attempt it makes: together, one per event. The
	// servers write their logs out every 100 ms: wait for the last lines.
	count := func() []int {
		return []int{strings.Count(a.Stderr(), `"msg":"event delivery"`), strings.Count(b.Stderr(), `"msg":"event delivery"`)}
	}
	deliveries := count()
	for deadline := time.Now().Add(5 * time.Second); deliveries[0]+deliveries[1] < len(events) && time.Now().Before(deadline); deliveries = count() {
		time.Sleep(20 * time.Millisecond)
	}
	if deliveries[0]+deliveries[1] != len(events) {
		t.Errorf("the replicas logged %v attempts, %d in all, want %d", deliveries, deliveries[0]+deliveries[1], len(events))
	}
	// Both delivered: each environment names the server that sent it.
	by := rcv.deliveriesBy()
	if by[a.URL] == 0 || by[b.URL] == 0 || by[a.URL]+by[b.URL] != len(events) || by[a.URL] != deliveries[0] {
		t.Errorf("deliveries by server %v, logged %v: want both servers to deliver, %d in all", by, deliveries, len(events))
	}
	t.Logf("%d events; attempts by replica: %v; %d answers 409 sent again", len(events), deliveries, changes.conflicts.Load())
	a.Stop(t)
	b.Stop(t)
}
