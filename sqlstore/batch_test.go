package sqlstore_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"integrations"
	"integrations/internal/storetest"
	"integrations/sqlstore"
)

// TestConcurrentWritesStayApart sends many write transactions at once, as
// concurrent requests do: on SQLite they run in shared batches (group
// commit). Each must behave as if it ran alone: a transaction that fails or
// panics leaves nothing behind and harms none of the others, and one that
// runs into a unique key fails alone.
func TestConcurrentWritesStayApart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		store := open(t)
		const n = 60
		errFail := errors.New("changed its mind")
		type outcome struct {
			err      error
			panicked any
		}
		outcomes := make([]outcome, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for k := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { outcomes[k].panicked = recover() }()
				<-start
				outcomes[k].err = store.Update(t.Context(), func(tx integrations.Tx) error {
					// Users 0 and 1 share an email: one of them must fail.
					email := fmt.Sprintf("user%d@example.com", k)
					if k == 1 {
						email = "user0@example.com"
					}
					u := &integrations.User{ID: fmt.Sprintf("u%d", k), DisplayName: "U", Email: email, CreatedAt: tx.Now()}
					if err := tx.CreateUser(u); err != nil {
						return err
					}
					switch k % 10 {
					case 3:
						return errFail // after it wrote: the write must go
					case 7:
						panic(fmt.Sprintf("panic %d", k))
					}
					return nil
				})
			}()
		}
		close(start)
		wg.Wait()

		conflicts := 0
		for k, o := range outcomes {
			var want string // what must be true of user k afterwards
			switch {
			case k%10 == 3:
				if !errors.Is(o.err, errFail) {
					t.Errorf("transaction %d: error %v, want its own", k, o.err)
				}
				want = "absent"
			case k%10 == 7:
				if o.panicked != fmt.Sprintf("panic %d", k) {
					t.Errorf("transaction %d: panicked with %v, want its own panic raised in its caller", k, o.panicked)
				}
				want = "absent"
			case k <= 1:
				if integrations.ErrorCode(o.err) == integrations.ECONFLICT {
					conflicts++
					want = "absent"
				} else if o.err != nil {
					t.Errorf("transaction %d: %v", k, o.err)
				}
			default:
				if o.err != nil || o.panicked != nil {
					t.Errorf("transaction %d: error %v, panic %v; want success", k, o.err, o.panicked)
				}
			}
			err := store.View(t.Context(), func(tx integrations.Tx) error {
				_, err := tx.User(fmt.Sprintf("u%d", k))
				return err
			})
			switch {
			case want == "absent" && integrations.ErrorCode(err) != integrations.ENOTFOUND:
				t.Errorf("user %d: %v, want it absent", k, err)
			case want == "" && err != nil:
				t.Errorf("user %d: %v, want it stored", k, err)
			}
		}
		if conflicts != 1 {
			t.Errorf("%d of the two transactions with one email failed, want exactly one", conflicts)
		}
	})
}

// TestWriteWaitsForItsCommit checks that a write that returned is visible to
// every read that starts after it, even while other writes keep coming.
func TestWriteWaitsForItsCommit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		store := open(t)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 8 { // background writers that keep batches full
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := 0; ; k++ {
					select {
					case <-stop:
						return
					default:
					}
					store.Update(t.Context(), func(tx integrations.Tx) error {
						return tx.CreateUser(&integrations.User{ID: fmt.Sprintf("bg%d-%d", w, k), DisplayName: "B", CreatedAt: tx.Now()})
					})
				}
			}()
		}
		deadline := time.Now().Add(time.Second)
		for k := 0; time.Now().Before(deadline); k++ {
			id := fmt.Sprintf("fg%d", k)
			if err := store.Update(t.Context(), func(tx integrations.Tx) error {
				return tx.CreateUser(&integrations.User{ID: id, DisplayName: "F", CreatedAt: tx.Now()})
			}); err != nil {
				t.Fatal(err)
			}
			if err := store.View(t.Context(), func(tx integrations.Tx) error {
				_, err := tx.User(id)
				return err
			}); err != nil {
				t.Fatalf("user %s written, then not read: %v", id, err)
			}
		}
		close(stop)
		wg.Wait()
	})
}

// TestUniqueViolationRunsAgain checks how Update treats a unique violation:
// it runs the transaction again, on fresh data, since on PostgreSQL the row
// in the way may come from a race that a new snapshot no longer meets; one
// that keeps coming back is a conflict, answered as such.
func TestUniqueViolationRunsAgain(t *testing.T) {
	tests := []struct {
		name     string
		clashes  int // runs that meet the taken email before one does not
		wantRuns int
		wantCode string
	}{
		{"a race that clears at once", 1, 2, ""},
		{"a race met on every run but the last", sqlstore.MaxUniqueRetries, sqlstore.MaxUniqueRetries + 1, ""},
		{"a real conflict", 1000, sqlstore.MaxUniqueRetries + 1, integrations.ECONFLICT},
	}
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		store := open(t)
		if err := store.Update(t.Context(), func(tx integrations.Tx) error {
			return tx.CreateUser(&integrations.User{ID: "taken", DisplayName: "T", Email: "taken@example.com", CreatedAt: tx.Now()})
		}); err != nil {
			t.Fatal(err)
		}
		for n, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				runs := 0
				err := store.Update(t.Context(), func(tx integrations.Tx) error {
					runs++
					email := "taken@example.com"
					if runs > tt.clashes {
						email = fmt.Sprintf("free%d@example.com", n)
					}
					return tx.CreateUser(&integrations.User{ID: fmt.Sprintf("new%d", n), DisplayName: "N", Email: email, CreatedAt: tx.Now()})
				})
				if code := integrations.ErrorCode(err); code != tt.wantCode || (tt.wantCode == "" && err != nil) {
					t.Errorf("error %v (code %q), want code %q", err, code, tt.wantCode)
				}
				if runs != tt.wantRuns {
					t.Errorf("ran %d times, want %d", runs, tt.wantRuns)
				}
			})
		}
	})
}

// TestDatabaseFailureInABatch sends write transactions at once, some of
// which run a statement that the database refuses before they changed
// anything (where writes share batches, SQLite, among the others of their
// batch): each failing one must answer the database's error, and every
// other commit as if it ran alone.
func TestDatabaseFailureInABatch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		store := open(t)
		for round := range 5 {
			const n = 40
			errs := make([]error, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for k := range n {
				wg.Go(func() {
					<-start
					errs[k] = store.Update(t.Context(), func(tx integrations.Tx) error {
						if k%8 == 5 {
							return sqlstore.FailInDatabase(tx)
						}
						return tx.CreateUser(&integrations.User{ID: fmt.Sprintf("r%d-u%d", round, k), DisplayName: "U", CreatedAt: tx.Now()})
					})
				})
			}
			close(start)
			wg.Wait()
			for k, err := range errs {
				id := fmt.Sprintf("r%d-u%d", round, k)
				getErr := store.View(t.Context(), func(tx integrations.Tx) error {
					_, err := tx.User(id)
					return err
				})
				switch {
				case k%8 == 5:
					if err == nil || !strings.Contains(err.Error(), "no_such_table") {
						t.Errorf("transaction %d: error %v, want the database's own", k, err)
					}
				case err != nil:
					t.Errorf("transaction %d: %v, want success", k, err)
				case getErr != nil:
					t.Errorf("user %s: %v, want it stored", id, getErr)
				}
			}
		}
	})
}
