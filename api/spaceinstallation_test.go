package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"

	"integrations"
	"integrations/internal/apitest"
	"integrations/internal/storetest"
)

// regSpaceInstallation is the spec's IntegrationSpaceInstallation, as tests
// read it; Space is the raw id or object.
type regSpaceInstallation struct {
	Integration   string
	Installation  string
	Status        string
	Configuration json.RawMessage
	ExternalIDs   []string `json:"externalIds"`
	URLs          struct{ Location string }
	Space         json.RawMessage
}

func regSpaceInstallationOf(t testing.TB, res *apitest.Response) regSpaceInstallation {
	t.Helper()
	var si regSpaceInstallation
	res.JSON(t, &si)
	return si
}

// spaceID returns the id of the space of a space installation, and whether
// it came as the full Space object.
func (si regSpaceInstallation) spaceID(t testing.TB) (string, bool) {
	t.Helper()
	var id string
	if json.Unmarshal(si.Space, &id) == nil {
		return id, false
	}
	var sp struct{ Object, ID string }
	if err := json.Unmarshal(si.Space, &sp); err != nil || sp.Object != "space" {
		t.Fatalf("space is neither an id nor a Space: %s", si.Space)
	}
	return sp.ID, true
}

// regSpaces returns "installation/space" for each item of a list of space
// installations, sorted.
func regSpaces(t testing.TB, res *apitest.Response) []string {
	t.Helper()
	var list struct{ Items []regSpaceInstallation }
	res.JSON(t, &list)
	out := []string{}
	for _, si := range list.Items {
		id, _ := si.spaceID(t)
		out = append(out, si.Installation+"/"+id)
	}
	sort.Strings(out)
	return out
}

