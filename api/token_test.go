package api_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"integrations"
	"integrations/internal/apitest"
	"integrations/internal/storetest"
	"integrations/sqlstore"
)

func TestCreateIntegrationToken(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := regEnv(t, open)
		first := regIntegrationToken(t, e, "slack", "alice-token")
		second := regIntegrationToken(t, e, "slack", apitest.AdminToken)
		private := regIntegrationToken(t, e, "private-tool", "dave-token")
		if first == second {
			t.Error("two mints gave the same token")
		}
		// Each speaks for its integration.
		for _, token := range []string{first, second} {
			ids := regInstallationIDs(t, e.Expect(200, "GET", "/v1/integrations/slack/installations", token, nil))
			if len(ids) != 2 {
				t.Errorf("slack token lists %v", ids)
			}
		}
		e.Expect(200, "GET", "/v1/integrations/private-tool/installations", private, nil)
		e.Expect(404, "GET", "/v1/integrations/slack/installations", private, nil)

		tests := []struct {
			name, integration, token string
			status                   int
			message                  string
		}{
			{"read member of the owner", "slack", "bob-token", 403, "admin"},
			{"not a member, public integration", "slack", "carol-token", 403, "admin"},
			{"admin of another organization where it is installed", "slack", "dave-token", 403, "admin"},
			{"private integration of another organization", "importer", "dave-token", 404, "not found"},
			{"private integration installed on the caller's organization", "private-tool", "alice-token", 404, "not found"},
			{"unknown integration", "nothere", "alice-token", 404, "not found"},
			{"invalid name", "a:b", "alice-token", 400, "integrationName"},
			{"integration token", "slack", first, 403, "integration"},
			{"no token", "slack", "", 401, "Authorization"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := regExpect(t, e, tt.status, "POST", "/ext/integrations/"+tt.integration+"/tokens", tt.token, nil)
				if msg := res.ErrorMessage(t); !strings.Contains(msg, tt.message) {
					t.Errorf("message %q does not mention %q", msg, tt.message)
				}
			})
		}
		regSameError(t, e.Do("POST", "/ext/integrations/importer/tokens", "dave-token", nil),
			e.Do("POST", "/ext/integrations/importes/tokens", "dave-token", nil), "importer", "importes")
	})
}

func TestCreateInstallationToken(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := regEnv(t, open)
		slackToken := regIntegrationToken(t, e, "slack", "alice-token")
		mermaidToken := regIntegrationToken(t, e, "mermaid", "dave-token")

		// The official client sends this POST with no body and no
		// Content-Type, and reads a JSON answer.
		// send checks the answer against the spec, as e.Do does.
		res := send(t, e, "", "POST", "/v1/integrations/slack/installations/slack-acme/tokens", bearer(slackToken), "")
		if res.Status != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			t.Errorf("bodiless POST: status %d, Content-Type %q", res.Status, res.Header.Get("Content-Type"))
		}
		// An empty JSON body works as well.
		var out struct{ Token string }
		e.Expect(200, "POST", "/v1/integrations/slack/installations/slack-acme/tokens", slackToken, map[string]any{}).JSON(t, &out)
		if out.Token == "" {
			t.Error("no token")
		}
		a := regInstallationToken(t, e, "slack", "slack-acme", slackToken)
		b := regInstallationToken(t, e, "slack", "slack-acme", slackToken)
		if a == b {
			t.Error("two mints gave the same token")
		}

		tests := []struct {
			name, path, token string
			status            int
		}{
			{"user token", "/v1/integrations/slack/installations/slack-acme/tokens", "alice-token", 403},
			{"staff", "/v1/integrations/slack/installations/slack-acme/tokens", apitest.AdminToken, 403},
			{"installation token", "/v1/integrations/slack/installations/slack-acme/tokens", a, 403},
			{"another integration's token", "/v1/integrations/slack/installations/slack-acme/tokens", mermaidToken, 404},
			{"another integration's installation", "/v1/integrations/mermaid/installations/slack-acme/tokens", mermaidToken, 404},
			{"unknown installation", "/v1/integrations/slack/installations/nothere/tokens", slackToken, 404},
			{"no token", "/v1/integrations/slack/installations/slack-acme/tokens", "", 401},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				regExpect(t, e, tt.status, "POST", tt.path, tt.token, nil)
			})
		}
		regSameError(t, e.Do("POST", "/v1/integrations/slack/installations/slack-acme/tokens", mermaidToken, nil),
			e.Do("POST", "/v1/integrations/slack/installations/slack-acmf/tokens", mermaidToken, nil), "slack-acme", "slack-acmf")
	})
}

