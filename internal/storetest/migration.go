package storetest

import (
	"encoding/json"
	"io/fs"
	"testing"
	"testing/fstest"

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
