package api_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"integrations"
	"integrations/internal/apitest"
	"integrations/internal/storetest"
)

func TestListOrganizationIntegrations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := regEnv(t, open)
		slackToken := regIntegrationToken(t, e, "slack", "alice-token")
		acmeToken := regInstallationToken(t, e, "slack", "slack-acme", slackToken)
		tests := []struct {
			name, path, token string
			want              []string
		}{
			// Public ones, those acme owns (importer) and those installed on it
			// (github, private-tool), whatever their visibility.
			{"admin", "/v1/orgs/acme/integrations", "alice-token", []string{"configured", "github", "importer", "mermaid", "org-only", "paused-app", "private-tool", "quiet-space", "slack"}},
			{"read member", "/v1/orgs/acme/integrations", "bob-token", []string{"configured", "github", "importer", "mermaid", "org-only", "paused-app", "private-tool", "quiet-space", "slack"}},
			{"other organization", "/v1/orgs/globex/integrations", "dave-token", []string{"configured", "github", "mermaid", "org-only", "paused-app", "private-tool", "quiet-space", "slack"}},
			{"staff", "/v1/orgs/globex/integrations", apitest.AdminToken, []string{"configured", "github", "mermaid", "org-only", "paused-app", "private-tool", "quiet-space", "slack"}},
			{"integration token where installed", "/v1/orgs/globex/integrations", slackToken, []string{"configured", "github", "mermaid", "org-only", "paused-app", "private-tool", "quiet-space", "slack"}},
			{"installation token", "/v1/orgs/acme/integrations?search=i", acmeToken, []string{"configured", "github", "importer", "mermaid", "private-tool", "quiet-space"}},
			{"search", "/v1/orgs/acme/integrations?search=GIT", "alice-token", []string{"github"}},
			{"blocks", "/v1/orgs/acme/integrations?blocks=true", "alice-token", []string{"mermaid", "paused-app", "private-tool", "slack"}},
			{"content sources", "/v1/orgs/acme/integrations?contentSources=true", "alice-token", []string{"importer"}},
			{"category", "/v1/orgs/globex/integrations?category=content", "dave-token", []string{}},
			{"owner", "/v1/orgs/acme/integrations?owner=globex", "alice-token", []string{"github", "mermaid", "private-tool"}},
			{"scope", "/v1/orgs/acme/integrations?scope=space:content:write", "alice-token", []string{"github", "importer"}},
			{"target", "/v1/orgs/acme/integrations?target=space", "alice-token", []string{"mermaid"}},
			{"block domain", "/v1/orgs/acme/integrations?blockDomain=mermaid.live", "alice-token", []string{"mermaid"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := regExpect(t, e, 200, "GET", tt.path, tt.token, nil)
				if got := names(t, res); fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("got %v, want %v", got, tt.want)
				}
				if count := res.Map(t)["count"]; count != float64(len(tt.want)) {
					t.Errorf("count %v", count)
				}
			})
		}
		// Paging.
		var got []string
		path := "/v1/orgs/acme/integrations?limit=4"
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatal("paging does not end")
			}
			m := e.Expect(200, "GET", path, "alice-token", nil)
			got = append(got, names(t, m)...)
			next, ok := m.Map(t)["next"].(map[string]any)
			if !ok {
				break
			}
			path = "/v1/orgs/acme/integrations?limit=4&page=" + url.QueryEscape(next["page"].(string))
		}
		if len(got) != 9 {
			t.Errorf("pages gave %v", got)
		}

		refused := []struct {
			name, path, token string
			status            int
		}{
			{"not a member", "/v1/orgs/acme/integrations", "carol-token", 404},
			{"member of another organization", "/v1/orgs/globex/integrations", "alice-token", 404},
			{"installation token of another organization", "/v1/orgs/globex/integrations", acmeToken, 404},
			{"unknown organization", "/v1/orgs/nowhere/integrations", "alice-token", 404},
			{"invalid organization id", "/v1/orgs/a.b/integrations", "alice-token", 400},
			{"unknown category", "/v1/orgs/acme/integrations?category=games", "alice-token", 400},
			{"no token", "/v1/orgs/acme/integrations", "", 401},
		}
		for _, tt := range refused {
			t.Run(tt.name, func(t *testing.T) {
				regExpect(t, e, tt.status, "GET", tt.path, tt.token, nil)
			})
		}
		regSameError(t, e.Do("GET", "/v1/orgs/acme/integrations", "carol-token", nil),
			e.Do("GET", "/v1/orgs/acmf/integrations", "carol-token", nil), "acme", "acmf")
	})
}

// regOrgInstallations returns "integration/installation" for each item of
// listOrganizationInstallations, checking that each pair agrees.
func regOrgInstallations(t *testing.T, res *apitest.Response) []string {
	t.Helper()
	var list struct {
		Items []struct {
			Installation regInstallation
			Integration  regIntegration
		}
	}
	res.JSON(t, &list)
	out := []string{}
	for _, it := range list.Items {
		if !strings.Contains(it.Installation.URLs.Location, "/integrations/"+it.Integration.Name+"/") {
			t.Errorf("installation %s is not of %s", it.Installation.URLs.Location, it.Integration.Name)
		}
		out = append(out, it.Integration.Name+"/"+it.Installation.ID)
	}
	return out
}

