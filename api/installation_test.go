package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"integrations"
	"integrations/internal/apitest"
	"integrations/internal/storetest"
)

// regInstallation is the spec's IntegrationInstallation, as tests read it.
type regInstallation struct {
	ID             string
	Status         string
	SpaceSelection string `json:"space_selection"`
	SiteSelection  string `json:"site_selection"`
	Spaces         float64
	Configuration  json.RawMessage
	ExternalIDs    []string `json:"externalIds"`
	URLs           struct{ Location string }
	Target         struct{ Organization string }
}

func regInstallationOf(t testing.TB, res *apitest.Response) regInstallation {
	t.Helper()
	var in regInstallation
	res.JSON(t, &in)
	return in
}

// regInstallationIDs returns the ids of a list of installations.
func regInstallationIDs(t testing.TB, res *apitest.Response) []string {
	t.Helper()
	var list struct{ Items []regInstallation }
	res.JSON(t, &list)
	ids := []string{}
	for _, in := range list.Items {
		ids = append(ids, in.ID)
	}
	return ids
}

func TestInstallIntegration(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := regEnv(t, open)
		orgOnlyToken := regIntegrationToken(t, e, "org-only", "alice-token")

		res := e.Expect(201, "POST", "/v1/integrations/org-only/installations", "alice-token", map[string]string{"organization": "acme"})
		in := regInstallationOf(t, res)
		location := e.URL + "/v1/integrations/org-only/installations/" + in.ID
		if in.ID == "" || in.Status != "active" || in.Target.Organization != "acme" || in.SpaceSelection != "selected" ||
			in.SiteSelection != "selected" || in.Spaces != 0 || string(in.Configuration) != "{}" || len(in.ExternalIDs) != 0 {
			t.Errorf("new installation: %+v", in)
		}
		if got := res.Header.Get("Location"); got != location || in.URLs.Location != location {
			t.Errorf("Location %q, urls.location %q, want %q", got, in.URLs.Location, location)
		}
		if got := regInstallationOf(t, e.Expect(200, "GET", strings.TrimPrefix(location, e.URL), "bob-token", nil)); got.ID != in.ID {
			t.Errorf("GET Location gives %+v", got)
		}

		// Installing again answers the existing installation, unchanged.
		e.Expect(200, "PATCH", "/v1/integrations/org-only/installations/"+in.ID, "alice-token",
			map[string]any{"configuration": map[string]string{"kept": "yes"}, "externalIds": []string{"x1"}})
		res = e.Expect(201, "POST", "/v1/integrations/org-only/installations", "erin-token", map[string]string{"organization": "acme"})
		again := regInstallationOf(t, res)
		if again.ID != in.ID || string(again.Configuration) != `{"kept":"yes"}` || fmt.Sprint(again.ExternalIDs) != "[x1]" {
			t.Errorf("second install: %+v", again)
		}
		if res.Header.Get("Location") != location {
			t.Errorf("second install Location %q", res.Header.Get("Location"))
		}
		ids := regInstallationIDs(t, e.Expect(200, "GET", "/v1/integrations/org-only/installations", orgOnlyToken, nil))
		if fmt.Sprint(ids) != fmt.Sprint([]string{in.ID}) {
			t.Errorf("installations after two installs: %v", ids)
		}

		// Any target installs on an organization; a second organization gets
		// its own installation.
		other := regInstallationOf(t, e.Expect(201, "POST", "/v1/integrations/org-only/installations", "dave-token", map[string]string{"organization": "globex"}))
		if other.ID == in.ID || other.Target.Organization != "globex" {
			t.Errorf("globex installation: %+v", other)
		}
		e.Expect(201, "POST", "/v1/integrations/mermaid/installations", apitest.AdminToken, map[string]string{"organization": "globex"})

		// Required account configuration makes it pending.
		if got := regInstallationOf(t, e.Expect(201, "POST", "/v1/integrations/configured/installations", "alice-token", map[string]string{"organization": "acme"})); got.Status != "pending" {
			t.Errorf("configured installs as %q, want pending", got.Status)
		}
		// A private integration installs where its owner's members are admins,
		// and the other organization's admins manage that installation.
		imp := regInstallationOf(t, e.Expect(201, "POST", "/v1/integrations/importer/installations", "erin-token", map[string]string{"organization": "globex"}))
		e.Expect(200, "GET", "/v1/integrations/importer/installations/"+imp.ID, "dave-token", nil)

		tests := []struct {
			name, integration, token string
			body                     any
			status                   int
			message                  string
		}{
			{"read member", "quiet-space", "bob-token", map[string]string{"organization": "acme"}, 403, "admin"},
			{"not a member", "quiet-space", "carol-token", map[string]string{"organization": "acme"}, 404, "not found"},
			{"admin of another organization", "quiet-space", "dave-token", map[string]string{"organization": "acme"}, 404, "not found"},
			{"unknown organization", "quiet-space", "alice-token", map[string]string{"organization": "nowhere"}, 404, "not found"},
			{"organization by hostname", "quiet-space", "alice-token", map[string]string{"organization": "acme-docs"}, 404, "not found"},
			{"invalid organization id", "quiet-space", "alice-token", map[string]string{"organization": "a.b"}, 400, "organization"},
			{"no organization", "quiet-space", "alice-token", map[string]string{}, 400, "organization"},
			{"organization not a string", "quiet-space", "alice-token", map[string]int{"organization": 1}, 400, "organization"},
			{"no body", "quiet-space", "alice-token", nil, 400, "body"},
			{"unknown integration", "nothere", "alice-token", map[string]string{"organization": "acme"}, 404, "not found"},
			{"private integration of another organization", "private-tool", "alice-token", map[string]string{"organization": "acme"}, 404, "not found"},
			{"invalid integration name", "a:b", "alice-token", map[string]string{"organization": "acme"}, 400, "integrationName"},
			{"integration token", "org-only", orgOnlyToken, map[string]string{"organization": "acme"}, 403, "installIntegration"},
			{"no token", "quiet-space", "", map[string]string{"organization": "acme"}, 401, "Authorization"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := regExpect(t, e, tt.status, "POST", "/v1/integrations/"+tt.integration+"/installations", tt.token, tt.body)
				if msg := res.ErrorMessage(t); !strings.Contains(msg, tt.message) {
					t.Errorf("message %q does not mention %q", msg, tt.message)
				}
			})
		}
		// The refusals installed nothing.
		m := e.Expect(200, "GET", "/v1/orgs/acme/installations?search=quiet", "alice-token", nil).Map(t)
		if m["count"] != float64(1) {
			t.Errorf("quiet-space installations on acme: %v", m["count"])
		}
		regSameError(t, e.Do("POST", "/v1/integrations/private-tool/installations", "alice-token", map[string]string{"organization": "acme"}),
			e.Do("POST", "/v1/integrations/private-tol/installations", "alice-token", map[string]string{"organization": "acme"}), "private-tool", "private-tol")
		regSameError(t, e.Do("POST", "/v1/integrations/quiet-space/installations", "carol-token", map[string]string{"organization": "acme"}),
			e.Do("POST", "/v1/integrations/quiet-space/installations", "carol-token", map[string]string{"organization": "acmf"}), "acme", "acmf")
	})
}

