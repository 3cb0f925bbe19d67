package sqlstore_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"integrations"
	"integrations/internal/storetest"
)

// lookups reads every cached kind of object and describes what it found, so
// that a test can compare what two reads saw.
func lookups(tx integrations.Tx) string {
	show := func(v any, err error) string {
		if err != nil {
			return "error " + integrations.ErrorCode(err)
		}
		b, _ := json.Marshal(v)
		return string(b)
	}
	var out string
	add := func(name string, v any, err error) { out += name + ": " + show(v, err) + "\n" }
	v1, err := tx.Token("hash-alice")
	add("token", v1, err)
	v2, err := tx.User("alice")
	add("user", v2, err)
	v3, err := tx.Member("acme", "alice")
	add("member", v3, err)
	v4, err := tx.Organization("acme")
	add("organization", v4, err)
	v5, err := tx.Space("handbook")
	add("space", v5, err)
	v6, err := tx.Integration("slack")
	add("integration", v6, err)
	v7, err := tx.IntegrationByID("int1")
	add("integrationByID", v7, err)
	v8, err := tx.Installation("inst1")
	if err == nil {
		err = tx.CountInstallationSpaces(v8)
	}
	add("installation", v8, err)
	v9, err := tx.InstallationOf("int1", "acme")
	add("installationOf", v9, err)
	return out
}

