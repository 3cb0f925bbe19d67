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

// world is the fixture most API tests start from: organization acme with
// alice (admin), bob (read) and carol (no member); organization globex with
// dave (admin); integrations of every kind of enablement in acme's spaces.
const world = `
users:
  - {id: alice, displayName: Alice, email: alice@example.com, tokens: [alice-token]}
  - {id: bob, displayName: Bob, email: bob@example.com, tokens: [bob-token]}
  - {id: carol, displayName: Carol, email: carol@example.com, tokens: [carol-token]}
  - {id: dave, displayName: Dave, email: dave@example.com, tokens: [dave-token]}
organizations:
  - {id: acme, title: Acme, hostname: acme, members: [{user: alice, role: admin}, {user: bob, role: read}]}
  - {id: globex, title: Globex, members: [{user: dave, role: admin}]}
spaces:
  - {id: handbook, organization: acme, title: Handbook}
  - {id: blog, organization: acme, title: Blog}
  - {id: secret, organization: globex, title: Secret}
integrations:
  - {name: slack, organization: acme, title: Slack, visibility: public, scopes: [space:content:read],
     blocks: [{id: message, title: Message}]}
  - {name: mermaid, organization: globex, title: Mermaid Diagrams, visibility: public, target: space, scopes: [space:content:read],
     blocks: [{id: diagram, title: Diagram, urlUnfurl: ["https://mermaid.live/edit"]}]}
  - {name: github, organization: globex, title: GitHub Sync, visibility: unlisted, scopes: [space:content:write]}
  - {name: paused-app, organization: acme, title: Paused App, visibility: public, blocks: [{id: p, title: Paused block}]}
  - {name: quiet-space, organization: acme, title: Quiet, visibility: public}
  - {name: private-tool, organization: globex, title: Private Tool, visibility: private, blocks: [{id: t, title: Tool}]}
installations:
  - {id: slack-acme, integration: slack, organization: acme, space_selection: selected, spaces: [{space: handbook}]}
  - {id: mermaid-acme, integration: mermaid, organization: acme, space_selection: all, spaces: [{space: blog, status: paused}]}
  - {id: github-acme, integration: github, organization: acme, space_selection: selected, spaces: [{space: blog}]}
  - {id: paused-acme, integration: paused-app, organization: acme, status: paused, space_selection: all}
  - {id: quiet-acme, integration: quiet-space, organization: acme, space_selection: selected, spaces: [{space: blog, status: paused}]}
  - {id: private-acme, integration: private-tool, organization: acme, space_selection: selected, spaces: [{space: handbook}]}
  - {id: slack-globex, integration: slack, organization: globex, space_selection: all}
`

func names(t *testing.T, res *apitest.Response) []string {
	t.Helper()
	var list struct {
		Items []struct {
			Name string `json:"name"`
		} `json:"items"`
	}
	res.JSON(t, &list)
	out := []string{}
	for _, i := range list.Items {
		out = append(out, i.Name)
	}
	return out
}

func TestListSpaceIntegrations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		tests := []struct {
			name, path, token string
			want              []string
		}{
			// selected + space installation; all; private integration installed here.
			{"handbook", "/v1/spaces/handbook/integrations", "alice-token", []string{"mermaid", "private-tool", "slack"}},
			// all but paused on this space; paused org installation; paused space installation.
			{"blog", "/v1/spaces/blog/integrations", "alice-token", []string{"github"}},
			{"read member", "/v1/spaces/handbook/integrations", "bob-token", []string{"mermaid", "private-tool", "slack"}},
			{"search on name", "/v1/spaces/handbook/integrations?search=SLA", "alice-token", []string{"slack"}},
			{"search on title", "/v1/spaces/handbook/integrations?search=diagrams", "alice-token", []string{"mermaid"}},
			{"search matches nothing", "/v1/spaces/handbook/integrations?search=zzz", "alice-token", []string{}},
			{"search with LIKE characters", "/v1/spaces/handbook/integrations?search=%25", "alice-token", []string{}},
			{"other org, all selected", "/v1/spaces/secret/integrations", "dave-token", []string{"slack"}},
			{"staff sees any space", "/v1/spaces/secret/integrations", apitest.AdminToken, []string{"slack"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := e.Expect(200, "GET", tt.path, tt.token, nil)
				if got := names(t, res); fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("got %v, want %v", got, tt.want)
				}
				if count := res.Map(t)["count"]; count != float64(len(tt.want)) {
					t.Errorf("count %v, want %d", count, len(tt.want))
				}
			})
		}
	})
}

func TestListSpaceIntegrationsPermissionsReflectTheCaller(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		admin := func(token string) map[string]bool {
			var list struct {
				Items []struct {
					Name        string
					Permissions struct{ Admin bool }
					Owner       struct{ Permissions struct{ Admin, View bool } }
				}
			}
			e.Expect(200, "GET", "/v1/spaces/handbook/integrations", token, nil).JSON(t, &list)
			out := map[string]bool{}
			for _, i := range list.Items {
				out[i.Name] = i.Permissions.Admin
				if i.Owner.Permissions.Admin != i.Permissions.Admin || !i.Owner.Permissions.View {
					t.Errorf("%s: owner permissions %+v disagree with the integration's admin %v", i.Name, i.Owner.Permissions, i.Permissions.Admin)
				}
			}
			return out
		}
		// alice administers acme, which owns slack; mermaid and private-tool belong to globex.
		if got := admin("alice-token"); !got["slack"] || got["mermaid"] || got["private-tool"] {
			t.Errorf("alice: %v", got)
		}
		if got := admin("bob-token"); got["slack"] || got["mermaid"] {
			t.Errorf("bob (read): %v", got)
		}
		if got := admin(apitest.AdminToken); !got["slack"] || !got["mermaid"] {
			t.Errorf("staff: %v", got)
		}
	})
}

