package sqlstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"integrations"
	"integrations/internal/storetest"
	"integrations/sqlstore"
)

// loader is the bulk path of the SQL stores.
type loader interface {
	Load(ctx context.Context, d *integrations.Dataset, progress func(table string, done, total int)) error
}

// TestLoadReadsBackAsCreated loads a dataset through the bulk path into one
// store and creates it object by object through the Tx methods in another:
// every object reads back the same from both, and as it was given.
func TestLoadReadsBackAsCreated(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		d := sampleDataset()
		loaded, created := open(t), open(t)
		progress := map[string]int{}
		if err := loaded.(loader).Load(t.Context(), d, func(table string, done, total int) {
			if done > total || done < progress[table] {
				t.Errorf("progress of %s went to %d of %d after %d", table, done, total, progress[table])
			}
			progress[table] = done
		}); err != nil {
			t.Fatal(err)
		}
		for table, want := range map[string]int{"users": len(d.Users), "space_installations": len(d.SpaceInstallations), "tokens": len(d.Tokens),
			"installation_external_ids": 2, "space_installation_external_ids": 1} {
			if progress[table] != want {
				t.Errorf("progress of %s ended at %d, want %d", table, progress[table], want)
			}
		}
		if err := created.Update(t.Context(), func(tx integrations.Tx) error { return create(tx, d) }); err != nil {
			t.Fatal(err)
		}
		want := expected(d)
		for _, s := range []struct {
			name  string
			store integrations.Store
		}{{"loaded", loaded}, {"created", created}} {
			got := readBack(t, s.store, d)
			for n := range want {
				if !reflect.DeepEqual(got[n], want[n]) {
					t.Errorf("%s: read back\n%s\nwant\n%s", s.name, dump(got[n]), dump(want[n]))
				}
			}
		}
	})
}

// TestLoadFailsOnConstraints checks that Load reports rows that break the
// database's constraints.
func TestLoadFailsOnConstraints(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		for _, tt := range []struct {
			name   string
			break_ func(d *integrations.Dataset)
		}{
			{"duplicate key", func(d *integrations.Dataset) { d.Users = append(d.Users, d.Users[0]) }},
			{"foreign key", func(d *integrations.Dataset) { d.Spaces[0].OrganizationID = "nowhere" }},
		} {
			t.Run(tt.name, func(t *testing.T) {
				d := sampleDataset()
				tt.break_(d)
				if err := open(t).(loader).Load(t.Context(), d, nil); err == nil {
					t.Error("Load succeeded")
				}
			})
		}
	})
}

var _ loader = (*sqlstore.DB)(nil)

// t0 is the time the sample objects are created around, in microseconds as
// the stores keep it.
var t0 = time.Date(2024, 5, 1, 9, 30, 0, 123456000, time.UTC)

func at(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }

