package storetest

import (
	"encoding/json"
	"io/fs"
	"testing"
	"testing/fstest"
	"time"

	"integrations"
	"integrations/internal/canonjson"
)

// MigrationsBefore returns the migrations of dir whose names sort before
// name: the schema as it was before that migration, for a test to start a
// database at.
func MigrationsBefore(t testing.TB, dir fs.FS, name string) fs.FS {
	t.Helper()
	files, err := fs.Glob(dir, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	before := fstest.MapFS{}
	for _, f := range files {
		if f >= name {
			continue
		}
		body, err := fs.ReadFile(dir, f)
		if err != nil {
			t.Fatal(err)
		}
		before[f] = &fstest.MapFile{Data: body}
	}
	if len(before) == len(files) {
		t.Fatalf("no migration %s to start before", name)
	}
	return before
}

// SpaceInstallationsSurviveMigration checks the migration that rebuilds the
// space installations' table (0006): what old, a store on the schema before
// it, wrote is all there once reopen has opened the same database at the
// newest schema, and behaves as before: lookups, listings by space and by
// installation, external IDs and the cascades of deletes.
func SpaceInstallationsSurviveMigration(t *testing.T, old integrations.Store, reopen func() integrations.Store) {
	t.Helper()
	si := func(space string, ids []string, created int) *integrations.SpaceInstallation {
		return &integrations.SpaceInstallation{InstallationID: "inst", SpaceID: space, Status: integrations.StatusActive,
			Configuration: json.RawMessage(`{"path":"/docs"}`), ExternalIDs: ids, CreatedAt: at(created), UpdatedAt: at(created + 1)}
	}
	s1, s2, s3 := si("s1", []string{"E1", "E2"}, 3), si("s2", []string{}, 1), si("s3", []string{"E3"}, 2)
	build(t, old, func(b builder) {
		b.org("acme", "Acme", t0)
		for _, id := range []string{"s1", "s2", "s3"} {
			b.space(id, "acme", id, t0)
		}
		b.integration(newIntegration("int-slack", "slack", "acme"))
		b.installation("inst", "int-slack", "acme", integrations.StatusActive, "selected", t0)
		for _, si := range []*integrations.SpaceInstallation{s1, s2, s3} {
			b.must(b.tx.CreateSpaceInstallation(si))
		}
	})
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	s := reopen()
	want := *s1
	want.IntegrationID, want.IntegrationName, want.OrganizationID = "int-slack", "slack", "acme"
	sameJSON(t, "SpaceInstallation after the migration", get(t, s, func(tx integrations.Tx) (*integrations.SpaceInstallation, error) {
		return tx.SpaceInstallation("inst", "s1")
	}), &want)
	ids := func(f integrations.SpaceInstallationFilter) []string {
		list := get(t, s, func(tx integrations.Tx) ([]*integrations.SpaceInstallation, error) {
			l, _, err := tx.SpaceInstallations(f, integrations.Page{Limit: 10})
			return l, err
		})
		var spaces []string
		for _, si := range list {
			spaces = append(spaces, si.SpaceID)
		}
		return spaces
	}
	check := func(what string, got []string, want ...string) {
		t.Helper()
		if canonjson.String(got) != canonjson.String(want) {
			t.Errorf("%s: %q, want %q", what, got, want)
		}
	}
	check("the installation's spaces, oldest first", ids(integrations.SpaceInstallationFilter{InstallationID: "inst"}), "s2", "s3", "s1")
	check("space s3's installations", ids(integrations.SpaceInstallationFilter{SpaceID: "s3"}), "s3")
	check("by external ID E3", ids(integrations.SpaceInstallationFilter{ExternalID: "E3"}), "s3")
	enabled := get(t, s, func(tx integrations.Tx) ([]*integrations.Integration, error) {
		l, _, err := tx.SpaceIntegrations("s1", integrations.IntegrationFilter{}, integrations.Page{Limit: 10})
		return l, err
	})
	if len(enabled) != 1 || enabled[0].Name != "slack" {
		t.Errorf("space s1's integrations after the migration: %d, want slack alone", len(enabled))
	}

	// Deletes still cascade: from a space to its installations, and from
	// those to their external IDs, which are free again.
	update(t, s, func(tx integrations.Tx) error {
		if ok, err := tx.DeleteSpace("s3"); !ok || err != nil {
			t.Errorf("DeleteSpace s3: %v, %v", ok, err)
		}
		if si, err := tx.DeleteSpaceInstallation("inst", "s1"); si == nil || err != nil || si.ExternalIDs[0] != "E1" {
			t.Errorf("DeleteSpaceInstallation s1: %+v, %v", si, err)
		}
		return nil
	})
	check("the installation's spaces after the deletes", ids(integrations.SpaceInstallationFilter{InstallationID: "inst"}), "s2")
	check("by external ID E3 after its space went", ids(integrations.SpaceInstallationFilter{ExternalID: "E3"}))
	update(t, s, func(tx integrations.Tx) error { return tx.CreateSpaceInstallation(si("s1", []string{"E1"}, 9)) })
	check("by external ID E1, given again", ids(integrations.SpaceInstallationFilter{ExternalID: "E1"}), "s1")
	failsWith(t, s, integrations.ECONFLICT, func(tx integrations.Tx) error { return tx.CreateSpaceInstallation(si("s2", nil, 9)) })
}

// EventsSurviveMigration writes events as the schema before migration 0008
// held them, every attempt a row of event_attempts, through exec (raw SQL
// with ? placeholders, on the database of old), and checks that the store
// at the newest schema gives back each event and its attempts, adds later
// ones after them, and keeps a new event's first attempt in its row.
func EventsSurviveMigration(t *testing.T, old integrations.Store, exec func(query string, args ...any) error, reopen func() integrations.Store) {
	t.Helper()
	build(t, old, func(b builder) {
		b.org("o1", "One", t0)
		b.integration(newIntegration("i1", "one", "o1"))
	})
	micros := func(tm time.Time) int64 { return tm.UnixMicro() }
	type oldEvent struct {
		e        *integrations.Event
		attempts []*integrations.EventAttempt
	}
	undelivered := event("undelivered", "i1", "", at(1))
	undelivered.Status, undelivered.Attempts = integrations.EventFailed, 1
	retried := event("retried", "i1", "", at(2))
	retried.Status, retried.Attempts = integrations.EventPending, 2
	pending := event("pending", "i1", "", at(3))
	events := []oldEvent{
		{undelivered, []*integrations.EventAttempt{{EventID: "undelivered", Attempt: 1, At: at(1), Error: "not delivered: no URL"}}},
		{retried, []*integrations.EventAttempt{
			{EventID: "retried", Attempt: 1, At: at(2), Target: "https://example.com/hook", StatusCode: 500, Error: "HTTP 500", Duration: 3 * time.Millisecond},
			{EventID: "retried", Attempt: 2, At: at(4), Target: "https://example.com/hook", Error: "timeout", Duration: 10 * time.Second},
		}},
		{pending, nil},
	}
	for _, o := range events {
		e := o.e
		if err := exec(`INSERT INTO events (id, integration_id, installation_id, space_id, organization_id, type, payload, status, attempts, next_attempt_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.ID, e.IntegrationID, e.InstallationID, e.SpaceID, e.OrganizationID, e.Type, string(e.Payload), string(e.Status), e.Attempts,
			micros(e.NextAttemptAt), micros(e.CreatedAt), micros(e.UpdatedAt)); err != nil {
			t.Fatalf("the event %s before the migration: %v", e.ID, err)
		}
		for _, a := range o.attempts {
			if err := exec(`INSERT INTO event_attempts (event_id, attempt, at, target, status_code, error, duration_us) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				a.EventID, a.Attempt, micros(a.At), a.Target, a.StatusCode, a.Error, a.Duration.Microseconds()); err != nil {
				t.Fatalf("an attempt of %s before the migration: %v", e.ID, err)
			}
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	s := reopen()
	attemptsOf := func(id string) []*integrations.EventAttempt {
		return get(t, s, func(tx integrations.Tx) ([]*integrations.EventAttempt, error) { return tx.EventAttempts(id) })
	}
	for _, o := range events {
		got := get(t, s, func(tx integrations.Tx) (*integrations.Event, error) { return tx.Event(o.e.ID) })
		if got.Seq == 0 {
			t.Errorf("%s after the migration has no Seq", o.e.ID)
		}
		want := *o.e
		want.Seq = got.Seq
		sameJSON(t, o.e.ID+" after the migration", got, &want)
		wantAttempts := o.attempts
		if wantAttempts == nil {
			wantAttempts = []*integrations.EventAttempt{}
		}
		sameJSON(t, o.e.ID+"'s attempts after the migration", attemptsOf(o.e.ID), wantAttempts)
	}
	// A later attempt comes after those of before.
	later := &integrations.EventAttempt{EventID: "retried", Attempt: 3, At: at(9), Target: "https://example.com/hook", StatusCode: 200, Duration: time.Millisecond}
	update(t, s, func(tx integrations.Tx) error { return tx.AddAttempt(later) })
	sameJSON(t, "retried's attempts after one more", attemptsOf("retried"), append(events[1].attempts, later))
	// A new event not delivered as it was made, next to the old ones.
	fresh := event("fresh", "i1", "", at(5))
	fresh.Status, fresh.Attempts = integrations.EventFailed, 1
	first := &integrations.EventAttempt{EventID: "fresh", Attempt: 1, At: at(5), Error: "not delivered: no URL"}
	update(t, s, func(tx integrations.Tx) error { return tx.CreateEvent(fresh, first) })
	sameJSON(t, "fresh's attempts", attemptsOf("fresh"), []*integrations.EventAttempt{first})
	list := get(t, s, func(tx integrations.Tx) ([]*integrations.Event, error) {
		l, _, err := tx.Events(integrations.EventFilter{IntegrationID: "i1"}, integrations.Page{Limit: 10})
		return l, err
	})
	if got := eventIDs(list); got != "[fresh pending retried undelivered]" {
		t.Errorf("the integration's events after the migration, newest first: %s", got)
	}
	// Deleting the integration takes the events and all their attempts.
	update(t, s, func(tx integrations.Tx) error { _, err := tx.DeleteIntegration("i1"); return err })
	build(t, s, func(b builder) {
		b.integration(newIntegration("i1", "one", "o1"))
		b.must(b.tx.CreateEvent(event("retried", "i1", "", at(0))))
	})
	if got := attemptsOf("retried"); len(got) != 0 {
		t.Errorf("the event made again has the %d attempts of the deleted one", len(got))
	}
}
