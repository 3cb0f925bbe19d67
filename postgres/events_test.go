package postgres_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"integrations"
	"integrations/internal/storetest"
)

// The foreign keys from events to their integration (migration 0009) and
// from space installations to their installation and their space (0010)
// are gone: the store checks those rows in the transaction's snapshot, and
// serializable transactions keep a deletion from leaving rows behind that a
// concurrent transaction adds. The tests below race writers on one replica
// with a deletion on another, and look for what stayed behind. Each writer
// writes until it is refused (ENOTFOUND), or has written max times: a
// deletion that meets a write which commits first runs again, and under a
// stream of writes without a pause it may not find a moment to commit (see
// the README's Concurrent writes).

// deletionRace runs rounds of a race: setup makes what a round deletes, then
// concurrent writers call write(writer, n) on writers (a store), each until
// it is refused or has written max times, while del deletes on deleter once
// each writer wrote once; left then returns what stayed behind, if
// anything.
type deletionRace struct {
	rounds, concurrent, max int
	setup                   func(tx integrations.Tx, round int) error
	warm                    func(tx integrations.Tx, round int) error // on writers, after setup: nil, or fills their cache
	write                   func(s integrations.Store, round, writer, n int) error
	del                     func(tx integrations.Tx, round int) error
	left                    func(tx integrations.Tx, round int) (string, error)
}