func TestListOrganizationInstallations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := regEnv(t, open)
		slackToken := regIntegrationToken(t, e, "slack", "alice-token")
		acmeToken := regInstallationToken(t, e, "slack", "slack-acme", slackToken)
		// By creation; the fixture creates them at once, so by id.
		all := []string{"github/github-acme", "mermaid/mermaid-acme", "paused-app/paused-acme", "private-tool/private-acme", "quiet-space/quiet-acme", "slack/slack-acme"}
		tests := []struct {
			name, path, token string
			want              []string
		}{
			{"admin", "/v1/orgs/acme/installations", "alice-token", all},
			{"read member", "/v1/orgs/acme/installations", "bob-token", all},
			{"staff", "/v1/orgs/acme/installations", apitest.AdminToken, all},
			{"search on name", "/v1/orgs/acme/installations?search=SLA", "alice-token", []string{"slack/slack-acme"}},
			{"search on title", "/v1/orgs/acme/installations?search=diagrams", "alice-token", []string{"mermaid/mermaid-acme"}},
			{"search matches nothing", "/v1/orgs/acme/installations?search=zzz", "alice-token", []string{}},
			{"other organization", "/v1/orgs/globex/installations", "dave-token", []string{"slack/slack-globex"}},
			// Tokens see their own only.
			{"integration token", "/v1/orgs/acme/installations", slackToken, []string{"slack/slack-acme"}},
			{"integration token, other organization", "/v1/orgs/globex/installations", slackToken, []string{"slack/slack-globex"}},
			{"installation token", "/v1/orgs/acme/installations", acmeToken, []string{"slack/slack-acme"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := regExpect(t, e, 200, "GET", tt.path, tt.token, nil)
				if got := regOrgInstallations(t, res); fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("got %v, want %v", got, tt.want)
				}
				if count := res.Map(t)["count"]; count != float64(len(tt.want)) {
					t.Errorf("count %v", count)
				}
			})
		}
		// Paging.
		res := e.Expect(200, "GET", "/v1/orgs/acme/installations?limit=4", "alice-token", nil)
		first := regOrgInstallations(t, res)
		next := res.Map(t)["next"].(map[string]any)["page"].(string)
		second := regOrgInstallations(t, e.Expect(200, "GET", "/v1/orgs/acme/installations?limit=4&page="+url.QueryEscape(next), "alice-token", nil))
		if fmt.Sprint(append(first, second...)) != fmt.Sprint(all) {
			t.Errorf("pages %v %v", first, second)
		}
		refused := []struct {
			name, path, token string
			status            int
		}{
			{"not a member", "/v1/orgs/acme/installations", "carol-token", 404},
			{"installation token of another organization", "/v1/orgs/globex/installations", acmeToken, 404},
			{"unknown organization", "/v1/orgs/nowhere/installations", "alice-token", 404},
			{"search too long", "/v1/orgs/acme/installations?search=" + strings.Repeat("s", 257), "alice-token", 400},
			{"no token", "/v1/orgs/acme/installations", "", 401},
		}
		for _, tt := range refused {
			t.Run(tt.name, func(t *testing.T) {
				regExpect(t, e, tt.status, "GET", tt.path, tt.token, nil)
			})
		}
	})
}

func TestOrganizationIntegrationStatus(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := regEnv(t, open)
		slackToken := regIntegrationToken(t, e, "slack", "alice-token")
		e.Expect(201, "POST", "/v1/integrations/configured/installations", "alice-token", map[string]string{"organization": "acme"})
		tests := []struct {
			name, org, integration, token string
			status                        int
			want                          string
		}{
			{"active", "acme", "slack", "alice-token", 200, "active"},
			{"read member", "acme", "slack", "bob-token", 200, "active"},
			{"paused", "acme", "paused-app", "alice-token", 200, "paused"},
			{"pending", "acme", "configured", "bob-token", 200, "pending"},
			{"private integration installed here", "acme", "private-tool", "bob-token", 200, "active"},
			{"other organization", "globex", "slack", "dave-token", 200, "active"},
			{"not installed", "acme", "org-only", "alice-token", 404, ""},
			{"unknown integration", "acme", "nothere", "alice-token", 404, ""},
			{"not a member", "acme", "slack", "carol-token", 404, ""},
			{"member of another organization", "globex", "slack", "alice-token", 404, ""},
			{"invalid name", "acme", "a:b", "alice-token", 400, ""},
			{"integration token", "acme", "slack", slackToken, 403, ""},
			{"no token", "acme", "slack", "", 401, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := regExpect(t, e, tt.status, "GET", "/v1/orgs/"+tt.org+"/integrations/"+tt.integration+"/installation_status", tt.token, nil)
				if tt.status == 200 {
					if got := res.Map(t)["status"]; got != tt.want {
						t.Errorf("status %v, want %s", got, tt.want)
					}
				}
			})
		}
		// A private integration of another organization that is not
		// installed here reads as missing.
		regSameError(t, e.Do("GET", "/v1/orgs/globex/integrations/importer/installation_status", "dave-token", nil),
			e.Do("GET", "/v1/orgs/globex/integrations/importes/installation_status", "dave-token", nil), "importer", "importes")
		// The status follows the installation.
		e.Expect(205, "DELETE", "/v1/integrations/slack/installations/slack-acme", "alice-token", nil)
		e.Expect(404, "GET", "/v1/orgs/acme/integrations/slack/installation_status", "alice-token", nil)
	})
}

