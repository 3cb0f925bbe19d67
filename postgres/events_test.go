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

// TestEventsOfADeletedIntegration checks what the foreign key from events to
// their integration did before migration 0009 dropped it: an event created
// while its integration is deleted, by another replica, never stays behind.
// Writers on one replica create events of an integration, each in a write
// transaction of its own that takes the integration from the reference
// cache and writes nothing else (as a queued task does), until the
// integration is gone; the other replica deletes it meanwhile. Then no event
// of it may be left. Events created before the deletion are deleted with the
// integration.
func TestEventsOfADeletedIntegration(t *testing.T) {
	url := storetest.PostgresSchemaURL(t)
	writers, deleter := storetest.PostgresAt(t, url), storetest.PostgresAt(t, url)
	storetest.RefWorld(t, writers)
	const rounds, concurrent = 6, 8
	var created, refused atomic.Int64
	for round := range rounds {
		id := fmt.Sprintf("doomed%d", round)
		err := deleter.Update(t.Context(), func(tx integrations.Tx) error {
			return tx.CreateIntegration(&integrations.Integration{ID: id, Name: id, OrganizationID: "acme", Version: 1, Runtime: "v1", Title: id,
				Visibility: "public", Target: "all", Scopes: []string{}, Categories: []string{}, CreatedAt: tx.Now(), UpdatedAt: tx.Now()})
		})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var first sync.WaitGroup // each writer created one event before the deletion
		first.Add(concurrent)
		for w := range concurrent {
			wg.Go(func() {
				for n := 0; ; n++ {
					err := writers.Update(t.Context(), func(tx integrations.Tx) error {
						return tx.CreateEvent(&integrations.Event{ID: fmt.Sprintf("%s-%d-%d", id, w, n), IntegrationID: id, OrganizationID: "acme",
							Type: integrations.EventTask, Payload: json.RawMessage(`{}`), Status: integrations.EventPending,
							NextAttemptAt: tx.Now().Add(time.Hour), CreatedAt: tx.Now(), UpdatedAt: tx.Now()})
					})
					if n == 0 {
						first.Done()
					}
					switch {
					case err == nil:
						created.Add(1)
					case integrations.ErrorCode(err) == integrations.ENOTFOUND:
						refused.Add(1)
						return
					default:
						t.Errorf("an event of %s: %v", id, err)
						return
					}
				}
			})
		}
		first.Wait()
		if err := deleter.Update(t.Context(), func(tx integrations.Tx) error {
			_, err := tx.DeleteIntegration(id)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		err = deleter.View(t.Context(), func(tx integrations.Tx) error {
			left, count, err := tx.Events(integrations.EventFilter{IntegrationID: id}, integrations.Page{Limit: 10})
			if err == nil && (count != 0 || len(left) != 0) {
				t.Errorf("round %d: %d events of the deleted integration stayed behind, e.g. %s", round, count, left[0].ID)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Every writer kept writing until it was refused: the writes met the
	// deletion in each round.
	if refused.Load() != rounds*concurrent || created.Load() < rounds*concurrent {
		t.Errorf("%d events created, %d refused; want at least %d and exactly %d", created.Load(), refused.Load(), rounds*concurrent, rounds*concurrent)
	}
	t.Logf("%d events created, %d refused", created.Load(), refused.Load())
}