func TestInstallOnSpace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := regEnv(t, open)
		slackToken := regIntegrationToken(t, e, "slack", "alice-token")
		mermaidToken := regIntegrationToken(t, e, "mermaid", "dave-token")
		base := "/v1/integrations/slack/installations/slack-acme/spaces"

		res := e.Expect(201, "POST", base, "alice-token", map[string]string{"space": "blog"})
		si := regSpaceInstallationOf(t, res)
		location := e.URL + base + "/blog"
		if id, extended := si.spaceID(t); id != "blog" || extended {
			t.Errorf("space %s", si.Space)
		}
		if si.Integration != "slack" || si.Installation != "slack-acme" || si.Status != "active" || string(si.Configuration) != "{}" || len(si.ExternalIDs) != 0 {
			t.Errorf("new space installation: %+v", si)
		}
		if res.Header.Get("Location") != location || si.URLs.Location != location {
			t.Errorf("Location %q, urls.location %q, want %q", res.Header.Get("Location"), si.URLs.Location, location)
		}
		if in := regInstallationOf(t, e.Expect(200, "GET", "/v1/integrations/slack/installations/slack-acme", "alice-token", nil)); in.Spaces != 2 {
			t.Errorf("the installation counts %v spaces", in.Spaces)
		}

		// Installing again answers the existing one, unchanged; extended
		// gives the full space.
		e.Expect(200, "PATCH", base+"/blog", "alice-token", map[string]any{"externalIds": []string{"kept"}})
		res = e.Expect(201, "POST", base+"?extended=true", "erin-token", map[string]string{"space": "blog"})
		again := regSpaceInstallationOf(t, res)
		if id, extended := again.spaceID(t); id != "blog" || !extended || fmt.Sprint(again.ExternalIDs) != "[kept]" {
			t.Errorf("second install: %+v", again)
		}
		if res.Header.Get("Location") != location {
			t.Errorf("second install Location %q", res.Header.Get("Location"))
		}
		var full struct {
			Space struct{ Object, ID, Title, Organization string }
		}
		res.JSON(t, &full)
		if full.Space.Title != "Blog" || full.Space.Organization != "acme" {
			t.Errorf("extended space: %+v", full.Space)
		}

		// A new space installation is pending while the space configuration
		// misses a required value.
		e.Expect(201, "POST", "/v1/integrations/configured/installations", "alice-token", map[string]string{"organization": "acme"})
		configuredToken := regIntegrationToken(t, e, "configured", "alice-token")
		var inst struct{ Items []regInstallation }
		e.Expect(200, "GET", "/v1/integrations/configured/installations", configuredToken, nil).JSON(t, &inst)
		if len(inst.Items) != 1 {
			t.Fatalf("configured installations: %+v", inst.Items)
		}
		cfgBase := "/v1/integrations/configured/installations/" + inst.Items[0].ID + "/spaces"
		if si := regSpaceInstallationOf(t, e.Expect(201, "POST", cfgBase, configuredToken, map[string]string{"space": "handbook"})); si.Status != "pending" {
			t.Errorf("configured on handbook: %q", si.Status)
		}

		// An integration installation token enables its own installation.
		installToken := regInstallationToken(t, e, "slack", "slack-globex", slackToken)
		if si := regSpaceInstallationOf(t, e.Expect(201, "POST", "/v1/integrations/slack/installations/slack-globex/spaces", installToken, map[string]string{"space": "secret"})); si.Installation != "slack-globex" {
			t.Errorf("installation token: %+v", si)
		}

		orgOnly := regInstallationOf(t, e.Expect(201, "POST", "/v1/integrations/org-only/installations", "alice-token", map[string]string{"organization": "acme"}))
		tests := []struct {
			name, path, token string
			body              any
			status            int
			message           string
		}{
			{"space of another organization", base, "erin-token", map[string]string{"space": "secret"}, 400, "organization"},
			{"space of another organization, staff", base, apitest.AdminToken, map[string]string{"space": "secret"}, 400, "organization"},
			{"space the caller may not see", base, "alice-token", map[string]string{"space": "secret"}, 404, "not found"},
			{"unknown space", base, "alice-token", map[string]string{"space": "nothere"}, 404, "not found"},
			{"invalid space id", base, "alice-token", map[string]string{"space": "a.b"}, 400, "space"},
			{"no space", base, "alice-token", map[string]string{}, 400, "space"},
			{"space not a string", base, "alice-token", map[string]int{"space": 1}, 400, "space"},
			{"no body", base, "alice-token", nil, 400, "body"},
			{"bad extended", base + "?extended=yes", "alice-token", map[string]string{"space": "handbook"}, 400, "extended"},
			{"integration targets organizations", "/v1/integrations/org-only/installations/" + orgOnly.ID + "/spaces", "alice-token", map[string]string{"space": "blog"}, 400, "organization"},
			{"read member", base, "bob-token", map[string]string{"space": "handbook"}, 403, "admin"},
			{"not a member", base, "carol-token", map[string]string{"space": "handbook"}, 404, "not found"},
			{"member of another organization", base, "dave-token", map[string]string{"space": "handbook"}, 404, "not found"},
			{"another integration's token", base, mermaidToken, map[string]string{"space": "handbook"}, 404, "not found"},
			{"another installation's token", base, installToken, map[string]string{"space": "handbook"}, 404, "not found"},
			{"unknown installation", "/v1/integrations/slack/installations/nothere/spaces", "alice-token", map[string]string{"space": "handbook"}, 404, "not found"},
			{"installation of another integration", "/v1/integrations/mermaid/installations/slack-acme/spaces", "alice-token", map[string]string{"space": "handbook"}, 404, "not found"},
			{"no token", base, "", map[string]string{"space": "handbook"}, 401, "Authorization"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := regExpect(t, e, tt.status, "POST", tt.path, tt.token, tt.body)
				if msg := res.ErrorMessage(t); !strings.Contains(msg, tt.message) {
					t.Errorf("message %q does not mention %q", msg, tt.message)
				}
			})
		}
		// The refusals enabled nothing.
		got := regSpaces(t, e.Expect(200, "GET", "/v1/integrations/slack/spaces", slackToken, nil))
		if fmt.Sprint(got) != "[slack-acme/blog slack-acme/handbook slack-globex/secret]" {
			t.Errorf("slack's space installations: %v", got)
		}
		regSameError(t, e.Do("POST", base, "alice-token", map[string]string{"space": "secret"}),
			e.Do("POST", base, "alice-token", map[string]string{"space": "secres"}), "secret", "secres")
	})
}