// regInstalled returns "integration:type:target:status" for each item of
// listOrganizationIntegrationsStatus.
func regInstalled(t *testing.T, res *apitest.Response) []string {
	t.Helper()
	var list struct {
		Items []struct {
			Status      string
			Integration regIntegration
			Target      struct{ Type, OrganizationID, SpaceID, SiteID string }
		}
	}
	res.JSON(t, &list)
	out := []string{}
	for _, it := range list.Items {
		out = append(out, it.Integration.Name+":"+it.Target.Type+":"+it.Target.OrganizationID+it.Target.SpaceID+it.Target.SiteID+":"+it.Status)
	}
	return out
}

func TestListOrganizationIntegrationsStatus(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := regEnv(t, open)
		slackToken := regIntegrationToken(t, e, "slack", "alice-token")
		acmeToken := regInstallationToken(t, e, "slack", "slack-acme", slackToken)
		base := "/v1/orgs/acme/integrations/installations-status"
		// By creation; the fixture creates them at once, so by id.
		orgs := []string{"github:organization:acme:active", "mermaid:organization:acme:active", "paused-app:organization:acme:paused",
			"private-tool:organization:acme:active", "quiet-space:organization:acme:active", "slack:organization:acme:active"}
		spaces := []string{"github:space:blog:active", "mermaid:space:blog:paused", "private-tool:space:handbook:active",
			"quiet-space:space:blog:paused", "slack:space:handbook:active"}
		tests := []struct {
			name, query, token string
			want               []string
		}{
			{"default target", "", "alice-token", orgs},
			{"target organization", "?target=organization", "bob-token", orgs},
			{"target space", "?target=space", "alice-token", spaces},
			{"target space, one space", "?target=space&space=handbook", "alice-token", []string{"private-tool:space:handbook:active", "slack:space:handbook:active"}},
			{"target site", "?target=site", "alice-token", []string{}},
			{"target space, a space of another organization", "?target=space&space=secret", "erin-token", []string{}},
			// Tokens see their own integration only.
			{"integration token", "", slackToken, []string{"slack:organization:acme:active"}},
			{"integration token, spaces", "?target=space", slackToken, []string{"slack:space:handbook:active"}},
			{"installation token", "", acmeToken, []string{"slack:organization:acme:active"}},
			{"installation token, spaces", "?target=space", acmeToken, []string{"slack:space:handbook:active"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := regExpect(t, e, 200, "GET", base+tt.query, tt.token, nil)
				if got := regInstalled(t, res); fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("got %v, want %v", got, tt.want)
				}
				if count := res.Map(t)["count"]; count != float64(len(tt.want)) {
					t.Errorf("count %v", count)
				}
			})
		}
		// Paging.
		res := e.Expect(200, "GET", base+"?target=space&limit=3", "alice-token", nil)
		first := regInstalled(t, res)
		next := res.Map(t)["next"].(map[string]any)["page"].(string)
		second := regInstalled(t, e.Expect(200, "GET", base+"?target=space&limit=3&page="+url.QueryEscape(next), "alice-token", nil))
		if fmt.Sprint(append(first, second...)) != fmt.Sprint(spaces) {
			t.Errorf("pages %v %v", first, second)
		}
		e.Expect(400, "GET", base+"?limit=3&page="+url.QueryEscape(next), "alice-token", nil)

		refused := []struct {
			name, path, token string
			status            int
			message           string
		}{
			{"space without target", base + "?space=handbook", "alice-token", 400, "space"},
			{"space with target organization", base + "?target=organization&space=handbook", "alice-token", 400, "space"},
			{"site without target", base + "?site=s1", "alice-token", 400, "site"},
			{"unknown target", base + "?target=moon", "alice-token", 400, "target"},
			{"space the caller may not see", base + "?target=space&space=secret", "alice-token", 404, "not found"},
			{"unknown space", base + "?target=space&space=nothere", "alice-token", 404, "not found"},
			{"not a member", base, "carol-token", 404, "not found"},
			{"installation token of another organization", "/v1/orgs/globex/integrations/installations-status", acmeToken, 404, "not found"},
			{"no token", base, "", 401, "Authorization"},
		}
		for _, tt := range refused {
			t.Run(tt.name, func(t *testing.T) {
				res := regExpect(t, e, tt.status, "GET", tt.path, tt.token, nil)
				if msg := res.ErrorMessage(t); !strings.Contains(msg, tt.message) {
					t.Errorf("message %q does not mention %q", msg, tt.message)
				}
			})
		}
	})
}