func TestGetInstallation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := regEnv(t, open)
		slackToken := regIntegrationToken(t, e, "slack", "alice-token")
		mermaidToken := regIntegrationToken(t, e, "mermaid", "dave-token")
		tests := []struct {
			name, path, token string
			status            int
		}{
			{"admin", "/v1/integrations/slack/installations/slack-acme", "alice-token", 200},
			{"read member", "/v1/integrations/slack/installations/slack-acme", "bob-token", 200},
			{"staff", "/v1/integrations/slack/installations/slack-acme", apitest.AdminToken, 200},
			{"the integration's token", "/v1/integrations/slack/installations/slack-globex", slackToken, 200},
			{"private integration, installed on the caller's organization", "/v1/integrations/private-tool/installations/private-acme", "bob-token", 200},
			{"not a member", "/v1/integrations/slack/installations/slack-acme", "carol-token", 404},
			{"member of another organization", "/v1/integrations/slack/installations/slack-acme", "dave-token", 404},
			{"another integration's token", "/v1/integrations/slack/installations/slack-acme", mermaidToken, 404},
			{"another integration's token, its own path", "/v1/integrations/mermaid/installations/slack-acme", mermaidToken, 404},
			{"installation of another integration", "/v1/integrations/mermaid/installations/slack-acme", "alice-token", 404},
			{"unknown installation", "/v1/integrations/slack/installations/nothere", "alice-token", 404},
			{"unknown integration", "/v1/integrations/nothere/installations/slack-acme", "alice-token", 404},
			{"invalid installation id", "/v1/integrations/slack/installations/a.b", "alice-token", 400},
			{"no token", "/v1/integrations/slack/installations/slack-acme", "", 401},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := regExpect(t, e, tt.status, "GET", tt.path, tt.token, nil)
				if tt.status == 200 {
					in := regInstallationOf(t, res)
					if !strings.HasSuffix(tt.path, "/"+in.ID) {
						t.Errorf("got installation %q", in.ID)
					}
				}
			})
		}
		in := regInstallationOf(t, e.Expect(200, "GET", "/v1/integrations/slack/installations/slack-acme", "alice-token", nil))
		if in.Status != "active" || in.SpaceSelection != "selected" || in.Spaces != 1 || in.Target.Organization != "acme" {
			t.Errorf("slack-acme: %+v", in)
		}
		if in := regInstallationOf(t, e.Expect(200, "GET", "/v1/integrations/slack/installations/slack-globex", "dave-token", nil)); in.Spaces != 1 || in.SpaceSelection != "all" {
			t.Errorf("slack-globex counts the spaces of globex: %+v", in)
		}
		if in := regInstallationOf(t, e.Expect(200, "GET", "/v1/integrations/paused-app/installations/paused-acme", "alice-token", nil)); in.Status != "paused" {
			t.Errorf("paused-acme: %+v", in)
		}
		regSameError(t, e.Do("GET", "/v1/integrations/slack/installations/slack-acme", "carol-token", nil),
			e.Do("GET", "/v1/integrations/slack/installations/slack-acmf", "carol-token", nil), "slack-acme", "slack-acmf")
		// A private integration that the caller may not see reads as missing.
		regSameError(t, e.Do("GET", "/v1/integrations/importer/installations/nothere", "dave-token", nil),
			e.Do("GET", "/v1/integrations/importes/installations/nothere", "dave-token", nil), "importer", "importes")
	})
}