func read(t *testing.T, s integrations.Store) string {
	t.Helper()
	var out string
	if err := s.View(t.Context(), func(tx integrations.Tx) error { out = lookups(tx); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// aliceName reads alice's display name in a View that needs nothing but
// her row: from the cache, once it holds her.
func aliceName(t *testing.T, s integrations.Store) string {
	t.Helper()
	var name string
	if err := s.View(t.Context(), func(tx integrations.Tx) error {
		u, err := tx.User("alice")
		if err == nil {
			name = u.DisplayName
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestReferenceCacheFollowsChanges reads every kind of object that the
// reference cache holds through two handles on one database (two replicas),
// changes it through one, and checks that both read the change at once, as
// a fresh handle with nothing cached reads it.
func TestReferenceCacheFollowsChanges(t *testing.T) {
	changes := []struct {
		name   string
		change func(tx integrations.Tx) error
	}{
		{"rename the user", func(tx integrations.Tx) error {
			return tx.UpdateUser(&integrations.User{ID: "alice", DisplayName: "Alice B", Email: "alice@example.com"})
		}},
		{"change the role", func(tx integrations.Tx) error {
			return tx.PutMember(&integrations.Member{OrganizationID: "acme", UserID: "alice", Role: integrations.RoleRead, JoinedAt: tx.Now()})
		}},
		{"rename the organization", func(tx integrations.Tx) error {
			return tx.UpdateOrganization(&integrations.Organization{ID: "acme", Title: "Acme 2", EmailDomains: []string{"acme.com"}})
		}},
		{"change the space", func(tx integrations.Tx) error {
			sp, err := tx.Space("handbook")
			if err != nil {
				return err
			}
			sp.Visibility = "public"
			return tx.UpdateSpace(sp)
		}},
		{"publish again", func(tx integrations.Tx) error {
			i, err := tx.Integration("slack")
			if err != nil {
				return err
			}
			i.Version, i.Title = 2, "Slack 2"
			return tx.UpdateIntegration(i)
		}},
		{"configure the installation", func(tx integrations.Tx) error {
			in, err := tx.Installation("inst1")
			if err != nil {
				return err
			}
			in.Configuration, in.SpaceSelection = json.RawMessage(`{"a":1}`), "all"
			return tx.UpdateInstallation(in)
		}},
		{"enable on a space (the count of spaces)", func(tx integrations.Tx) error {
			return tx.CreateSpaceInstallation(&integrations.SpaceInstallation{InstallationID: "inst1", SpaceID: "handbook", Status: integrations.StatusActive,
				Configuration: json.RawMessage(`{}`), ExternalIDs: []string{}, CreatedAt: tx.Now(), UpdatedAt: tx.Now()})
		}},
		{"revoke the token", func(tx integrations.Tx) error {
			_, err := tx.DeleteUserTokensExcept("alice", "")
			return err
		}},
		{"delete the installation", func(tx integrations.Tx) error { _, err := tx.DeleteInstallation("inst1"); return err }},
		{"delete the space", func(tx integrations.Tx) error { _, err := tx.DeleteSpace("handbook"); return err }},
		{"unpublish", func(tx integrations.Tx) error { _, err := tx.DeleteIntegration("int1"); return err }},
		{"delete the user", func(tx integrations.Tx) error { _, err := tx.DeleteUser("alice"); return err }},
	}
	for _, c := range changes {
		t.Run(c.name, func(t *testing.T) {
			storetest.EachDatabase(t, func(t *testing.T, url string) {
				a, b := storetest.Open(t, url), storetest.Open(t, url)
				storetest.RefWorld(t, a)
				before := read(t, a)
				if got := read(t, b); got != before {
					t.Fatalf("the replicas disagree before the change:\n%s\n%s", before, got)
				}
				if err := a.Update(t.Context(), c.change); err != nil {
					t.Fatal(err)
				}
				want := read(t, storetest.Open(t, url))
				if want == before {
					t.Fatalf("the change changed nothing that lookups show:\n%s", want)
				}
				for name, s := range map[string]integrations.Store{"the replica that changed it": a, "the other replica": b} {
					if got := read(t, s); got != want {
						t.Errorf("%s reads after the change:\n%s\nwant:\n%s", name, got, want)
					}
				}
			})
		})
	}
}

// TestReferenceCacheInsideATransaction checks that a transaction reads its
// own changes, and that a transaction that rolls back leaves nothing of what
// it read in the cache.
func TestReferenceCacheInsideATransaction(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		s := open(t)
		storetest.RefWorld(t, s)
		read(t, s) // fills the cache
		errUndo := errors.New("undo")
		err := s.Update(t.Context(), func(tx integrations.Tx) error {
			if _, err := tx.User("alice"); err != nil { // from the cache
				return err
			}
			if err := tx.UpdateUser(&integrations.User{ID: "alice", DisplayName: "Renamed", Email: "alice@example.com"}); err != nil {
				return err
			}
			u, err := tx.User("alice")
			if err != nil {
				return err
			}
			if u.DisplayName != "Renamed" {
				return fmt.Errorf("the transaction reads its own change as %q", u.DisplayName)
			}
			return errUndo
		})
		if !errors.Is(err, errUndo) {
			t.Fatal(err)
		}
		name := aliceName(t, s)
		if name != "Alice" {
			t.Errorf("after the rollback the user reads as %q, want Alice", name)
		}
	})
}

// TestViewRunsAgainWhenTheGenerationMoves reads a cached user in a View
// that has not begun its transaction yet, changes the user from another
// transaction, then needs the database: the View's transaction begins after
// the change, so what came from the cache is not of its snapshot, and the
// View must run again, to read the user and the rest from one snapshot.
func TestViewRunsAgainWhenTheGenerationMoves(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		s := open(t)
		storetest.RefWorld(t, s)
		read(t, s) // fills the cache
		runs := 0
		var names []string
		err := s.View(t.Context(), func(tx integrations.Tx) error {
			runs++
			u, err := tx.User("alice")
			if err != nil {
				return err
			}
			names = append(names, u.DisplayName)
			if runs == 1 {
				err := s.Update(t.Context(), func(tx integrations.Tx) error {
					return tx.UpdateUser(&integrations.User{ID: "alice", DisplayName: "Renamed", Email: "alice@example.com"})
				})
				if err != nil {
					return err
				}
			}
			// Not cached: an unknown token is looked up every time.
			if _, err := tx.Token("unknown"); integrations.ErrorCode(err) != integrations.ENOTFOUND {
				return fmt.Errorf("unknown token: %v", err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if runs != 2 || names[len(names)-1] != "Renamed" {
			t.Errorf("the View ran %d times and read the user as %q; want twice, the last as Renamed", runs, names)
		}
	})
}

// TestUpdateRunsAgainWhenTheGenerationMoves is the same for a write on
// PostgreSQL, whose transaction begins at its first statement, in that
// statement's round trip: a write that took a user from the cache and
// writes it back changed must not begin after a change to that user and
// overwrite it with what the cache held (SQLite's writes take turns: one
// cannot commit during another).
func TestUpdateRunsAgainWhenTheGenerationMoves(t *testing.T) {
	s := storetest.Postgres(t)
	storetest.RefWorld(t, s)
	read(t, s) // fills the cache
	runs := 0
	err := s.Update(t.Context(), func(tx integrations.Tx) error {
		runs++
		u, err := tx.User("alice")
		if err != nil {
			return err
		}
		if runs == 1 {
			err := s.Update(t.Context(), func(tx integrations.Tx) error {
				return tx.UpdateUser(&integrations.User{ID: "alice", DisplayName: "Renamed", Email: "alice@example.com"})
			})
			if err != nil {
				return err
			}
		}
		return tx.UpdateUser(&integrations.User{ID: "alice", DisplayName: u.DisplayName + "!", Email: "alice@example.com"})
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := aliceName(t, s); runs != 2 || got != "Renamed!" {
		t.Errorf("the Update ran %d times and alice is %q; want twice, and Renamed!", runs, got)
	}
}

// TestViewFromTheCacheSeesEarlierWrites changes cached objects and reads
// them at once in Views that take them from the cache alone, through the
// handle that wrote and through another one on the same database (a
// replica): each must see the write that returned before it began.
func TestViewFromTheCacheSeesEarlierWrites(t *testing.T) {
	storetest.EachDatabase(t, func(t *testing.T, url string) {
		a, b := storetest.Open(t, url), storetest.Open(t, url)
		storetest.RefWorld(t, a)
		for n := range 20 {
			writer := []integrations.Store{a, b}[n%2]
			read(t, a) // fill the caches
			read(t, b)
			aliceName(t, a)
			aliceName(t, b)
			name := fmt.Sprintf("Alice %d", n)
			err := writer.Update(t.Context(), func(tx integrations.Tx) error {
				return tx.UpdateUser(&integrations.User{ID: "alice", DisplayName: name, Email: "alice@example.com"})
			})
			if err != nil {
				t.Fatal(err)
			}
			for r, s := range []integrations.Store{a, b} {
				if got := aliceName(t, s); got != name {
					t.Fatalf("after handle %d renamed alice to %q, handle %d read %q", n%2, name, r, got)
				}
				if got := read(t, s); !strings.Contains(got, `"`+name+`"`) {
					t.Fatalf("after renaming alice to %q, a read saw:\n%s", name, got)
				}
			}
		}
	})
}

// TestUpdateFromTheCacheSeesEarlierWrites is TestViewFromTheCacheSeesEarlierWrites
// for writes that end without a statement, answered from the cache alone
// (a refusal, say): on PostgreSQL a write takes the generation last read,
// however old, and such a write must check it before it answers.
func TestUpdateFromTheCacheSeesEarlierWrites(t *testing.T) {
	storetest.EachDatabase(t, func(t *testing.T, url string) {
		a, b := storetest.Open(t, url), storetest.Open(t, url)
		storetest.RefWorld(t, a)
		errRefused := errors.New("refused")
		for n := range 20 {
			writer, other := a, b
			if n%2 == 1 {
				writer, other = b, a
			}
			read(t, a) // fill the caches
			read(t, b)
			name := fmt.Sprintf("Alice %d", n)
			err := writer.Update(t.Context(), func(tx integrations.Tx) error {
				return tx.UpdateUser(&integrations.User{ID: "alice", DisplayName: name, Email: "alice@example.com"})
			})
			if err != nil {
				t.Fatal(err)
			}
			var got string
			err = other.Update(t.Context(), func(tx integrations.Tx) error {
				u, err := tx.User("alice")
				if err != nil {
					return err
				}
				got = u.DisplayName
				return errRefused
			})
			if !errors.Is(err, errRefused) {
				t.Fatalf("the Update returned %v, want its function's error", err)
			}
			if got != name {
				t.Fatalf("after handle %d renamed alice to %q, an Update of the other read %q", n%2, name, got)
			}
		}
	})
}

// TestConcurrentChangesReadEachOther runs many transactions at once that
// each read a cached user and write it back changed: a counter in its name.
// On SQLite they share batches, and a job after one that changed the user
// must read the change, not what the cache held before it; otherwise two
// of them would write the same count, and increments would be lost. Jobs
// that only read run among them, so that the batch's generation is also
// handed from job to job.
func TestConcurrentChangesReadEachOther(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		s := open(t)
		storetest.RefWorld(t, s)
		if err := s.Update(t.Context(), func(tx integrations.Tx) error {
			return tx.UpdateUser(&integrations.User{ID: "alice", DisplayName: "0", Email: "alice@example.com"})
		}); err != nil {
			t.Fatal(err)
		}
		read(t, s) // fills the cache
		const workers, rounds = 16, 10
		var wg sync.WaitGroup
		errs := make(chan error, 2*workers)
		for w := range 2 * workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range rounds {
					err := s.Update(t.Context(), func(tx integrations.Tx) error {
						u, err := tx.User("alice")
						if err != nil {
							return err
						}
						if w%2 == 1 { // a reader
							_, err := tx.Space("handbook")
							return err
						}
						n, err := strconv.Atoi(u.DisplayName)
						if err != nil {
							return err
						}
						u.DisplayName = strconv.Itoa(n + 1)
						return tx.UpdateUser(u)
					})
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		name := aliceName(t, s)
		if want := strconv.Itoa(workers * rounds); name != want {
			t.Errorf("after %s increments the counter reads %s: increments were lost", want, name)
		}
	})
}