func (r deletionRace) run(t *testing.T, writers, deleter integrations.Store) {
	t.Helper()
	var written, refused atomic.Int64
	for round := range r.rounds {
		if err := deleter.Update(t.Context(), func(tx integrations.Tx) error { return r.setup(tx, round) }); err != nil {
			t.Fatal(err)
		}
		if r.warm != nil {
			if err := writers.View(t.Context(), func(tx integrations.Tx) error { return r.warm(tx, round) }); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		var stop atomic.Bool     // the deletion failed: the writers stop
		var first sync.WaitGroup // each writer wrote once before the deletion
		first.Add(r.concurrent)
		for w := range r.concurrent {
			wg.Go(func() {
				for n := 0; n < r.max && !stop.Load(); n++ {
					err := r.write(writers, round, w, n)
					if n == 0 {
						first.Done()
					}
					switch {
					case err == nil:
						written.Add(1)
					case integrations.ErrorCode(err) == integrations.ENOTFOUND:
						refused.Add(1)
						return
					default:
						t.Errorf("round %d, writer %d: %v", round, w, err)
						return
					}
				}
			})
		}
		first.Wait()
		err := deleter.Update(t.Context(), func(tx integrations.Tx) error { return r.del(tx, round) })
		stop.Store(err != nil)
		wg.Wait()
		if err != nil {
			t.Fatalf("round %d: the deletion: %v", round, err)
		}
		var left string
		if err := deleter.View(t.Context(), func(tx integrations.Tx) (err error) { left, err = r.left(tx, round); return err }); err != nil {
			t.Fatal(err)
		}
		if left != "" {
			t.Errorf("round %d: %s stayed behind the deletion", round, left)
		}
	}
	// The writers met the deletion: some were refused, after it.
	if want := int64(r.rounds * r.concurrent); refused.Load() == 0 || written.Load() < want {
		t.Errorf("%d writes, %d refused; want at least %d, and some refused", written.Load(), refused.Load(), want)
	}
	t.Logf("%d writes, %d refused of %d writers", written.Load(), refused.Load(), r.rounds*r.concurrent)
}

// twoReplicas opens two stores on one database, with RefWorld.
func twoReplicas(t *testing.T) (integrations.Store, integrations.Store) {
	url := storetest.PostgresSchemaURL(t)
	a, b := storetest.PostgresAt(t, url), storetest.PostgresAt(t, url)
	storetest.RefWorld(t, a)
	return a, b
}

func testIntegration(tx integrations.Tx, id string) *integrations.Integration {
	return &integrations.Integration{ID: id, Name: id, OrganizationID: "acme", Version: 1, Runtime: "v1", Title: id,
		Visibility: "public", Target: "all", Scopes: []string{}, Categories: []string{}, CreatedAt: tx.Now(), UpdatedAt: tx.Now()}
}

func testInstallation(tx integrations.Tx, id, integrationID string) *integrations.Installation {
	return &integrations.Installation{ID: id, IntegrationID: integrationID, OrganizationID: "acme", Status: integrations.StatusActive,
		SpaceSelection: "selected", SiteSelection: "selected", Configuration: json.RawMessage(`{}`), ExternalIDs: []string{},
		CreatedAt: tx.Now(), UpdatedAt: tx.Now()}
}

func testSpace(tx integrations.Tx, id string) *integrations.Space {
	return &integrations.Space{ID: id, OrganizationID: "acme", Title: id, Visibility: "private", DefaultLevel: "inherit",
		CreatedAt: tx.Now(), UpdatedAt: tx.Now()}
}

// TestEventsOfADeletedIntegration: writers create events of an integration,
// each in a write transaction that takes the integration from the reference
// cache and writes nothing else (as a queued task does), while it is
// deleted. Events created before the deletion go with the integration.
func TestEventsOfADeletedIntegration(t *testing.T) {
	writers, deleter := twoReplicas(t)
	doomed := func(round int) string { return fmt.Sprintf("doomed%d", round) }
	deletionRace{
		rounds: 6, concurrent: 8, max: 256,
		setup: func(tx integrations.Tx, round int) error {
			return tx.CreateIntegration(testIntegration(tx, doomed(round)))
		},
		write: func(s integrations.Store, round, w, n int) error {
			time.Sleep(time.Millisecond) // see TestSpaceInstallationsOfDeletedRows
			return s.Update(t.Context(), func(tx integrations.Tx) error {
				return tx.CreateEvent(&integrations.Event{ID: fmt.Sprintf("%s-%d-%d", doomed(round), w, n), IntegrationID: doomed(round),
					OrganizationID: "acme", Type: integrations.EventTask, Payload: json.RawMessage(`{}`), Status: integrations.EventPending,
					NextAttemptAt: tx.Now().Add(time.Hour), CreatedAt: tx.Now(), UpdatedAt: tx.Now()})
			})
		},
		del: func(tx integrations.Tx, round int) error { _, err := tx.DeleteIntegration(doomed(round)); return err },
		left: func(tx integrations.Tx, round int) (string, error) {
			events, count, err := tx.Events(integrations.EventFilter{IntegrationID: doomed(round)}, integrations.Page{Limit: 1})
			if err != nil || count == 0 {
				return "", err
			}
			return fmt.Sprintf("%d events, e.g. %s,", count, events[0].ID), nil
		},
	}.run(t, writers, deleter)
}

// TestSpaceInstallationsOfDeletedRows: writers enable an installation on
// spaces, or installations on a space, one after the other, each in a write
// transaction, while the installation, its integration or the space is
// deleted. What the writers enabled before the deletion goes with what it
// deleted. (Each enable makes a space installation of its own: a writer
// that disabled them again would delete what a deletion left behind.)
func TestSpaceInstallationsOfDeletedRows(t *testing.T) {
	const concurrent, pool = 4, 256 // pool: the enables a writer may make
	integration := func(round, k int) string { return fmt.Sprintf("int-%d-%d", round, k) }
	installation := func(round, k int) string { return fmt.Sprintf("inst-%d-%d", round, k) }
	space := func(round, k int) string { return fmt.Sprintf("space-%d-%d", round, k) }
	for _, tt := range []struct {
		name string
		del  func(tx integrations.Tx, round int) error
	}{
		// Installation 0, its integration or space 0 is deleted, which
		// every enable names: with space 1 + n of the writer's pool, or
		// installation 1 + n.
		{"installation", func(tx integrations.Tx, round int) error {
			_, err := tx.DeleteInstallation(installation(round, 0))
			return err
		}},
		{"integration", func(tx integrations.Tx, round int) error {
			_, err := tx.DeleteIntegration(integration(round, 0))
			return err
		}},
		{"space", func(tx integrations.Tx, round int) error { _, err := tx.DeleteSpace(space(round, 0)); return err }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			writers, deleter := twoReplicas(t)
			// The n-th enable of writer w.
			pair := func(round, w, n int) (string, string) {
				k := 1 + w*pool + n
				if tt.name == "space" {
					return installation(round, k), space(round, 0)
				}
				return installation(round, 0), space(round, k)
			}
			deletionRace{
				rounds: 4, concurrent: concurrent, max: pool,
				setup: func(tx integrations.Tx, round int) error {
					for k := range 1 + concurrent*pool {
						if k > 0 && tt.name != "space" {
							if err := tx.CreateSpace(testSpace(tx, space(round, k))); err != nil {
								return err
							}
							continue
						}
						for _, err := range []error{
							tx.CreateIntegration(testIntegration(tx, integration(round, k))),
							tx.CreateInstallation(testInstallation(tx, installation(round, k), integration(round, k))),
						} {
							if err != nil {
								return err
							}
						}
						if k == 0 {
							if err := tx.CreateSpace(testSpace(tx, space(round, 0))); err != nil {
								return err
							}
						}
					}
					return nil
				},
				// The writers' lookups come from the cache, as after the
				// service's own.
				warm: func(tx integrations.Tx, round int) error {
					for w := range concurrent {
						for n := range pool {
							inst, sp := pair(round, w, n)
							if _, err := tx.Installation(inst); err != nil {
								return err
							}
							if _, err := tx.Space(sp); err != nil {
								return err
							}
						}
					}
					return nil
				},
				write: func(s integrations.Store, round, w, n int) error {
					// A writer at full speed keeps the deletion running
					// again (each two that conflict cancel one, and the
					// deletion waits longer each time): a pause.
					time.Sleep(time.Millisecond)
					inst, sp := pair(round, w, n)
					return s.Update(t.Context(), func(tx integrations.Tx) error {
						_, err := tx.AddSpaceInstallation(&integrations.SpaceInstallation{InstallationID: inst, SpaceID: sp, Status: integrations.StatusActive,
							Configuration: json.RawMessage(`{}`), ExternalIDs: []string{}, CreatedAt: tx.Now(), UpdatedAt: tx.Now()})
						return err
					})
				},
				del: tt.del,
				left: func(tx integrations.Tx, round int) (string, error) {
					f := integrations.SpaceInstallationFilter{InstallationID: installation(round, 0)}
					if tt.name == "space" {
						f = integrations.SpaceInstallationFilter{SpaceID: space(round, 0)}
					}
					list, count, err := tx.SpaceInstallations(f, integrations.Page{Limit: 1})
					if err != nil || count == 0 {
						return "", err
					}
					return fmt.Sprintf("%d space installations, e.g. of %s on %s,", count, list[0].InstallationID, list[0].SpaceID), nil
				},
			}.run(t, writers, deleter)
		})
	}
}