func TestUpdateInstallation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := regEnv(t, open)
		in := regInstallationOf(t, e.Expect(201, "POST", "/v1/integrations/configured/installations", "alice-token", map[string]string{"organization": "acme"}))
		path := "/v1/integrations/configured/installations/" + in.ID
		patch := func(token string, status int, body any) regInstallation {
			t.Helper()
			res := e.Expect(status, "PATCH", path, token, body)
			if status != 200 {
				return regInstallation{}
			}
			return regInstallationOf(t, res)
		}

		// Optional values leave it pending; the required one makes it active.
		if got := patch("alice-token", 200, `{"configuration":{"region":"eu"}}`); got.Status != "pending" || string(got.Configuration) != `{"region":"eu"}` {
			t.Errorf("without apiKey: %+v", got)
		}
		// Values are kept as given: order, unknown keys, nesting, big numbers.
		config := `{"verbose":true,"apiKey":"k-1","extra":{"nested":[1,"two",null]},"retries":3.50,"region":"us","big":123456789012345678901234567890}`
		got := patch("alice-token", 200, `{"configuration":`+config+`}`)
		if got.Status != "active" || string(got.Configuration) != config {
			t.Errorf("with apiKey: status %q, configuration %s", got.Status, got.Configuration)
		}
		if read := regInstallationOf(t, e.Expect(200, "GET", path, "bob-token", nil)); string(read.Configuration) != config || read.Status != "active" {
			t.Errorf("read back: %+v", read)
		}

		// Values that contradict the form are refused, and nothing changes.
		refused := []struct{ name, body, field string }{
			{"string as number", `{"configuration":{"apiKey":5}}`, "configuration.apiKey"},
			{"value outside the enum", `{"configuration":{"apiKey":"k","region":"asia"}}`, "configuration.region"},
			{"number as string", `{"configuration":{"apiKey":"k","retries":"3"}}`, "configuration.retries"},
			{"boolean as string", `{"configuration":{"apiKey":"k","verbose":"yes"}}`, "configuration.verbose"},
			{"configuration an array", `{"configuration":[]}`, "configuration"},
			{"configuration a string", `{"configuration":"x"}`, "configuration"},
			{"configuration null", `{"configuration":null}`, "configuration"},
			{"bad value with good external ids", `{"configuration":{"apiKey":1},"externalIds":["e"]}`, "configuration.apiKey"},
			{"6 external ids", `{"externalIds":["1","2","3","4","5","6"]}`, "externalIds"},
			{"empty external id", `{"externalIds":[""]}`, "externalIds[0]"},
			{"external ids null", `{"externalIds":null}`, "externalIds"},
			{"unknown space_selection", `{"space_selection":"some"}`, "space_selection"},
			{"space_selection null", `{"space_selection":null}`, "space_selection"},
			{"unknown site_selection", `{"site_selection":"none"}`, "site_selection"},
			{"not JSON", `{"configuration":`, "JSON"},
			{"no body", "", "body"},
		}
		for _, tt := range refused {
			t.Run(tt.name, func(t *testing.T) {
				res := regExpect(t, e, 400, "PATCH", path, "alice-token", tt.body)
				if msg := res.ErrorMessage(t); !strings.Contains(msg, tt.field) {
					t.Errorf("message %q does not name %q", msg, tt.field)
				}
			})
		}
		after := regInstallationOf(t, e.Expect(200, "GET", path, "alice-token", nil))
		if string(after.Configuration) != config || after.Status != "active" || len(after.ExternalIDs) != 0 || after.SpaceSelection != "selected" {
			t.Errorf("refused updates changed it: %+v", after)
		}

		// Each field alone; absent fields stay.
		if got := patch("alice-token", 200, map[string]any{"externalIds": []string{"a", "b", "c", "d", "e"}}); fmt.Sprint(got.ExternalIDs) != "[a b c d e]" || string(got.Configuration) != config {
			t.Errorf("externalIds: %+v", got)
		}
		if got := patch("alice-token", 200, map[string]any{"space_selection": "all"}); got.SpaceSelection != "all" || got.Spaces != 2 || len(got.ExternalIDs) != 5 {
			t.Errorf("space_selection all: %+v", got)
		}
		if got := patch("alice-token", 200, map[string]any{"space_selection": "selected", "site_selection": "all"}); got.SpaceSelection != "selected" || got.Spaces != 0 || got.SiteSelection != "all" {
			t.Errorf("space_selection selected: %+v", got)
		}
		if got := patch("alice-token", 200, map[string]any{}); got.SiteSelection != "all" || string(got.Configuration) != config {
			t.Errorf("empty update: %+v", got)
		}
		// Dropping the required value makes it pending again.
		if got := patch("alice-token", 200, `{"configuration":{}}`); got.Status != "pending" || string(got.Configuration) != "{}" {
			t.Errorf("empty configuration: %+v", got)
		}
		// A paused installation stays paused whatever its configuration.
		if got := regInstallationOf(t, e.Expect(200, "PATCH", "/v1/integrations/paused-app/installations/paused-acme", "alice-token", `{"configuration":{"a":1}}`)); got.Status != "paused" {
			t.Errorf("paused installation became %q", got.Status)
		}
		// The API cannot set the status.
		if got := patch("alice-token", 200, `{"status":"active"}`); got.Status != "pending" {
			t.Errorf("status set through the API: %q", got.Status)
		}

		// Who may.
		configuredToken := regIntegrationToken(t, e, "configured", "alice-token")
		slackToken := regIntegrationToken(t, e, "slack", "alice-token")
		if got := patch(configuredToken, 200, map[string]any{"externalIds": []string{"from-token"}}); fmt.Sprint(got.ExternalIDs) != "[from-token]" {
			t.Errorf("integration token: %+v", got)
		}
		installToken := regInstallationToken(t, e, "configured", in.ID, configuredToken)
		if got := patch(installToken, 200, `{"configuration":{"apiKey":"from-installation"}}`); got.Status != "active" {
			t.Errorf("installation token: %+v", got)
		}
		patch("bob-token", 403, map[string]any{"externalIds": []string{"bob"}})
		patch("carol-token", 404, map[string]any{"externalIds": []string{"carol"}})
		patch("dave-token", 404, map[string]any{"externalIds": []string{"dave"}})
		patch(slackToken, 404, map[string]any{"externalIds": []string{"slack"}})
		patch("", 401, map[string]any{"externalIds": []string{"anonymous"}})
		e.Expect(404, "PATCH", "/v1/integrations/configured/installations/nothere", "alice-token", map[string]any{})
		e.Expect(404, "PATCH", "/v1/integrations/slack/installations/"+in.ID, "alice-token", map[string]any{})
		if got := regInstallationOf(t, e.Expect(200, "GET", path, "alice-token", nil)); fmt.Sprint(got.ExternalIDs) != "[from-token]" {
			t.Errorf("refused callers changed it: %+v", got)
		}
	})
}