// sampleDataset returns a small dataset that uses every column: optional
// values set and unset, JSON of every shape, external ids in both places.
func sampleDataset() *integrations.Dataset {
	d := &integrations.Dataset{
		Users: []integrations.User{
			{ID: "u-admin", DisplayName: "Ada Admin", Email: "ada@acme.test", PhotoURL: "https://acme.test/ada.png", Staff: true, CreatedAt: at(1)},
			{ID: "u-reader", DisplayName: "Rémi Reader", CreatedAt: at(2)},
		},
		Organizations: []integrations.Organization{
			{ID: "acme", Title: "Acme", Hostname: "acme", EmailDomains: []string{"acme.test", "acme.example"}, CreatedAt: at(3)},
			{ID: "globex", Title: "Globex", EmailDomains: []string{}, CreatedAt: at(4)},
		},
		Members: []integrations.Member{
			{OrganizationID: "acme", UserID: "u-admin", Role: integrations.RoleAdmin, JoinedAt: at(5)},
			{OrganizationID: "acme", UserID: "u-reader", Role: integrations.RoleRead, JoinedAt: at(6)},
			{OrganizationID: "globex", UserID: "u-reader", Role: integrations.RoleEdit, JoinedAt: at(7)},
		},
		Spaces: []integrations.Space{
			{ID: "handbook", OrganizationID: "acme", Title: "Handbook", Emoji: "1f4d8", Visibility: "public", EditMode: "live", Language: "fr",
				DefaultLevel: "inherit", MergeRules: json.RawMessage(`{"type":"rules","rules":[]}`), CreatedAt: at(8), UpdatedAt: at(9)},
			{ID: "blog", OrganizationID: "acme", Title: "Blog", Icon: "https://acme.test/blog.png", Visibility: "private", DefaultLevel: "guest", CreatedAt: at(10), UpdatedAt: at(10)},
			{ID: "secret", OrganizationID: "globex", Visibility: "private", DefaultLevel: "read", CreatedAt: at(11), UpdatedAt: at(12)},
		},
		Integrations: []integrations.Integration{
			{
				ID: "i-slack", Name: "slack", OrganizationID: "globex", Version: 3, Verified: true, Runtime: "v2",
				Title: "Slack", Description: "Notifications in Slack", Summary: "Sends a message for each change.",
				Visibility: "public", Target: "all", Scopes: []string{"space:content:read", "space:metadata:read"}, Categories: []string{"collaboration"},
				Blocks: []integrations.Block{
					{ID: "message", Title: "Slack message", Description: "Embeds a message", Icon: "https://slack.test/i.png",
						URLUnfurl: []string{"https://app.slack.com/archives/", "https://Slack.test/x"}, Markdown: &integrations.BlockMarkdown{Codeblock: "slack", Body: "message"}},
					{ID: "channel", Title: "Channel"},
				},
				ContentSources: []integrations.ContentSource{{ID: "export", Title: "Export", Configuration: json.RawMessage(`{"componentId":"export-form"}`)}},
				ExternalLinks:  []integrations.ExternalLink{{URL: "https://slack.test/docs", Label: "Docs"}},
				Configurations: integrations.Configurations{
					Account: &integrations.Configuration{Properties: map[string]integrations.ConfigProperty{
						"token":   {Type: "string", Title: "API token", Description: "From Slack"},
						"retries": {Type: "number", Default: float64(3)},
						"verbose": {Type: "boolean", Default: true},
						"connect": {Type: "button", CallbackURL: "/oauth", ButtonText: "Connect"},
					}, Required: []string{"token"}},
					Space: &integrations.Configuration{Properties: map[string]integrations.ConfigProperty{
						"channel": {Type: "string", Enum: []string{"#general", "#docs"}, Default: "#docs"},
					}},
					Site: &integrations.Configuration{ComponentID: "site-config"},
				},
				ContentSecurityPolicy: json.RawMessage(`{"script-src":"'self'"}`),
				Secrets:               map[string]string{"SLACK_SECRET": "s3cr3t"},
				PreviewImages:         []string{"preview-1"},
				CreatedAt:             at(13), UpdatedAt: at(14),
			},
			{
				ID: "i-min", Name: "minimal.one", OrganizationID: "acme", Version: 1, Runtime: "v1", Title: "Minimal",
				Visibility: "private", Target: "space", Scopes: []string{}, Categories: []string{},
				ContentSecurityPolicy: json.RawMessage(`"default-src 'self'"`),
				CreatedAt:             at(15), UpdatedAt: at(15),
			},
		},
		Installations: []integrations.Installation{
			{ID: "inst-slack-acme", IntegrationID: "i-slack", OrganizationID: "acme", Status: integrations.StatusActive, SpaceSelection: "selected", SiteSelection: "all",
				Configuration: json.RawMessage(`{"token":"xoxb","retries":5}`), ExternalIDs: []string{"T123", "T456", "T123"}, CreatedAt: at(16), UpdatedAt: at(17)},
			{ID: "inst-slack-globex", IntegrationID: "i-slack", OrganizationID: "globex", Status: integrations.StatusPending, SpaceSelection: "all", SiteSelection: "selected",
				Configuration: json.RawMessage(`{}`), ExternalIDs: []string{}, CreatedAt: at(18), UpdatedAt: at(18)},
			{ID: "inst-min-acme", IntegrationID: "i-min", OrganizationID: "acme", Status: integrations.StatusPaused, SpaceSelection: "selected", SiteSelection: "selected",
				Configuration: json.RawMessage(`{}`), ExternalIDs: []string{}, CreatedAt: at(19), UpdatedAt: at(20)},
		},
		SpaceInstallations: []integrations.SpaceInstallation{
			{InstallationID: "inst-slack-acme", SpaceID: "handbook", Status: integrations.StatusActive, Configuration: json.RawMessage(`{"channel":"#docs"}`),
				ExternalIDs: []string{"C1"}, CreatedAt: at(21), UpdatedAt: at(22)},
			{InstallationID: "inst-slack-acme", SpaceID: "blog", Status: integrations.StatusPaused, Configuration: json.RawMessage(`{}`), ExternalIDs: []string{}, CreatedAt: at(23), UpdatedAt: at(23)},
			{InstallationID: "inst-min-acme", SpaceID: "handbook", Status: integrations.StatusPending, Configuration: json.RawMessage(`{}`), ExternalIDs: []string{}, CreatedAt: at(24), UpdatedAt: at(24)},
		},
		Tokens: []integrations.Token{
			{Hash: integrations.HashToken("user-secret"), Kind: integrations.TokenUser, UserID: "u-admin", CreatedAt: at(25)},
			{Hash: integrations.HashToken("integration-secret"), Kind: integrations.TokenIntegration, IntegrationID: "i-slack", CreatedAt: at(26)},
			{Hash: integrations.HashToken("installation-secret"), Kind: integrations.TokenInstallation, IntegrationID: "i-slack", InstallationID: "inst-slack-acme",
				ExpiresAt: at(3600), CreatedAt: at(27)},
		},
	}
	return d
}