func TestListSpaceIntegrationsPaging(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		var got []string
		path := "/v1/spaces/handbook/integrations?limit=1"
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatal("paging does not end")
			}
			res := e.Expect(200, "GET", path, "alice-token", nil)
			got = append(got, names(t, res)...)
			m := res.Map(t)
			if m["count"] != float64(3) {
				t.Errorf("count on page %d: %v", pages, m["count"])
			}
			next, ok := m["next"].(map[string]any)
			if !ok {
				break
			}
			path = "/v1/spaces/handbook/integrations?limit=1&page=" + url.QueryEscape(next["page"].(string))
		}
		if fmt.Sprint(got) != "[mermaid private-tool slack]" {
			t.Errorf("pages gave %v", got)
		}
		// limit=0 gives the count and no page.
		m := e.Expect(200, "GET", "/v1/spaces/handbook/integrations?limit=0", "alice-token", nil).Map(t)
		if m["count"] != float64(3) || len(m["items"].([]any)) != 0 || m["next"] != nil {
			t.Errorf("limit=0: %v", m)
		}
		// A page token belongs to its listing, its filters and its caller.
		res := e.Expect(200, "GET", "/v1/spaces/handbook/integrations?limit=1", "alice-token", nil)
		token := res.Map(t)["next"].(map[string]any)["page"].(string)
		for name, path := range map[string]string{
			"other caller": "bob",
			"other space":  "/v1/spaces/blog/integrations?page=",
			"other search": "/v1/spaces/handbook/integrations?search=a&page=",
			"forged":       "/v1/spaces/handbook/integrations?page=",
		} {
			caller := "alice-token"
			page := token
			switch name {
			case "other caller":
				caller, path = "bob-token", "/v1/spaces/handbook/integrations?page="
			case "forged":
				page = strings.Replace(token, token[:4], "AAAA", 1)
			}
			res := e.Expect(400, "GET", path+url.QueryEscape(page), caller, nil)
			if !strings.Contains(res.ErrorMessage(t), "page") {
				t.Errorf("%s: message %q does not name the page", name, res.ErrorMessage(t))
			}
		}
	})
}

func TestListSpaceIntegrationsErrors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		tests := []struct {
			name, path, token string
			status            int
			message           string
		}{
			{"no token", "/v1/spaces/handbook/integrations", "", 401, "Authorization"},
			{"unknown token", "/v1/spaces/handbook/integrations", "nope", 401, "token"},
			{"not a member", "/v1/spaces/handbook/integrations", "carol-token", 404, "not found"},
			{"member of another org", "/v1/spaces/handbook/integrations", "dave-token", 404, "not found"},
			{"unknown space", "/v1/spaces/nothere/integrations", "alice-token", 404, "not found"},
			{"invalid id", "/v1/spaces/a.b/integrations", "alice-token", 400, "spaceId"},
			{"limit not a number", "/v1/spaces/handbook/integrations?limit=ten", "alice-token", 400, "limit"},
			{"limit too large", "/v1/spaces/handbook/integrations?limit=1001", "alice-token", 400, "limit"},
			{"limit negative", "/v1/spaces/handbook/integrations?limit=-1", "alice-token", 400, "limit"},
			{"limit fraction", "/v1/spaces/handbook/integrations?limit=2.5", "alice-token", 400, "limit"},
			{"search too long", "/v1/spaces/handbook/integrations?search=" + strings.Repeat("a", 257), "alice-token", 400, "search"},
			{"garbage page", "/v1/spaces/handbook/integrations?page=garbage", "alice-token", 400, "page"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := e.Expect(tt.status, "GET", tt.path, tt.token, nil)
				if msg := res.ErrorMessage(t); !strings.Contains(msg, tt.message) {
					t.Errorf("message %q does not mention %q", msg, tt.message)
				}
			})
		}
		// Not a member and not existing answer exactly alike.
		a := e.Do("GET", "/v1/spaces/handbook/integrations", "carol-token", nil)
		b := e.Do("GET", "/v1/spaces/handbook2/integrations", "carol-token", nil)
		if strings.ReplaceAll(string(a.Body), "handbook", "X") != strings.ReplaceAll(string(b.Body), "handbook2", "X") {
			t.Errorf("hidden and missing spaces differ: %s vs %s", a.Body, b.Body)
		}
	})
}

func TestListSpaceIntegrationBlocks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		var blocks []struct {
			Name   string
			Blocks []struct{ ID, Title string }
		}
		e.Expect(200, "GET", "/v1/spaces/handbook/integration-blocks", "bob-token", nil).JSON(t, &blocks)
		got := []string{}
		for _, b := range blocks {
			for _, bl := range b.Blocks {
				got = append(got, b.Name+"/"+bl.ID)
			}
		}
		// Enabled integrations with blocks only; paused-app is paused, quiet-space has none.
		if fmt.Sprint(got) != "[mermaid/diagram private-tool/t slack/message]" {
			t.Errorf("blocks: %v", got)
		}
		res := e.Expect(200, "GET", "/v1/spaces/blog/integration-blocks", "alice-token", nil)
		if strings.TrimSpace(string(res.Body)) != "[]" {
			t.Errorf("blog has no enabled integration with blocks, got %s", res.Body)
		}
		e.Expect(404, "GET", "/v1/spaces/nothere/integration-blocks", "alice-token", nil)
		e.Expect(404, "GET", "/v1/spaces/secret/integration-blocks", "alice-token", nil)
		e.Expect(401, "GET", "/v1/spaces/handbook/integration-blocks", "", nil)
	})
}