func TestUninstallIntegration(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := regEnv(t, open)
		slackToken := regIntegrationToken(t, e, "slack", "alice-token")
		installToken := regInstallationToken(t, e, "slack", "slack-acme", slackToken)
		path := "/v1/integrations/slack/installations/slack-acme"

		e.Expect(403, "DELETE", path, "bob-token", nil)
		e.Expect(403, "DELETE", path, slackToken, nil)
		e.Expect(403, "DELETE", path, installToken, nil)
		e.Expect(401, "DELETE", path, "", nil)
		// What the caller may not see is as good as missing.
		e.Expect(204, "DELETE", path, "carol-token", nil)
		e.Expect(204, "DELETE", path, "dave-token", nil)
		e.Expect(204, "DELETE", "/v1/integrations/mermaid/installations/slack-acme", "alice-token", nil)
		e.Expect(204, "DELETE", "/v1/integrations/slack/installations/nothere", "alice-token", nil)
		e.Expect(204, "DELETE", "/v1/integrations/nothere/installations/slack-acme", "alice-token", nil)
		e.Expect(200, "GET", path, "alice-token", nil)

		e.Expect(205, "DELETE", path, "alice-token", nil)
		e.Expect(204, "DELETE", path, "alice-token", nil)
		e.Expect(404, "GET", path, "alice-token", nil)
		// Its space installations and tokens went with it; the other
		// organization's installation stays.
		e.Expect(404, "GET", path+"/spaces/handbook", "alice-token", nil)
		e.Expect(401, "GET", path, installToken, nil)
		ids := regInstallationIDs(t, e.Expect(200, "GET", "/v1/integrations/slack/installations", slackToken, nil))
		if fmt.Sprint(ids) != "[slack-globex]" {
			t.Errorf("installations left: %v", ids)
		}
		if got := names(t, e.Expect(200, "GET", "/v1/spaces/handbook/integrations", "alice-token", nil)); fmt.Sprint(got) != "[mermaid private-tool]" {
			t.Errorf("handbook: %v", got)
		}
		// The integration itself stays, and installs again from scratch.
		e.Expect(200, "GET", "/v1/integrations/slack", "alice-token", nil)
		again := regInstallationOf(t, e.Expect(201, "POST", "/v1/integrations/slack/installations", "alice-token", map[string]string{"organization": "acme"}))
		if again.ID == "slack-acme" || again.Spaces != 0 {
			t.Errorf("reinstalled: %+v", again)
		}
		// The staff user uninstalls anywhere; a private integration's
		// installation is uninstalled by the admins it is installed for.
		e.Expect(205, "DELETE", "/v1/integrations/slack/installations/slack-globex", apitest.AdminToken, nil)
		e.Expect(205, "DELETE", "/v1/integrations/private-tool/installations/private-acme", "alice-token", nil)
	})
}