// create writes a dataset through the Tx methods.
func create(tx integrations.Tx, d *integrations.Dataset) error {
	for n := range d.Users {
		if err := tx.CreateUser(&d.Users[n]); err != nil {
			return err
		}
	}
	for n := range d.Organizations {
		if err := tx.CreateOrganization(&d.Organizations[n]); err != nil {
			return err
		}
	}
	for n := range d.Members {
		if err := tx.PutMember(&d.Members[n]); err != nil {
			return err
		}
	}
	for n := range d.Spaces {
		if err := tx.CreateSpace(&d.Spaces[n]); err != nil {
			return err
		}
	}
	for n := range d.Integrations {
		if err := tx.CreateIntegration(&d.Integrations[n]); err != nil {
			return err
		}
	}
	for n := range d.Installations {
		if err := tx.CreateInstallation(&d.Installations[n]); err != nil {
			return err
		}
	}
	for n := range d.SpaceInstallations {
		if err := tx.CreateSpaceInstallation(&d.SpaceInstallations[n]); err != nil {
			return err
		}
	}
	for n := range d.Tokens {
		if err := tx.CreateToken(&d.Tokens[n]); err != nil {
			return err
		}
	}
	return nil
}

// expected returns what readBack must find for the sample dataset: its
// objects with the fields that reads fill in.
func expected(d *integrations.Dataset) []any {
	var want []any
	for n := range d.Users {
		want = append(want, &d.Users[n])
	}
	orgs := map[string]*integrations.Organization{}
	for n := range d.Organizations {
		o := &d.Organizations[n]
		orgs[o.ID] = o
		want = append(want, o)
	}
	users := map[string]*integrations.User{}
	for n := range d.Users {
		users[d.Users[n].ID] = &d.Users[n]
	}
	for _, m := range d.Members {
		m.User = users[m.UserID]
		want = append(want, &m)
	}
	for n := range d.Spaces {
		want = append(want, &d.Spaces[n])
	}
	byID := map[string]*integrations.Integration{}
	for _, i := range d.Integrations {
		i.Owner = orgs[i.OrganizationID]
		i.Script = "" // not read back: only the runtime needs it
		byID[i.ID] = &i
		want = append(want, &i)
	}
	insts := map[string]*integrations.Installation{}
	for _, in := range d.Installations {
		in.IntegrationName = byID[in.IntegrationID].Name
		for _, si := range d.SpaceInstallations {
			if si.InstallationID == in.ID {
				in.Spaces++
			}
		}
		if in.SpaceSelection == "all" {
			in.Spaces = 0
			for _, s := range d.Spaces {
				if s.OrganizationID == in.OrganizationID {
					in.Spaces++
				}
			}
		}
		insts[in.ID] = &in
		want = append(want, &in)
	}
	for _, si := range d.SpaceInstallations {
		in := insts[si.InstallationID]
		si.IntegrationID, si.IntegrationName, si.OrganizationID = in.IntegrationID, in.IntegrationName, in.OrganizationID
		want = append(want, &si)
	}
	for n := range d.Tokens {
		want = append(want, &d.Tokens[n])
	}
	// What the filters on external ids find, and the integrations enabled
	// in the handbook space.
	want = append(want, []string{"inst-slack-acme"}, []string{"inst-slack-acme/handbook"}, []string{"slack"})
	return want
}