func TestSpaceInstallationReadUpdateDelete(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := regEnv(t, open)
		slackToken := regIntegrationToken(t, e, "slack", "alice-token")
		mermaidToken := regIntegrationToken(t, e, "mermaid", "dave-token")
		path := "/v1/integrations/slack/installations/slack-acme/spaces/handbook"

		reads := []struct {
			name, path, token string
			status            int
			extended          bool
		}{
			{"admin", path, "alice-token", 200, false},
			{"read member", path, "bob-token", 200, false},
			{"extended", path + "?extended=true", "bob-token", 200, true},
			{"not extended", path + "?extended=false", "bob-token", 200, false},
			{"the integration's token", path, slackToken, 200, false},
			{"bad extended", path + "?extended=1", "alice-token", 400, false},
			{"not a member", path, "carol-token", 404, false},
			{"another integration's token", path, mermaidToken, 404, false},
			{"not installed on that space", "/v1/integrations/slack/installations/slack-acme/spaces/blog", "alice-token", 404, false},
			{"space of another organization", "/v1/integrations/slack/installations/slack-acme/spaces/secret", "erin-token", 400, false},
			{"unknown space", "/v1/integrations/slack/installations/slack-acme/spaces/nothere", "alice-token", 404, false},
			{"invalid space id", "/v1/integrations/slack/installations/slack-acme/spaces/a.b", "alice-token", 400, false},
			{"no token", path, "", 401, false},
		}
		for _, tt := range reads {
			t.Run("get/"+tt.name, func(t *testing.T) {
				res := regExpect(t, e, tt.status, "GET", tt.path, tt.token, nil)
				if tt.status != 200 {
					return
				}
				si := regSpaceInstallationOf(t, res)
				if id, extended := si.spaceID(t); id != "handbook" || extended != tt.extended || si.Installation != "slack-acme" || si.Status != "active" {
					t.Errorf("got %+v", si)
				}
			})
		}
		// A space installation of a paused space keeps its status.
		if si := regSpaceInstallationOf(t, e.Expect(200, "GET", "/v1/integrations/mermaid/installations/mermaid-acme/spaces/blog", "alice-token", nil)); si.Status != "paused" {
			t.Errorf("mermaid on blog: %q", si.Status)
		}

		// PATCH: configuration kept as given and checked against the
		// integration's space configuration; external ids.
		e.Expect(201, "POST", "/v1/integrations/configured/installations", "alice-token", map[string]string{"organization": "acme"})
		configuredToken := regIntegrationToken(t, e, "configured", "alice-token")
		var inst struct{ Items []regInstallation }
		e.Expect(200, "GET", "/v1/integrations/configured/installations", configuredToken, nil).JSON(t, &inst)
		cfg := "/v1/integrations/configured/installations/" + inst.Items[0].ID + "/spaces/blog"
		e.Expect(201, "POST", strings.TrimSuffix(cfg, "/blog"), "alice-token", map[string]string{"space": "blog"})
		config := `{"channel":"#general","other":[1,2.50,{"x":null}]}`
		si := regSpaceInstallationOf(t, e.Expect(200, "PATCH", cfg, "alice-token", `{"configuration":`+config+`}`))
		if si.Status != "active" || string(si.Configuration) != config {
			t.Errorf("configured: %+v", si)
		}
		refused := []struct{ name, body, field string }{
			{"number for a string", `{"configuration":{"channel":5}}`, "configuration.channel"},
			{"configuration an array", `{"configuration":[1]}`, "configuration"},
			{"configuration null", `{"configuration":null}`, "configuration"},
			{"6 external ids", `{"externalIds":["1","2","3","4","5","6"]}`, "externalIds"},
			{"no body", "", "body"},
		}
		for _, tt := range refused {
			t.Run("patch/"+tt.name, func(t *testing.T) {
				res := regExpect(t, e, 400, "PATCH", cfg, "alice-token", tt.body)
				if msg := res.ErrorMessage(t); !strings.Contains(msg, tt.field) {
					t.Errorf("message %q does not name %q", msg, tt.field)
				}
			})
		}
		if si := regSpaceInstallationOf(t, e.Expect(200, "GET", cfg, "alice-token", nil)); si.Status != "active" || string(si.Configuration) != config || len(si.ExternalIDs) != 0 {
			t.Errorf("refused updates changed it: %+v", si)
		}
		// configured declares no scope that reads spaces: its token gets no
		// Space (TestExtendedNeedsSpaceScopes), a user does.
		si = regSpaceInstallationOf(t, e.Expect(200, "PATCH", cfg+"?extended=true", "alice-token", map[string]any{"externalIds": []string{"a", "b", "c", "d", "e"}}))
		if id, extended := si.spaceID(t); id != "blog" || !extended || len(si.ExternalIDs) != 5 || string(si.Configuration) != config {
			t.Errorf("external ids: %+v", si)
		}
		if si := regSpaceInstallationOf(t, e.Expect(200, "PATCH", cfg, "alice-token", `{"configuration":{"other":true}}`)); si.Status != "pending" || len(si.ExternalIDs) != 5 {
			t.Errorf("without channel: %+v", si)
		}
		e.Expect(403, "PATCH", cfg, "bob-token", map[string]any{"externalIds": []string{}})
		e.Expect(404, "PATCH", cfg, "carol-token", map[string]any{"externalIds": []string{}})
		e.Expect(404, "PATCH", cfg, slackToken, map[string]any{"externalIds": []string{}})
		e.Expect(404, "PATCH", strings.TrimSuffix(cfg, "blog")+"handbook", "alice-token", map[string]any{"externalIds": []string{}})

		// DELETE.
		e.Expect(403, "DELETE", path, "bob-token", nil)
		e.Expect(204, "DELETE", path, "carol-token", nil)
		e.Expect(204, "DELETE", path, mermaidToken, nil)
		e.Expect(204, "DELETE", "/v1/integrations/slack/installations/slack-acme/spaces/blog", "alice-token", nil)
		e.Expect(401, "DELETE", path, "", nil)
		e.Expect(200, "GET", path, "alice-token", nil)
		e.Expect(205, "DELETE", path, "alice-token", nil)
		e.Expect(204, "DELETE", path, "alice-token", nil)
		e.Expect(204, "DELETE", path, "bob-token", nil) // nothing there to refuse
		e.Expect(404, "GET", path, "alice-token", nil)
		e.Expect(205, "DELETE", cfg, configuredToken, nil)
		e.Expect(404, "GET", cfg, configuredToken, nil)
		// The organization installation stays.
		if in := regInstallationOf(t, e.Expect(200, "GET", "/v1/integrations/slack/installations/slack-acme", "alice-token", nil)); in.Spaces != 0 {
			t.Errorf("slack-acme after: %+v", in)
		}
	})
}