// TestInstallationTokenReach checks what an installation token may do: the
// operations the spec opens to the integration-installation scheme, on its
// own installation and its spaces, and nothing of another installation.
func TestInstallationTokenReach(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := regEnv(t, open)
		slackToken := regIntegrationToken(t, e, "slack", "alice-token")
		token := regInstallationToken(t, e, "slack", "slack-acme", slackToken)
		own := "/v1/integrations/slack/installations/slack-acme"
		other := "/v1/integrations/slack/installations/slack-globex"

		allowed := []struct {
			name, method, path string
			body               any
			status             int
		}{
			{"get its integration", "GET", "/v1/integrations/slack", nil, 200},
			{"list integrations", "GET", "/v1/integrations", nil, 200},
			{"get its installation", "GET", own, nil, 200},
			{"update its installation", "PATCH", own, map[string]any{"externalIds": []string{"by-token"}}, 200},
			{"list the installations", "GET", "/v1/integrations/slack/installations", nil, 200},
			{"list its spaces", "GET", own + "/spaces", nil, 200},
			{"enable a space", "POST", own + "/spaces", map[string]string{"space": "blog"}, 201},
			{"get a space installation", "GET", own + "/spaces/blog", nil, 200},
			{"update a space installation", "PATCH", own + "/spaces/blog", map[string]any{"configuration": map[string]int{"n": 1}}, 200},
			{"disable a space", "DELETE", own + "/spaces/blog", nil, 205},
			{"list the space installations", "GET", "/v1/integrations/slack/spaces", nil, 200},
			{"its organization's integrations", "GET", "/v1/orgs/acme/integrations", nil, 200},
			{"its organization's installations", "GET", "/v1/orgs/acme/installations", nil, 200},
			{"its organization's statuses", "GET", "/v1/orgs/acme/integrations/installations-status", nil, 200},
		}
		for _, tt := range allowed {
			t.Run(tt.name, func(t *testing.T) {
				regExpect(t, e, tt.status, tt.method, tt.path, token, tt.body)
			})
		}
		if in := regInstallationOf(t, e.Expect(200, "GET", own, "alice-token", nil)); len(in.ExternalIDs) != 1 || in.ExternalIDs[0] != "by-token" {
			t.Errorf("the token's update did not stick: %+v", in)
		}
		ids := regInstallationIDs(t, e.Expect(200, "GET", "/v1/integrations/slack/installations", token, nil))
		if len(ids) != 1 || ids[0] != "slack-acme" {
			t.Errorf("the token lists %v", ids)
		}

		refused := []struct {
			name, method, path string
			body               any
			status             int
		}{
			{"another installation", "GET", other, nil, 404},
			{"update another installation", "PATCH", other, map[string]any{"externalIds": []string{"x"}}, 404},
			{"another installation's spaces", "GET", other + "/spaces", nil, 404},
			{"enable another installation on a space", "POST", other + "/spaces", map[string]string{"space": "secret"}, 404},
			{"another installation's space installation", "GET", other + "/spaces/secret", nil, 404},
			{"another integration's installation in the same organization", "GET", "/v1/integrations/mermaid/installations/mermaid-acme", nil, 404},
			{"another integration's installations", "GET", "/v1/integrations/mermaid/installations", nil, 404},
			{"another integration's space installations", "GET", "/v1/integrations/mermaid/spaces", nil, 404},
			{"another organization's installations", "GET", "/v1/orgs/globex/installations", nil, 404},
			{"another organization's integrations", "GET", "/v1/orgs/globex/integrations", nil, 404},
			{"a space of another organization", "POST", own + "/spaces", map[string]string{"space": "secret"}, 404},
			// Operations whose security leaves the scheme out.
			{"uninstall", "DELETE", own, nil, 403},
			{"install", "POST", "/v1/integrations/slack/installations", map[string]string{"organization": "acme"}, 403},
			{"mint installation tokens", "POST", own + "/tokens", nil, 403},
			{"publish", "POST", "/v1/integrations/slack", regPublication("acme", "Slack"), 403},
			{"unpublish", "DELETE", "/v1/integrations/slack", nil, 403},
			{"installation status", "GET", "/v1/orgs/acme/integrations/slack/installation_status", nil, 403},
			{"mint integration tokens", "POST", "/ext/integrations/slack/tokens", nil, 403},
		}
		for _, tt := range refused {
			t.Run(tt.name, func(t *testing.T) {
				regExpect(t, e, tt.status, tt.method, tt.path, token, tt.body)
			})
		}
		// Another installation's data answers as missing data does.
		regSameError(t, e.Do("GET", other, token, nil), e.Do("GET", other+"x", token, nil), "slack-globex", "slack-globexx")
		regSameError(t, e.Do("GET", other+"/spaces", token, nil), e.Do("GET", other+"x/spaces", token, nil), "slack-globex", "slack-globexx")
		// Refused calls changed nothing.
		if in := regInstallationOf(t, e.Expect(200, "GET", other, "dave-token", nil)); len(in.ExternalIDs) != 0 {
			t.Errorf("another installation changed: %+v", in)
		}
		e.Expect(404, "GET", other+"/spaces/secret", "dave-token", nil)
		e.Expect(200, "GET", own, "alice-token", nil)
		e.Expect(200, "GET", "/v1/integrations/slack", "alice-token", nil)
	})
}

// TestInstallationTokenExpires checks that an installation token lasts
// integrations.InstallationTokenTTL, on a store whose clock the test sets.
func TestInstallationTokenExpires(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		store := open(t)
		db, ok := store.(*sqlstore.DB)
		if !ok {
			t.Fatalf("store %T has no clock to set", store)
		}
		var now atomic.Int64
		now.Store(time.Now().UnixMicro())
		db.Now = func() time.Time { return time.UnixMicro(now.Load()) }
		e := apitest.New(t, db)
		e.Seed(regWorld)
		slackToken := regIntegrationToken(t, e, "slack", "alice-token")
		token := regInstallationToken(t, e, "slack", "slack-acme", slackToken)
		path := "/v1/integrations/slack/installations/slack-acme"

		now.Add((integrations.InstallationTokenTTL - time.Second).Microseconds())
		e.Expect(200, "GET", path, token, nil)
		now.Add(time.Second.Microseconds())
		res := e.Expect(401, "GET", path, token, nil)
		if msg := res.ErrorMessage(t); !strings.Contains(msg, "expired") {
			t.Errorf("message %q does not say the token expired", msg)
		}
		// Integration tokens do not expire; they mint a fresh one.
		fresh := regInstallationToken(t, e, "slack", "slack-acme", slackToken)
		e.Expect(200, "GET", path, fresh, nil)
	})
}