func TestListIntegrationInstallations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := regEnv(t, open)
		slackToken := regIntegrationToken(t, e, "slack", "alice-token")
		mermaidToken := regIntegrationToken(t, e, "mermaid", "dave-token")
		installToken := regInstallationToken(t, e, "slack", "slack-acme", slackToken)
		e.Expect(200, "PATCH", "/v1/integrations/slack/installations/slack-globex", "dave-token", map[string]any{"externalIds": []string{"ext-1", "ext-2"}})
		e.Expect(200, "PATCH", "/v1/integrations/slack/installations/slack-acme", "alice-token", map[string]any{"externalIds": []string{"ext-2"}})

		tests := []struct {
			name, query, token string
			want               []string
		}{
			{"integration token", "", slackToken, []string{"slack-acme", "slack-globex"}},
			{"external id", "?externalId=ext-1", slackToken, []string{"slack-globex"}},
			{"shared external id", "?externalId=ext-2", slackToken, []string{"slack-acme", "slack-globex"}},
			{"unknown external id", "?externalId=ext-3", slackToken, []string{}},
			{"installation token", "", installToken, []string{"slack-acme"}},
			{"installation token, external id of another", "?externalId=ext-1", installToken, []string{}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := regExpect(t, e, 200, "GET", "/v1/integrations/slack/installations"+tt.query, tt.token, nil)
				if ids := regInstallationIDs(t, res); fmt.Sprint(ids) != fmt.Sprint(tt.want) {
					t.Errorf("got %v, want %v", ids, tt.want)
				}
				if count := res.Map(t)["count"]; count != float64(len(tt.want)) {
					t.Errorf("count %v", count)
				}
			})
		}
		// Paging.
		res := e.Expect(200, "GET", "/v1/integrations/slack/installations?limit=1", slackToken, nil)
		first := regInstallationIDs(t, res)
		next := res.Map(t)["next"].(map[string]any)["page"].(string)
		second := regInstallationIDs(t, e.Expect(200, "GET", "/v1/integrations/slack/installations?limit=1&page="+next, slackToken, nil))
		if fmt.Sprint(first, second) != "[slack-acme] [slack-globex]" {
			t.Errorf("pages %v %v", first, second)
		}
		e.Expect(400, "GET", "/v1/integrations/slack/installations?limit=1&page="+next, installToken, nil)

		// Only the integration's own tokens list them.
		e.Expect(403, "GET", "/v1/integrations/slack/installations", "alice-token", nil)
		e.Expect(403, "GET", "/v1/integrations/slack/installations", apitest.AdminToken, nil)
		e.Expect(404, "GET", "/v1/integrations/slack/installations", mermaidToken, nil)
		e.Expect(404, "GET", "/v1/integrations/private-tool/installations", slackToken, nil)
		e.Expect(401, "GET", "/v1/integrations/slack/installations", "", nil)
		regSameError(t, e.Do("GET", "/v1/integrations/slack/installations", mermaidToken, nil),
			e.Do("GET", "/v1/integrations/slacl/installations", mermaidToken, nil), "slack", "slacl")
	})
}