func TestListSpaceInstallations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := regEnv(t, open)
		slackToken := regIntegrationToken(t, e, "slack", "alice-token")
		mermaidToken := regIntegrationToken(t, e, "mermaid", "dave-token")
		acmeToken := regInstallationToken(t, e, "slack", "slack-acme", slackToken)
		globexToken := regInstallationToken(t, e, "slack", "slack-globex", slackToken)
		e.Expect(201, "POST", "/v1/integrations/slack/installations/slack-acme/spaces", "alice-token", map[string]string{"space": "blog"})
		e.Expect(201, "POST", "/v1/integrations/slack/installations/slack-globex/spaces", "dave-token", map[string]string{"space": "secret"})
		e.Expect(200, "PATCH", "/v1/integrations/slack/installations/slack-acme/spaces/blog", "alice-token", map[string]any{"externalIds": []string{"x-1", "x-2"}})
		e.Expect(200, "PATCH", "/v1/integrations/slack/installations/slack-globex/spaces/secret", "dave-token", map[string]any{"externalIds": []string{"x-2"}})

		// The spaces of one installation.
		installation := "/v1/integrations/slack/installations/slack-acme/spaces"
		tests := []struct {
			name, path, token string
			want              []string
		}{
			{"installation, admin", installation, "alice-token", []string{"slack-acme/blog", "slack-acme/handbook"}},
			{"installation, read member", installation, "bob-token", []string{"slack-acme/blog", "slack-acme/handbook"}},
			{"installation, integration token", installation, slackToken, []string{"slack-acme/blog", "slack-acme/handbook"}},
			{"installation, its installation token", installation, acmeToken, []string{"slack-acme/blog", "slack-acme/handbook"}},
			{"integration", "/v1/integrations/slack/spaces", slackToken, []string{"slack-acme/blog", "slack-acme/handbook", "slack-globex/secret"}},
			{"integration, external id", "/v1/integrations/slack/spaces?externalId=x-1", slackToken, []string{"slack-acme/blog"}},
			{"integration, shared external id", "/v1/integrations/slack/spaces?externalId=x-2", slackToken, []string{"slack-acme/blog", "slack-globex/secret"}},
			{"integration, unknown external id", "/v1/integrations/slack/spaces?externalId=x-3", slackToken, []string{}},
			{"integration, installation token", "/v1/integrations/slack/spaces", globexToken, []string{"slack-globex/secret"}},
			{"integration, installation token and external id", "/v1/integrations/slack/spaces?externalId=x-1", globexToken, []string{}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := regExpect(t, e, 200, "GET", tt.path, tt.token, nil)
				if got := regSpaces(t, res); fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("got %v, want %v", got, tt.want)
				}
				if count := res.Map(t)["count"]; count != float64(len(tt.want)) {
					t.Errorf("count %v", count)
				}
			})
		}
		// extended switches every item's space to the object.
		for _, path := range []string{installation + "?extended=true", "/v1/integrations/slack/spaces?extended=true"} {
			var list struct{ Items []regSpaceInstallation }
			e.Expect(200, "GET", path, slackToken, nil).JSON(t, &list)
			for _, si := range list.Items {
				if _, extended := si.spaceID(t); !extended {
					t.Errorf("%s: space %s is not extended", path, si.Space)
				}
			}
			if len(list.Items) == 0 {
				t.Errorf("%s: no items", path)
			}
		}
		// Paging.
		res := e.Expect(200, "GET", installation+"?limit=1", "alice-token", nil)
		first := regSpaces(t, res)
		next := res.Map(t)["next"].(map[string]any)["page"].(string)
		second := regSpaces(t, e.Expect(200, "GET", installation+"?limit=1&page="+next, "alice-token", nil))
		if all := fmt.Sprint(append(first, second...)); all != "[slack-acme/handbook slack-acme/blog]" {
			t.Errorf("pages %v", all)
		}

		refused := []struct {
			name, path, token string
			status            int
		}{
			{"installation, not a member", installation, "carol-token", 404},
			{"installation, another installation's token", installation, globexToken, 404},
			{"installation, another integration's token", installation, mermaidToken, 404},
			{"installation, unknown", "/v1/integrations/slack/installations/nothere/spaces", "alice-token", 404},
			{"installation, bad extended", installation + "?extended=2", "alice-token", 400},
			{"integration, user token", "/v1/integrations/slack/spaces", "alice-token", 403},
			{"integration, staff", "/v1/integrations/slack/spaces", apitest.AdminToken, 403},
			{"integration, another integration's token", "/v1/integrations/slack/spaces", mermaidToken, 404},
			{"integration, bad limit", "/v1/integrations/slack/spaces?limit=x", slackToken, 400},
			{"integration, no token", "/v1/integrations/slack/spaces", "", 401},
		}
		for _, tt := range refused {
			t.Run(tt.name, func(t *testing.T) {
				regExpect(t, e, tt.status, "GET", tt.path, tt.token, nil)
			})
		}
	})
}