// readBack reads every object of the dataset from a store, in the order of
// expected.
func readBack(t *testing.T, s integrations.Store, d *integrations.Dataset) []any {
	t.Helper()
	var got []any
	err := s.View(t.Context(), func(tx integrations.Tx) error {
		add := func(v any, err error) error {
			got = append(got, v)
			return err
		}
		for _, u := range d.Users {
			if err := add(tx.User(u.ID)); err != nil {
				return err
			}
		}
		for _, o := range d.Organizations {
			if err := add(tx.Organization(o.ID)); err != nil {
				return err
			}
		}
		for _, m := range d.Members {
			if err := add(tx.Member(m.OrganizationID, m.UserID)); err != nil {
				return err
			}
		}
		for _, sp := range d.Spaces {
			if err := add(tx.Space(sp.ID)); err != nil {
				return err
			}
		}
		for _, i := range d.Integrations {
			if err := add(tx.Integration(i.Name)); err != nil {
				return err
			}
		}
		for _, in := range d.Installations {
			got, err := tx.Installation(in.ID)
			if err == nil {
				err = tx.CountInstallationSpaces(got)
			}
			if err := add(got, err); err != nil {
				return err
			}
		}
		for _, si := range d.SpaceInstallations {
			if err := add(tx.SpaceInstallation(si.InstallationID, si.SpaceID)); err != nil {
				return err
			}
		}
		for _, tok := range d.Tokens {
			if err := add(tx.Token(tok.Hash)); err != nil {
				return err
			}
		}
		page := integrations.Page{Limit: 100}
		insts, _, err := tx.Installations(integrations.InstallationFilter{ExternalID: "T456"}, page)
		if err != nil {
			return err
		}
		var ids []string
		for _, in := range insts {
			ids = append(ids, in.ID)
		}
		got = append(got, ids)
		sis, _, err := tx.SpaceInstallations(integrations.SpaceInstallationFilter{ExternalID: "C1"}, page)
		if err != nil {
			return err
		}
		ids = nil
		for _, si := range sis {
			ids = append(ids, si.InstallationID+"/"+si.SpaceID)
		}
		got = append(got, ids)
		enabled, _, err := tx.SpaceIntegrations("handbook", integrations.IntegrationFilter{}, page)
		if err != nil {
			return err
		}
		ids = nil
		for _, i := range enabled {
			ids = append(ids, i.Name)
		}
		got = append(got, ids)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func dump(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(b)
}