func TestConcurrentInstallIntegration(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := regEnv(t, open)
		const n = 32
		responses := make([]*apitest.Response, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				responses[i] = e.Do("POST", "/v1/integrations/quiet-space/installations", "dave-token", map[string]string{"organization": "globex"})
			}()
		}
		close(start)
		wg.Wait()
		ids := map[string]bool{}
		for i, res := range responses {
			if res == nil {
				t.Fatalf("request %d got no answer", i)
			}
			if res.Status != http.StatusCreated {
				t.Errorf("request %d: status %d: %s", i, res.Status, res.Body)
				continue
			}
			ids[regInstallationOf(t, res).ID] = true
		}
		if len(ids) != 1 {
			t.Errorf("answers name %d installations: %v", len(ids), ids)
		}
		token := regIntegrationToken(t, e, "quiet-space", "alice-token")
		got := regInstallationIDs(t, e.Expect(200, "GET", "/v1/integrations/quiet-space/installations", token, nil))
		if len(got) != 2 { // quiet-acme and the one on globex
			t.Errorf("installations of quiet-space: %v", got)
		}
		for id := range ids {
			if !strings.Contains(fmt.Sprint(got), id) {
				t.Errorf("answered installation %s is not stored: %v", id, got)
			}
		}
		if strings.Contains(e.Logs(), `"level":"ERROR"`) {
			t.Errorf("the server logged errors:\n%s", e.Logs())
		}
	})
}

