package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"integrations"
	"integrations/internal/storetest"
	"integrations/postgres"
	"integrations/sqlstore"
)

// The presence's durations in these tests: a tick of 10 ms, a lease of
// 100 ms; the read window of a second is far longer than the steps.
const (
	testTick   = 10 * time.Millisecond
	testLease  = 100 * time.Millisecond
	testWindow = time.Second
)

// openPresent opens a store on url with the test's presence durations.
func openPresent(t *testing.T, url string) (*sqlstore.DB, *postgres.Presence) {
	t.Helper()
	s, p, err := postgres.OpenWithPresence(t.Context(), url, storetest.TestOptions, testWindow, testTick, testLease)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, p
}

// waitFor waits until cond holds, or fails the test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(end) {
			t.Fatalf("still not %s after 10s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func shares(p *postgres.Presence) bool {
	_, ok := p.Shares()
	return ok
}

// createUser writes through Update and returns how long it took.
func createUser(t *testing.T, s *sqlstore.DB, id string) time.Duration {
	t.Helper()
	began := time.Now()
	err := s.Update(t.Context(), func(tx integrations.Tx) error {
		return tx.CreateUser(&integrations.User{ID: id, DisplayName: id, CreatedAt: tx.Now()})
	})
	if err != nil {
		t.Fatal(err)
	}
	return time.Since(began)
}

// TestAloneWritesDoNotWait checks that a process alone on its database
// returns its writes without waiting the read window, and still never
// serves a reading older than a write that returned.
func TestAloneWritesDoNotWait(t *testing.T) {
	url := storetest.PostgresSchemaURL(t)
	a, pa := openPresent(t, url)
	waitFor(t, "alone", pa.Alone)
	for n := range 5 {
		before, err := a.Version(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if took := createUser(t, a, fmt.Sprint("u", n)); took >= testWindow {
			t.Errorf("a write of a process alone took %v, the read window", took)
		}
		if after, _ := a.Version(t.Context()); after == before {
			t.Fatalf("after a write returned, the version read before it: %s", after)
		}
	}
}

// TestNewcomerEndsAloneness checks that a process that opens the database
// makes the one alone on it wait the read window again before it shares a
// reading, so that neither serves a reading older than a write of the
// other that returned.
func TestNewcomerEndsAloneness(t *testing.T) {
	url := storetest.PostgresSchemaURL(t)
	a, pa := openPresent(t, url)
	waitFor(t, "alone", pa.Alone)
	b, pb := openPresent(t, url)
	waitFor(t, "sharing its readings", func() bool { return shares(pb) })
	if pa.Alone() || pb.Alone() {
		t.Fatalf("with two processes on the database, alone: a %v, b %v", pa.Alone(), pb.Alone())
	}
	for n, w := range []struct {
		name         string
		write, other *sqlstore.DB
	}{{"a", a, b}, {"b", b, a}} {
		before, err := w.other.Version(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if took := createUser(t, w.write, fmt.Sprint("u", n)); took < testWindow+testWindow/10 {
			t.Errorf("a write through %s returned after %v, within the read window", w.name, took)
		}
		if after, _ := w.other.Version(t.Context()); after == before {
			t.Errorf("after a write through %s returned, the other gives the version read before it", w.name)
		}
	}
}

// TestLostPresence checks that a process whose presence connection ends
// stops sharing its readings, takes its place again, and that the other
// process is not alone meanwhile for longer than it took.
func TestLostPresence(t *testing.T) {
	url := storetest.PostgresSchemaURL(t)
	_, pa := openPresent(t, url)
	_, pb := openPresent(t, url)
	waitFor(t, "sharing its readings", func() bool { return shares(pa) && shares(pb) })
	raw, err := postgres.OpenDB(url, storetest.TestOptions)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	pid := pb.PID()
	if _, err := raw.ExecContext(t.Context(), `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "sharing no more", func() bool { return !shares(pb) })
	waitFor(t, "back", func() bool { return shares(pb) })
	if pb.PID() == pid {
		t.Errorf("b shares again on the connection that ended (backend %d)", pid)
	}
	if pa.Alone() {
		t.Error("a is alone while b is back")
	}
}

// TestClosedStoreLetsTheOtherBeAlone checks that a process that closes its
// store lets its place go: the other becomes alone.
func TestClosedStoreLetsTheOtherBeAlone(t *testing.T) {
	url := storetest.PostgresSchemaURL(t)
	_, pa := openPresent(t, url)
	b, pb := openPresent(t, url)
	waitFor(t, "sharing its readings", func() bool { return shares(pa) && shares(pb) })
	if pa.Alone() {
		t.Fatal("a is alone with b on the database")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	b.Close()
	for !pa.Alone() {
		if ctx.Err() != nil {
			t.Fatal("a is still not alone 10s after b closed")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestAloneWritesOutsideTheCacheKeepTheGeneration checks, through a proxy
// that counts the round trips, that in a process alone on its database a
// write that leaves the tables of the reference cache alone (an enable)
// lets the next request take the generation, which an authentication
// needs, from a reading before it, without a query; the version it reads
// anew. A write to those tables makes the next request read the generation
// anew.
func TestAloneWritesOutsideTheCacheKeepTheGeneration(t *testing.T) {
	url := storetest.PostgresSchemaURL(t)
	storetest.PostgresAt(t, url).Close() // migrates
	proxy := newFlightCounter(t, url)
	s, p, err := postgres.OpenWithPresenceBeside(t.Context(), proxy.url, url, storetest.TestOptions, testWindow, testTick, testLease)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	spacesWorld(t, s, 2)
	waitFor(t, "alone", p.Alone)
	// read reads and checks whether it queried: a query may take two
	// round trips, where it is prepared on its connection first.
	read := func(what string, get func() error, wantQuery bool) {
		t.Helper()
		before := proxy.flights()
		if err := get(); err != nil {
			t.Fatal(err)
		}
		if trips := proxy.flights() - before; (trips > 0) != wantQuery {
			t.Errorf("%s took %d round trips; a query: %v, want %v", what, trips, trips > 0, wantQuery)
		}
	}
	var gen int64
	var version string
	generation := func() (err error) { gen, err = s.Generation(t.Context()); return err }
	readVersion := func() (err error) { version, err = s.Version(t.Context()); return err }
	read("the first reading of the version", readVersion, true)
	first, firstVersion := gen, version

	err = s.Update(t.Context(), func(tx integrations.Tx) error {
		_, err := enable(tx, "s0", "enable-1")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	read("the generation after an enable", generation, false)
	read("the version after an enable", readVersion, true)
	if version == firstVersion {
		t.Errorf("after an enable returned, the version read before it: %s", version)
	}
	first = gen

	createUser(t, s, "bob")
	read("the generation after a new user", generation, true)
	if gen == first {
		t.Errorf("after a new user, the generation read before it: %d", gen)
	}
}