// TestSeedEndpointsFollowChanges checks that listSpaceIntegrations and
// listSpaceIntegrationsBlocks reflect every change made through the API at
// once.
func TestSeedEndpointsFollowChanges(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := regEnv(t, open)
		enabled := func(space string) (inList, inBlocks bool) {
			t.Helper()
			for _, n := range names(t, e.Expect(200, "GET", "/v1/spaces/"+space+"/integrations", "bob-token", nil)) {
				inList = inList || n == "notes"
			}
			m := e.Expect(200, "GET", "/v1/spaces/"+space+"/integrations?search=notes", "bob-token", nil).Map(t)
			if searched := m["count"] == float64(1); searched != inList {
				t.Errorf("%s: search finds notes: %v, list has it: %v", space, searched, inList)
			}
			var blocks []struct {
				Name   string
				Blocks []struct{ ID string }
			}
			e.Expect(200, "GET", "/v1/spaces/"+space+"/integration-blocks", "bob-token", nil).JSON(t, &blocks)
			for _, b := range blocks {
				if b.Name == "notes" {
					inBlocks = len(b.Blocks) == 1 && b.Blocks[0].ID == "note"
				}
			}
			return inList, inBlocks
		}
		check := func(step string, want map[string]bool) {
			t.Helper()
			for _, space := range []string{"handbook", "blog"} {
				list, blocks := enabled(space)
				if list != want[space] || blocks != want[space] {
					t.Errorf("%s: %s lists notes: %v, its blocks: %v; want %v", step, space, list, blocks, want[space])
				}
			}
		}
		none := map[string]bool{}
		blog := map[string]bool{"blog": true}
		both := map[string]bool{"blog": true, "handbook": true}

		pub := regPublication("acme", "Notes")
		pub["blocks"] = []map[string]string{{"id": "note", "title": "Note"}}
		e.Expect(200, "POST", "/v1/integrations/notes", "alice-token", pub)
		check("published", none)
		in := regInstallationOf(t, e.Expect(201, "POST", "/v1/integrations/notes/installations", "alice-token", map[string]string{"organization": "acme"}))
		inst := "/v1/integrations/notes/installations/" + in.ID
		check("installed on the organization", none)
		e.Expect(201, "POST", inst+"/spaces", "alice-token", map[string]string{"space": "blog"})
		check("enabled on blog", blog)
		e.Expect(205, "DELETE", inst+"/spaces/blog", "alice-token", nil)
		check("disabled on blog", none)
		e.Expect(201, "POST", inst+"/spaces", "alice-token", map[string]string{"space": "blog"})
		check("enabled on blog again", blog)
		e.Expect(205, "DELETE", inst, "alice-token", nil)
		check("uninstalled", none)

		in = regInstallationOf(t, e.Expect(201, "POST", "/v1/integrations/notes/installations", "alice-token", map[string]string{"organization": "acme"}))
		inst = "/v1/integrations/notes/installations/" + in.ID
		e.Expect(200, "PATCH", inst, "alice-token", map[string]string{"space_selection": "all"})
		check("all spaces selected", both)
		e.Expect(200, "PATCH", inst, "alice-token", map[string]string{"space_selection": "selected"})
		check("back to selected", none)
		e.Expect(201, "POST", inst+"/spaces", "alice-token", map[string]string{"space": "blog"})
		e.Expect(200, "PATCH", inst, "alice-token", map[string]string{"space_selection": "all"})
		check("all, with one space installation", both)
		e.Expect(200, "PATCH", inst, "alice-token", map[string]string{"space_selection": "selected"})
		check("selected, with one space installation", blog)
		// Republishing keeps it enabled and serves the new blocks.
		pub["title"] = "Notes Two"
		e.Expect(200, "POST", "/v1/integrations/notes", "alice-token", pub)
		check("republished", blog)
		e.Expect(205, "DELETE", "/v1/integrations/notes", "alice-token", nil)
		check("unpublished", none)
	})
}