// TestRepublishRecomputesStatuses checks that a publication that changes the
// required configuration properties brings the status of every installation
// and space installation in line at once, paused ones aside, and tells the
// integration as a PATCH does: installation_setup and
// space_installation_setup with the previous status.
func TestRepublishRecomputesStatuses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := regEnv(t, open)
		base := "/v1/integrations/quiet-space/installations/quiet-acme"
		e.Expect(201, "POST", base+"/spaces", "alice-token", map[string]string{"space": "handbook"})
		publish := func(name, title string, account, space any) {
			t.Helper()
			p := regPublication("acme", title)
			forms := map[string]any{"account": account}
			if space != nil {
				forms["space"] = space
			}
			p["configurations"] = forms
			e.Expect(200, "POST", "/v1/integrations/"+name, "alice-token", p)
		}
		required := func(key, typ string) map[string]any {
			return map[string]any{"properties": map[string]any{key: map[string]string{"type": typ}}, "required": []string{key}}
		}
		optional := map[string]any{"properties": map[string]any{"apiKey": map[string]string{"type": "string"}}}
		statuses := func() string {
			t.Helper()
			in := regInstallationOf(t, e.Expect(200, "GET", base, "alice-token", nil))
			handbook := regSpaceInstallationOf(t, e.Expect(200, "GET", base+"/spaces/handbook", "alice-token", nil))
			blog := regSpaceInstallationOf(t, e.Expect(200, "GET", base+"/spaces/blog", "alice-token", nil))
			return in.Status + " " + handbook.Status + " " + blog.Status
		}
		type setup struct{ Type, InstallationID, SpaceID, Status, Previous string }
		events := func() []setup {
			t.Helper()
			var list struct {
				Items []struct {
					Payload struct {
						Type, InstallationID, SpaceID, Status string
						Previous                              struct{ Status string }
					}
				}
			}
			e.Expect(200, "GET", "/v1/integrations/quiet-space/events", "alice-token", nil).JSON(t, &list)
			var out []setup
			for _, ev := range list.Items {
				p := ev.Payload
				out = append(out, setup{p.Type, p.InstallationID, p.SpaceID, p.Status, p.Previous.Status})
			}
			return out
		}
		if got := statuses(); got != "active active paused" {
			t.Fatalf("before: %s", got)
		}
		seen := len(events())

		// New required properties make both pending; the paused space
		// installation stays paused. Each change has its event, newest first.
		publish("quiet-space", "Quiet", required("apiKey", "string"), required("channel", "string"))
		if got := statuses(); got != "pending pending paused" {
			t.Errorf("with required properties: %s", got)
		}
		got := events()
		want := []setup{
			{"space_installation_setup", "quiet-acme", "handbook", "pending", "active"},
			{"installation_setup", "quiet-acme", "", "pending", "active"},
		}
		if len(got) != seen+2 || fmt.Sprint(got[:2]) != fmt.Sprint(want) {
			t.Errorf("events after the publication: %+v", got)
		}

		// Values for them make them active; publishing the same forms again
		// changes nothing and tells nothing.
		e.Expect(200, "PATCH", base, "alice-token", `{"configuration":{"apiKey":"k"}}`)
		e.Expect(200, "PATCH", base+"/spaces/handbook", "alice-token", `{"configuration":{"channel":"c"}}`)
		seen = len(events())
		publish("quiet-space", "Quiet", required("apiKey", "string"), required("channel", "string"))
		if got := statuses(); got != "active active paused" || len(events()) != seen {
			t.Errorf("same forms again: %s, %d new events", got, len(events())-seen)
		}
		// A form that the stored values contradict does not refuse the
		// publication: the values are kept and count as given.
		publish("quiet-space", "Quiet", required("apiKey", "number"), required("channel", "boolean"))
		if got := statuses(); got != "active active paused" || len(events()) != seen {
			t.Errorf("contradicted values: %s, %d new events", got, len(events())-seen)
		}
		// Another required property makes the installation pending; no
		// longer requiring it makes it active again.
		publish("quiet-space", "Quiet", required("region", "string"), optional)
		if got := statuses(); got != "pending active paused" {
			t.Errorf("a new required account property: %s", got)
		}
		publish("quiet-space", "Quiet", optional, optional)
		if got := statuses(); got != "active active paused" {
			t.Errorf("no required property: %s", got)
		}
		if got := events(); len(got) != seen+2 || fmt.Sprint(got[:2]) != fmt.Sprint([]setup{
			{"installation_setup", "quiet-acme", "", "active", "pending"},
			{"installation_setup", "quiet-acme", "", "pending", "active"},
		}) {
			t.Errorf("events of the account changes: %+v", got)
		}

		// A paused installation stays paused, and is not told.
		publish("paused-app", "Paused App", required("apiKey", "string"), nil)
		if in := regInstallationOf(t, e.Expect(200, "GET", "/v1/integrations/paused-app/installations/paused-acme", "alice-token", nil)); in.Status != "paused" {
			t.Errorf("paused installation became %q", in.Status)
		}
	})
}
