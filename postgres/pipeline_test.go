package postgres_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"integrations"
	"integrations/internal/storetest"
	"integrations/postgres"
)

// spacesWorld is RefWorld with n more spaces, s0 to s(n-1), and a failed
// event of each of them, e0 to e(n-1).
func spacesWorld(t *testing.T, s integrations.Store, n int) {
	t.Helper()
	storetest.RefWorld(t, s)
	err := s.Update(t.Context(), func(tx integrations.Tx) error {
		for k := range n {
			now := tx.Now()
			if err := tx.CreateSpace(&integrations.Space{ID: fmt.Sprintf("s%d", k), OrganizationID: "acme", Title: "S", Visibility: "private",
				DefaultLevel: "inherit", CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
			if err := tx.CreateEvent(setupEvent(tx, fmt.Sprintf("e%d", k), "int1", fmt.Sprintf("s%d", k))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// setupEvent is the event of an enable, failed as it was created.
func setupEvent(tx integrations.Tx, id, integrationID, spaceID string) *integrations.Event {
	return &integrations.Event{ID: id, IntegrationID: integrationID, InstallationID: "inst1", SpaceID: spaceID, OrganizationID: "acme",
		Type: integrations.EventSpaceInstallationSetup, Payload: json.RawMessage(`{}`), Status: integrations.EventFailed, Attempts: 1,
		NextAttemptAt: tx.Now(), CreatedAt: tx.Now(), UpdatedAt: tx.Now()}
}

// spaceInstallation is a new space installation of inst1 on a space.
func spaceInstallation(tx integrations.Tx, spaceID string, status integrations.Status) *integrations.SpaceInstallation {
	return &integrations.SpaceInstallation{InstallationID: "inst1", SpaceID: spaceID, Status: status,
		Configuration: json.RawMessage(`{}`), ExternalIDs: []string{}, CreatedAt: tx.Now(), UpdatedAt: tx.Now()}
}

// enable adds the space installation of inst1 on a space and, when it
// created it, its event with the given id; it reports whether it did.
func enable(tx integrations.Tx, spaceID, eventID string) (bool, error) {
	created, err := tx.AddSpaceInstallation(spaceInstallation(tx, spaceID, integrations.StatusActive))
	if err != nil || !created {
		return false, err
	}
	e := setupEvent(tx, eventID, "int1", spaceID)
	return true, tx.CreateEvent(e, &integrations.EventAttempt{EventID: e.ID, Attempt: 1, At: tx.Now(), Error: "not delivered"})
}

// TestPipelinedWritesBehaveAsAlone sends write transactions at once, as
// concurrent requests do: on PostgreSQL they join shared batches at their
// first statement. Each case sends one transaction that does something a
// batch cannot keep, among others that enable an integration on a space:
// each must behave as if it ran alone, and so must the others.
func TestPipelinedWritesBehaveAsAlone(t *testing.T) {
	s := storetest.Postgres(t)
	const others = 15
	spacesWorld(t, s, 1+others)
	errFail := errors.New("changed its mind")
	// state is what a transaction on space s<k> leaves.
	type state struct {
		status string // of the space installation; "" when there is none
		event  bool   // whether the event new<k> exists
		retry  string // the status of the event e<k>
	}
	// Each case's transactions name their events after it.
	var prefix string
	eventOf := func(k int) string { return fmt.Sprintf("%snew%d", prefix, k) }
	stateOf := func(k int) (st state) {
		t.Helper()
		err := s.View(t.Context(), func(tx integrations.Tx) error {
			si, err := tx.SpaceInstallation("inst1", fmt.Sprintf("s%d", k))
			switch {
			case err == nil:
				st.status = string(si.Status)
			case integrations.ErrorCode(err) != integrations.ENOTFOUND:
				return err
			}
			_, err = tx.Event(eventOf(k))
			switch {
			case err == nil:
				st.event = true
			case integrations.ErrorCode(err) != integrations.ENOTFOUND:
				return err
			}
			e, err := tx.Event(fmt.Sprintf("e%d", k))
			if err != nil {
				return err
			}
			st.retry = string(e.Status)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	// reset removes what the transactions left on the spaces.
	reset := func() {
		t.Helper()
		err := s.Update(t.Context(), func(tx integrations.Tx) error {
			for k := range 1 + others {
				if _, err := tx.DeleteSpaceInstallation("inst1", fmt.Sprintf("s%d", k)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var created0 bool // by the case that races for a space installation
	for n, tt := range []struct {
		name string
		// fn is the transaction on space s0, which may create event new0.
		fn       func(tx integrations.Tx, event string) error
		wantErr  error
		wantCode string
		panics   bool
		want     state
	}{
		{name: "fails after it wrote", fn: func(tx integrations.Tx, event string) error {
			if _, err := enable(tx, "s0", event); err != nil {
				return err
			}
			return errFail
		}, wantErr: errFail, want: state{retry: "failed"}},
		{name: "panics after it wrote", fn: func(tx integrations.Tx, event string) error {
			if _, err := enable(tx, "s0", event); err != nil {
				return err
			}
			panic("panic 0")
		}, panics: true, want: state{retry: "failed"}},
		{name: "writes twice", fn: func(tx integrations.Tx, event string) error {
			if _, err := enable(tx, "s0", event); err != nil {
				return err
			}
			return tx.UpdateSpaceInstallation(&integrations.SpaceInstallation{InstallationID: "inst1", SpaceID: "s0",
				Status: integrations.StatusPaused, Configuration: json.RawMessage(`{}`), ExternalIDs: []string{}, UpdatedAt: tx.Now()})
		}, want: state{status: "paused", event: true, retry: "failed"}},
		{name: "swallows the error of its second statement", fn: func(tx integrations.Tx, event string) error {
			if _, err := tx.AddSpaceInstallation(spaceInstallation(tx, "s0", integrations.StatusActive)); err != nil {
				return err
			}
			// A function that goes on after an error of the store's must
			// still run again alone (as one must after a serialization
			// failure), the error it ignored being the batch's.
			tx.UpdateSpaceInstallation(&integrations.SpaceInstallation{InstallationID: "inst1", SpaceID: "s0",
				Status: integrations.StatusPaused, Configuration: json.RawMessage(`{}`), ExternalIDs: []string{}, UpdatedAt: tx.Now()})
			return nil
		}, want: state{status: "paused", retry: "failed"}},
		{name: "holds back a write that fails", fn: func(tx integrations.Tx, event string) error {
			_, err := enable(tx, "s0", "e1") // an event that exists
			return err
		}, wantCode: integrations.ECONFLICT, want: state{retry: "failed"}},
		{name: "refers to an unknown integration", fn: func(tx integrations.Tx, event string) error {
			return tx.CreateEvent(setupEvent(tx, event, "nope", "s0"))
		}, wantCode: integrations.ENOTFOUND, want: state{retry: "failed"}},
		{name: "races for a space installation", fn: func(tx integrations.Tx, event string) (err error) {
			// Transaction 1 enables on s0 as well: one of the two
			// creates the space installation and its event, the other
			// finds it there.
			created0, err = enable(tx, "s0", event)
			return err
		}},
		{name: "writes the events that others hold back", fn: func(tx integrations.Tx, event string) error {
			// e0 stays pending: the cases above are not run again.
			return tx.RetryEvent("e0", tx.Now())
		}, want: state{retry: "pending"}},
	} {
		race := tt.name == "races for a space installation"
		// Three times each: the transaction that comes to an idle pipeline
		// runs alone, and each should run at least once in a batch.
		for round := range 3 {
			t.Run(tt.name, func(t *testing.T) {
				prefix = fmt.Sprintf("case%d-%d-", n, round)
				defer reset()
				var wg sync.WaitGroup
				start := make(chan struct{})
				var err error
				var panicked any
				wg.Go(func() {
					defer func() { panicked = recover() }()
					<-start
					err = s.Update(t.Context(), func(tx integrations.Tx) error { return tt.fn(tx, eventOf(0)) })
				})
				errs := make([]error, 1+others)
				created := make([]bool, 1+others)
				for k := 1; k <= others; k++ {
					space, event := fmt.Sprintf("s%d", k), eventOf(k)
					if race && k == 1 {
						space = "s0"
					}
					wg.Go(func() {
						<-start
						errs[k] = s.Update(t.Context(), func(tx integrations.Tx) (err error) {
							created[k], err = enable(tx, space, event)
							return err
						})
					})
				}
				close(start)
				wg.Wait()
				switch {
				case tt.panics && panicked != "panic 0":
					t.Errorf("panicked with %v, want its own panic raised in its caller", panicked)
				case !tt.panics && panicked != nil:
					t.Errorf("panicked with %v", panicked)
				case tt.wantCode != "" && integrations.ErrorCode(err) != tt.wantCode:
					t.Errorf("error %v, want %s", err, tt.wantCode)
				case tt.wantCode == "" && !errors.Is(err, tt.wantErr):
					t.Errorf("error %v, want %v", err, tt.wantErr)
				}
				want := tt.want
				if race {
					want = state{status: "active", event: created0, retry: "failed"}
					if created0 == created[1] {
						t.Errorf("two enables of one space installation: created %v and %v, want one created", created0, created[1])
					}
				}
				if got := stateOf(0); got != want {
					t.Errorf("left %+v, want %+v", got, want)
				}
				for k := 1; k <= others; k++ {
					want := state{status: "active", event: true, retry: "failed"}
					switch {
					case race && k == 1:
						// On s0, with the event of its own if it created it.
						want = state{retry: "failed", event: created[1]}
					case !created[k]:
						t.Errorf("transaction %d did not create its space installation", k)
					}
					if errs[k] != nil {
						t.Errorf("transaction %d: %v", k, errs[k])
					}
					if got := stateOf(k); got != want {
						t.Errorf("transaction %d left %+v, want %+v", k, got, want)
					}
				}
			})
		}
	}
}

// TestPipelinedWritesShareRoundTrips sends many enables at once, each
// with its event, and counts the round trips to PostgreSQL through a proxy:
// alone, each would take two; in shared batches, the whole lot takes a few.
// Each gets its answer and its event's Seq.
func TestPipelinedWritesShareRoundTrips(t *testing.T) {
	url := storetest.PostgresURL(t)
	storetest.PostgresAt(t, url).Close() // migrates
	proxy := newFlightCounter(t, url)
	s, err := postgres.OpenBesidePresence(t.Context(), proxy.url, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 40
	spacesWorld(t, s, n)
	// Fills the reference cache with what the enables look up, as the
	// service's writes look it up before.
	warm := func(tx integrations.Tx) error {
		if _, err := tx.Installation("inst1"); err != nil {
			return err
		}
		if _, err := tx.IntegrationByID("int1"); err != nil {
			return err
		}
		for k := range n {
			if _, err := tx.Space(fmt.Sprintf("s%d", k)); err != nil {
				return err
			}
		}
		return nil
	}
	if err := s.View(t.Context(), warm); err != nil {
		t.Fatal(err)
	}
	before := proxy.flights()
	seqs := make([]int64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for k := range n {
		wg.Go(func() {
			<-start
			var e *integrations.Event
			errs[k] = s.Update(t.Context(), func(tx integrations.Tx) error {
				created, err := tx.AddSpaceInstallation(spaceInstallation(tx, fmt.Sprintf("s%d", k), integrations.StatusActive))
				if err != nil || !created {
					return fmt.Errorf("created %v, %v", created, err)
				}
				e = setupEvent(tx, fmt.Sprintf("new%d", k), "int1", fmt.Sprintf("s%d", k))
				return tx.CreateEvent(e)
			})
			seqs[k] = e.Seq // set by the commit
		})
	}
	close(start)
	wg.Wait()
	flights := proxy.flights() - before
	for k, err := range errs {
		if err != nil {
			t.Errorf("enable %d: %v", k, err)
		}
	}
	if t.Failed() {
		return
	}
	if flights >= n {
		t.Errorf("%d enables took %d round trips, want fewer than %d (two each alone)", n, flights, n)
	}
	err = s.View(t.Context(), func(tx integrations.Tx) error {
		for k := range n {
			e, err := tx.Event(fmt.Sprintf("new%d", k))
			if err != nil {
				return err
			}
			if e.Seq == 0 || e.Seq != seqs[k] {
				t.Errorf("event new%d: Seq %d in the database, %d after its commit", k, e.Seq, seqs[k])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPipelinedWriteRunsAgainWhenTheGenerationMoves is
// TestUpdateRunsAgainWhenTheGenerationMoves for a write whose first
// statement joins a batch: what it took from the cache before must be of
// the generation that the batch reads, or it runs again.
func TestPipelinedWriteRunsAgainWhenTheGenerationMoves(t *testing.T) {
	runsAgainWhenTheGenerationMoves(t, true)
}

// TestColdLookupRunsAgainWhenTheGenerationMoves is the same for a lookup
// that missed the cache and was read aside: a batch at a later generation
// does not keep the write, which runs again and reads anew.
func TestColdLookupRunsAgainWhenTheGenerationMoves(t *testing.T) {
	runsAgainWhenTheGenerationMoves(t, false)
}

// runsAgainWhenTheGenerationMoves looks up an installation in a write, its
// row in the cache first if cached, pauses the installation meanwhile in
// another, and makes a space installation as paused as the first saw its
// installation: the write must run again, and see it paused.
func runsAgainWhenTheGenerationMoves(t *testing.T, cached bool) {
	s := storetest.Postgres(t)
	storetest.RefWorld(t, s) // nothing is cached at the generation it leaves
	pause := func(tx integrations.Tx) error {
		in, err := tx.Installation("inst1")
		if err != nil {
			return err
		}
		in.Status = integrations.StatusPaused
		return tx.UpdateInstallation(in)
	}
	if cached {
		if err := s.View(t.Context(), func(tx integrations.Tx) error { _, err := tx.Installation("inst1"); return err }); err != nil {
			t.Fatal(err) // fills the cache
		}
	}
	runs := 0
	err := s.Update(t.Context(), func(tx integrations.Tx) error {
		runs++
		in, err := tx.Installation("inst1")
		if err != nil {
			return err
		}
		if runs == 1 {
			if err := s.Update(t.Context(), pause); err != nil {
				return err
			}
		}
		// A space installation as paused as its installation, as the
		// lookup says it is.
		_, err = tx.AddSpaceInstallation(spaceInstallation(tx, "handbook", in.Status))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var status integrations.Status
	if err := s.View(t.Context(), func(tx integrations.Tx) error {
		si, err := tx.SpaceInstallation("inst1", "handbook")
		if err == nil {
			status = si.Status
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if runs != 2 || status != integrations.StatusPaused {
		t.Errorf("the Update ran %d times and made the space installation %s; want twice, and paused", runs, status)
	}
}

// TestLoneWritesHoldTheirLanes checks that a write alone in its batch, which
// goes on as a transaction of its own on its lane's connection, is that
// lane's batch until it ends: with both lanes held by such writes, a third
// waits, and goes once one of them ends. (A lane that handed its connection
// over for good would serve the third at once, from another connection.)
func TestLoneWritesHoldTheirLanes(t *testing.T) {
	if postgres.Dialect.PipelineWrites != 2 {
		t.Fatalf("the test holds 2 lanes, the pipeline has %d", postgres.Dialect.PipelineWrites)
	}
	s := storetest.Postgres(t)
	spacesWorld(t, s, 3)
	// hold enables space k alone in its batch, then waits for release.
	hold := func(k int, started chan<- struct{}, release <-chan struct{}) <-chan error {
		done := make(chan error, 1)
		go func() {
			done <- s.Update(t.Context(), func(tx integrations.Tx) error {
				created, err := enable(tx, fmt.Sprintf("s%d", k), fmt.Sprintf("new%d", k))
				if err != nil || !created {
					return fmt.Errorf("created %v, %v", created, err)
				}
				started <- struct{}{}
				<-release
				return nil
			})
		}()
		return done
	}
	started := make(chan struct{}, 3)
	releases := []chan struct{}{make(chan struct{}), make(chan struct{}), make(chan struct{})}
	var released [3]sync.Once
	release := func(k int) { released[k].Do(func() { close(releases[k]) }) }
	t.Cleanup(func() { // before the store closes, whatever failed
		for k := range releases {
			release(k)
		}
	})
	release(2)
	var dones []<-chan error
	for k := range 2 {
		dones = append(dones, hold(k, started, releases[k]))
		select {
		case <-started:
		case err := <-dones[k]:
			t.Fatalf("write %d: %v", k, err)
		}
	}
	third := hold(2, started, releases[2])
	select {
	case <-started:
		t.Fatal("a third write went on while two lone writes held both lanes")
	case err := <-third:
		t.Fatalf("a third write ended while two lone writes held both lanes: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	release(0)
	if err := <-dones[0]; err != nil {
		t.Fatalf("first write: %v", err)
	}
	if err := <-third; err != nil {
		t.Fatalf("third write, once the first ended: %v", err)
	}
	release(1)
	if err := <-dones[1]; err != nil {
		t.Fatalf("second write: %v", err)
	}
	err := s.View(t.Context(), func(tx integrations.Tx) error {
		for k := range 3 {
			if _, err := tx.SpaceInstallation("inst1", fmt.Sprintf("s%d", k)); err != nil {
				return err
			}
			if _, err := tx.Event(fmt.Sprintf("new%d", k)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSmallPoolsServeConcurrentWrites runs concurrent enables, disables and
// reads on stores whose pools have one, two and three connections, besides
// the presence connection. A pipeline lane keeps its connection between
// batches, so the pipeline has fewer lanes than the pool has connections
// (none with one): with as many, the reads and the other lane would wait
// for a connection forever. A store of one connection in all, which leaves
// none to the pool, is refused.
func TestSmallPoolsServeConcurrentWrites(t *testing.T) {
	if s, err := postgres.Open(t.Context(), storetest.PostgresSchemaURL(t), postgres.Options{MaxConns: 1}); err == nil {
		s.Close()
		t.Error("a store of one connection opened; want an error: the presence connection leaves none to the pool")
	}
	for _, conns := range []int{1, 2, 3} {
		t.Run(fmt.Sprint(conns), func(t *testing.T) {
			url := storetest.PostgresSchemaURL(t)
			s, err := postgres.Open(t.Context(), url, postgres.Options{MaxConns: conns + 1})
			if err != nil {
				t.Fatal(err)
			}
			const n = 12
			spacesWorld(t, s, n)
			done := make(chan error, 3*n)
			for k := range n {
				space := fmt.Sprintf("s%d", k)
				go func() {
					err := s.Update(t.Context(), func(tx integrations.Tx) error {
						created, err := enable(tx, space, "new"+space)
						if err == nil && !created {
							err = fmt.Errorf("enable %s: not created", space)
						}
						return err
					})
					if err == nil {
						err = s.Update(t.Context(), func(tx integrations.Tx) error {
							_, err := tx.DeleteSpaceInstallation("inst1", space)
							return err
						})
					}
					done <- err
				}()
				go func() {
					_, err := s.Version(t.Context())
					done <- err
				}()
				go func() {
					done <- s.View(t.Context(), func(tx integrations.Tx) error {
						_, _, err := tx.SpaceInstallations(integrations.SpaceInstallationFilter{InstallationID: "inst1"}, integrations.Page{Limit: 100})
						return err
					})
				}()
			}
			timeout := time.After(30 * time.Second)
			for range 3 * n {
				select {
				case err := <-done:
					if err != nil {
						t.Error(err)
					}
				case <-timeout:
					// The store is left open: closing it would wait as long.
					t.Fatalf("writes and reads still waiting after 30 s on %d connections", conns)
				}
			}
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestColdLookupsJoinTheBatches checks that a write whose lookups miss the
// reference cache still joins the pipeline's batches: the lookups are read
// aside, at the write's generation, and its first statement joins a batch.
// With both lanes held by lone writes, such a write waits for a lane, as
// any other does, where one that began its own transaction with the lookup
// would go on, alone, outside the batches.
func TestColdLookupsJoinTheBatches(t *testing.T) {
	if postgres.Dialect.PipelineWrites != 2 {
		t.Fatalf("the test holds 2 lanes, the pipeline has %d", postgres.Dialect.PipelineWrites)
	}
	s := storetest.Postgres(t)
	spacesWorld(t, s, 3) // changes the cache's tables: nothing is cached at the generation it leaves
	started := make(chan struct{}, 3)
	releases := []chan struct{}{make(chan struct{}), make(chan struct{})}
	var released [2]sync.Once
	release := func(k int) { released[k].Do(func() { close(releases[k]) }) }
	t.Cleanup(func() { release(0); release(1) })
	var dones []chan error
	for k := range 2 {
		done := make(chan error, 1)
		dones = append(dones, done)
		go func() {
			done <- s.Update(t.Context(), func(tx integrations.Tx) error {
				if _, err := enable(tx, fmt.Sprintf("s%d", k), fmt.Sprintf("new%d", k)); err != nil {
					return err
				}
				started <- struct{}{}
				<-releases[k]
				return nil
			})
		}()
		select {
		case <-started:
		case err := <-done:
			t.Fatalf("write %d: %v", k, err)
		}
	}
	var looked bool
	third := make(chan error, 1)
	go func() {
		third <- s.Update(t.Context(), func(tx integrations.Tx) error {
			if _, err := tx.Space("s2"); err != nil {
				return err
			}
			if _, err := tx.Installation("inst1"); err != nil {
				return err
			}
			looked = true
			_, err := enable(tx, "s2", "new2")
			return err
		})
	}()
	select {
	case err := <-third:
		t.Fatalf("a write with cold lookups ended while two lone writes held both lanes (%v): it ran outside the batches", err)
	case <-time.After(300 * time.Millisecond):
	}
	release(0)
	if err := <-third; err != nil {
		t.Fatalf("third write, once a lane was free: %v", err)
	}
	if !looked {
		t.Error("the third write's lookups failed")
	}
	release(1)
	for k, done := range dones {
		if err := <-done; err != nil {
			t.Fatalf("write %d: %v", k, err)
		}
	}
	if err := s.View(t.Context(), func(tx integrations.Tx) error {
		_, err := tx.SpaceInstallation("inst1", "s2")
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// TestLookupsReadOnceInATransaction checks that a write that looks up the
// same row twice on a cold cache reads it once: the second lookup finds what
// the first read, which the cache gets only once the transaction commits.
// (An event's integration is looked up by the service, then by CreateEvent,
// migration 0009.) It counts the round trips of a write that looks up its
// integration once, then of one that looks it up twice, each on a cold
// cache, with no read window, so that each runs its own queries.
func TestLookupsReadOnceInATransaction(t *testing.T) {
	url := storetest.PostgresURL(t)
	storetest.PostgresAt(t, url).Close() // migrates
	proxy := newFlightCounter(t, url)
	s, err := postgres.OpenWithReadWindow(t.Context(), proxy.url, postgres.Options{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.RefWorld(t, s)
	flights := func(k, lookups int) int {
		t.Helper()
		// A change to a table of the cache: nothing is cached at the
		// generation it leaves.
		if err := s.Update(t.Context(), func(tx integrations.Tx) error {
			return tx.UpdateUser(&integrations.User{ID: "alice", DisplayName: fmt.Sprintf("Alice %d", k), Email: "alice@example.com"})
		}); err != nil {
			t.Fatal(err)
		}
		before := proxy.flights()
		if err := s.Update(t.Context(), func(tx integrations.Tx) error {
			for range lookups {
				if _, err := tx.IntegrationByID("int1"); err != nil {
					return err
				}
			}
			return tx.CreateEvent(setupEvent(tx, fmt.Sprintf("looked%d", k), "int1", "handbook"))
		}); err != nil {
			t.Fatal(err)
		}
		return proxy.flights() - before
	}
	// The fewest of a few runs each, after a first of each: a new
	// connection of the pool adds its own round trips.
	least := func(lookups int) int {
		n := math.MaxInt
		for k := range 4 {
			if f := flights(10*lookups+k, lookups); k > 0 {
				n = min(n, f)
			}
		}
		return n
	}
	once, twice := least(1), least(2)
	if twice != once {
		t.Errorf("a write that looked its integration up twice took %d round trips, once %d", twice, once)
	}
}