func TestConcurrentInstallOnSpace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := regEnv(t, open)
		const n = 32
		path := "/v1/integrations/slack/installations/slack-acme/spaces"
		responses := make([]*apitest.Response, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				responses[i] = e.Do("POST", path, "alice-token", map[string]string{"space": "blog"})
			}()
		}
		close(start)
		wg.Wait()
		for i, res := range responses {
			if res == nil {
				t.Fatalf("request %d got no answer", i)
			}
			if res.Status != http.StatusCreated {
				t.Errorf("request %d: status %d: %s", i, res.Status, res.Body)
				continue
			}
			if si := regSpaceInstallationOf(t, res); si.Installation != "slack-acme" || si.URLs.Location != e.URL+path+"/blog" {
				t.Errorf("request %d: %+v", i, si)
			}
		}
		got := regSpaces(t, e.Expect(200, "GET", path, "alice-token", nil))
		if fmt.Sprint(got) != "[slack-acme/blog slack-acme/handbook]" {
			t.Errorf("space installations: %v", got)
		}
		if strings.Contains(e.Logs(), `"level":"ERROR"`) {
			t.Errorf("the server logged errors:\n%s", e.Logs())
		}
	})
}

// TestExtendedNeedsSpaceScopes checks that the tokens of an integration that
// declared none of the scopes that read spaces get no Space through
// extended, on every route that would answer one: they are refused as
// reading the space itself refuses them, and a refused write changes
// nothing. Without extended, and for users, nothing changes.
func TestExtendedNeedsSpaceScopes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := regEnv(t, open)
		quiet := regIntegrationToken(t, e, "quiet-space", "alice-token") // no scopes
		quietInst := regInstallationToken(t, e, "quiet-space", "quiet-acme", quiet)
		slack := regIntegrationToken(t, e, "slack", "alice-token") // space:content:read
		base := "/v1/integrations/quiet-space/installations/quiet-acme/spaces"

		// The direct read of the space, which the others must match.
		refusal := e.Expect(403, "GET", "/v1/spaces/blog", quiet, nil).ErrorMessage(t)
		if !strings.Contains(refusal, "quiet-space") || !strings.Contains(refusal, "space:content:read") {
			t.Fatalf("getSpaceById refuses with %q", refusal)
		}
		e.Expect(403, "GET", "/v1/spaces/blog", quietInst, nil)

		routes := []struct {
			name, method, path string
			body               any
			status             int // without extended
		}{
			{"listIntegrationInstallationSpaces", "GET", base, nil, 200},
			{"getIntegrationSpaceInstallation", "GET", base + "/blog", nil, 200},
			{"listIntegrationSpaceInstallations", "GET", "/v1/integrations/quiet-space/spaces", nil, 200},
			{"updateIntegrationSpaceInstallation", "PATCH", base + "/blog", map[string]any{"externalIds": []string{"changed"}}, 200},
			{"installIntegrationOnSpace", "POST", base, map[string]string{"space": "handbook"}, 201},
		}
		for _, rt := range routes {
			for _, token := range []string{quiet, quietInst} {
				t.Run(rt.name, func(t *testing.T) {
					before := snapshot(t, e)
					res := regExpect(t, e, 403, rt.method, rt.path+"?extended=true", token, rt.body)
					if msg := res.ErrorMessage(t); msg != refusal {
						t.Errorf("refused with %q, getSpaceById with %q", msg, refusal)
					}
					if after := snapshot(t, e); after != before {
						t.Errorf("a refused %s changed the state:\n%s", rt.name, changes(before, after))
					}
					// extended=false is no extended.
					res = regExpect(t, e, rt.status, rt.method, rt.path+"?extended=false", token, rt.body)
					if strings.Contains(string(res.Body), `"object":"space"`) {
						t.Errorf("a Space without extended: %s", res.Body)
					}
					if rt.method == "POST" {
						regExpect(t, e, 205, "DELETE", base+"/handbook", "alice-token", nil)
					}
				})
			}
		}

		// Users, and integrations with a space scope, still get the Space.
		e.Expect(201, "POST", "/v1/integrations/slack/installations/slack-acme/spaces", "alice-token", map[string]string{"space": "blog"})
		for _, tt := range []struct{ method, path, token string }{
			{"GET", base + "?extended=true", "alice-token"},
			{"GET", base + "/blog?extended=true", "bob-token"},
			{"GET", "/v1/integrations/slack/spaces?extended=true", slack},
			{"GET", "/v1/integrations/slack/installations/slack-acme/spaces/blog?extended=true", slack},
			{"GET", "/v1/integrations/slack/installations/slack-acme/spaces?extended=true", slack},
			{"PATCH", "/v1/integrations/slack/installations/slack-acme/spaces/blog?extended=true", slack},
			{"POST", "/v1/integrations/slack/installations/slack-acme/spaces?extended=true", slack},
		} {
			var body any
			switch tt.method {
			case "PATCH":
				body = map[string]any{"externalIds": []string{"x"}}
			case "POST":
				body = map[string]string{"space": "blog"}
			}
			res := e.Do(tt.method, tt.path, tt.token, body)
			if res.Status >= 300 || !strings.Contains(string(res.Body), `"object":"space"`) {
				t.Errorf("%s %s: %d without a Space: %s", tt.method, tt.path, res.Status, res.Body)
			}
		}
	})
}

// TestTargetsThatReachSpaces checks the rule of targets: every target
// installs on an organization, only all and space reach spaces. An
// organization or site integration cannot select all spaces, and one whose
// republication changes its target to organization leaves the spaces at
// once: their listings, their blocks, and what its tokens reach.
func TestTargetsThatReachSpaces(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := regEnv(t, open)
		site := regPublication("acme", "Site Only")
		site["target"] = "site"
		e.Expect(200, "POST", "/v1/integrations/site-only", "alice-token", site)
		for _, name := range []string{"org-only", "site-only"} {
			in := regInstallationOf(t, e.Expect(201, "POST", "/v1/integrations/"+name+"/installations", "alice-token", map[string]string{"organization": "acme"}))
			path := "/v1/integrations/" + name + "/installations/" + in.ID
			res := e.Expect(400, "PATCH", path, "alice-token", map[string]any{"space_selection": "all", "externalIds": []string{"refused"}})
			if msg := res.ErrorMessage(t); !strings.Contains(msg, "space_selection") || !strings.Contains(msg, name) {
				t.Errorf("%s: message %q", name, msg)
			}
			if got := regInstallationOf(t, e.Expect(200, "GET", path, "alice-token", nil)); got.SpaceSelection != "selected" || len(got.ExternalIDs) != 0 {
				t.Errorf("%s: a refused PATCH changed it: %+v", name, got)
			}
			e.Expect(200, "PATCH", path, "alice-token", map[string]any{"space_selection": "selected"})
			e.Expect(400, "POST", path+"/spaces", "alice-token", map[string]string{"space": "handbook"})
		}
		// A space integration selects all spaces.
		e.Expect(200, "PATCH", "/v1/integrations/mermaid/installations/mermaid-acme", "alice-token", map[string]any{"space_selection": "all"})

		// slack is enabled on handbook (a space installation) and on
		// globex's secret (space_selection all).
		slack := regIntegrationToken(t, e, "slack", "alice-token")
		acmeInst := regInstallationToken(t, e, "slack", "slack-acme", slack)
		globexInst := regInstallationToken(t, e, "slack", "slack-globex", slack)
		republish := func(target string) {
			t.Helper()
			p := regPublication("acme", "Slack")
			p["target"] = target
			p["blocks"] = []map[string]string{{"id": "message", "title": "Message"}}
			e.Expect(200, "POST", "/v1/integrations/slack", "alice-token", p)
		}
		type reach struct {
			handbook, secret, blocks string
			space, spaces            int // GET /v1/spaces/handbook and the count of /v1/orgs/globex/spaces, with installation tokens
		}
		observe := func() reach {
			t.Helper()
			var blocks []struct{ Name string }
			e.Expect(200, "GET", "/v1/spaces/handbook/integration-blocks", "bob-token", nil).JSON(t, &blocks)
			var withBlocks []string
			for _, b := range blocks {
				withBlocks = append(withBlocks, b.Name)
			}
			return reach{
				handbook: fmt.Sprint(names(t, e.Expect(200, "GET", "/v1/spaces/handbook/integrations", "bob-token", nil))),
				secret:   fmt.Sprint(names(t, e.Expect(200, "GET", "/v1/spaces/secret/integrations", "dave-token", nil))),
				blocks:   fmt.Sprint(withBlocks),
				space:    e.Do("GET", "/v1/spaces/handbook", acmeInst, nil).Status,
				spaces:   listCount(t, e.Expect(200, "GET", "/v1/orgs/globex/spaces", globexInst, nil)),
			}
		}
		enabled := reach{"[mermaid private-tool slack]", "[slack]", "[mermaid private-tool slack]", 200, 1}
		if got := observe(); got != enabled {
			t.Fatalf("before: %+v", got)
		}
		republish("organization")
		if got, want := observe(), (reach{"[mermaid private-tool]", "[]", "[mermaid private-tool]", 404, 0}); got != want {
			t.Errorf("target organization: %+v, want %+v", got, want)
		}
		// Its installations and space installations are kept, and come back
		// with a target that reaches spaces.
		e.Expect(200, "GET", "/v1/integrations/slack/installations/slack-acme/spaces/handbook", "alice-token", nil)
		republish("space")
		if got := observe(); got != enabled {
			t.Errorf("target space again: %+v, want %+v", got, enabled)
		}
	})
}
