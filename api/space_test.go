package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"integrations"
	"integrations/internal/apitest"
	"integrations/internal/storetest"
)

// spaceCount returns how many spaces an organization has, as the staff user
// sees them.
func spaceCount(t *testing.T, e *apitest.Env, org string) int {
	t.Helper()
	return listCount(t, e.Expect(200, "GET", "/v1/orgs/"+org+"/spaces?limit=0", apitest.AdminToken, nil))
}

type spaceItem struct {
	Object, ID, Title, Emoji, Visibility, Organization string
	Language, EditMode                                 string
	UpdatedAt                                          string
	URLs                                               struct{ Location, App, Icon string }
	Permissions                                        map[string]bool
}

func getSpace(t *testing.T, e *apitest.Env, id, token string) spaceItem {
	t.Helper()
	var sp spaceItem
	e.Expect(200, "GET", "/v1/spaces/"+id, token, nil).JSON(t, &sp)
	return sp
}

func TestListSpaces(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		slackInt := integrationToken(t, e, "slack", "alice-token")
		slackInst := installationToken(t, e, "slack", "slack-acme", slackInt)
		mermaidInst := installationToken(t, e, "mermaid", "mermaid-acme", integrationToken(t, e, "mermaid", "dave-token"))
		tests := []struct {
			name, path, token string
			status            int
			want              []string
		}{
			// Seeded in one transaction: same creation time, then by id.
			{"admin", "/v1/orgs/acme/spaces", "alice-token", 200, []string{"blog", "handbook"}},
			{"read member", "/v1/orgs/acme/spaces", "bob-token", 200, []string{"blog", "handbook"}},
			{"staff", "/v1/orgs/globex/spaces", apitest.AdminToken, 200, []string{"secret"}},
			{"installation on selected spaces", "/v1/orgs/acme/spaces", slackInst, 200, []string{"handbook"}},
			{"installation on all spaces", "/v1/orgs/acme/spaces", mermaidInst, 200, []string{"blog", "handbook"}},
			{"installation in another org", "/v1/orgs/globex/spaces", slackInst, 404, nil},
			{"integration token", "/v1/orgs/acme/spaces", slackInt, 403, nil},
			{"not a member", "/v1/orgs/acme/spaces", "carol-token", 404, nil},
			{"member of another", "/v1/orgs/globex/spaces", "alice-token", 404, nil},
			{"unknown", "/v1/orgs/nothere/spaces", "alice-token", 404, nil},
			{"invalid id", "/v1/orgs/a.b/spaces", "alice-token", 400, nil},
			{"no token", "/v1/orgs/acme/spaces", "", 401, nil},
			{"bad limit", "/v1/orgs/acme/spaces?limit=all", "alice-token", 400, nil},
			{"forged page", "/v1/orgs/acme/spaces?page=x.y", "alice-token", 400, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := e.Expect(tt.status, "GET", tt.path, tt.token, nil)
				if tt.status != 200 {
					return
				}
				if got := listIDs(t, res); fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("got %v, want %v", got, tt.want)
				}
				if c := listCount(t, res); c != len(tt.want) {
					t.Errorf("count %d, want %d", c, len(tt.want))
				}
			})
		}
		// Items carry the caller's permissions.
		var list struct{ Items []spaceItem }
		e.Expect(200, "GET", "/v1/orgs/acme/spaces", "bob-token", nil).JSON(t, &list)
		for _, sp := range list.Items {
			if sp.Organization != "acme" || !sp.Permissions["view"] || sp.Permissions["edit"] || sp.Permissions["admin"] {
				t.Errorf("bob sees %+v", sp)
			}
		}
		e.Expect(200, "GET", "/v1/orgs/acme/spaces", "alice-token", nil).JSON(t, &list)
		if !list.Items[0].Permissions["admin"] {
			t.Errorf("alice sees %+v", list.Items[0])
		}
	})
}

func TestListSpacesPaging(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		var created []string
		for n := range 5 {
			sp := e.Expect(201, "POST", "/v1/orgs/acme/spaces", "alice-token", map[string]string{"title": fmt.Sprintf("Space %d", n)}).Map(t)
			created = append(created, sp["id"].(string))
		}
		want := listIDs(t, e.Expect(200, "GET", "/v1/orgs/acme/spaces", "bob-token", nil))
		if len(want) != 7 || fmt.Sprint(want[:2]) != "[blog handbook]" {
			t.Fatalf("listing: %v", want)
		}
		// Spaces come in the order of their creation.
		seen := map[string]bool{}
		for _, id := range want[2:] {
			seen[id] = true
		}
		for _, id := range created {
			if !seen[id] {
				t.Errorf("created space %s is not listed after the seeded ones: %v", id, want)
			}
		}
		for _, limit := range []int{1, 2, 3, 7} {
			if got := allPages(t, e, "/v1/orgs/acme/spaces", "bob-token", limit); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("limit %d: %v, want %v", limit, got, want)
			}
		}
		m := e.Expect(200, "GET", "/v1/orgs/acme/spaces?limit=0", "bob-token", nil).Map(t)
		if m["count"] != float64(7) || len(m["items"].([]any)) != 0 || m["next"] != nil {
			t.Errorf("limit=0: %v", m)
		}
		// A page token belongs to its organization and its caller.
		next := e.Expect(200, "GET", "/v1/orgs/acme/spaces?limit=1", apitest.AdminToken, nil).Map(t)["next"].(map[string]any)["page"].(string)
		e.Expect(400, "GET", "/v1/orgs/globex/spaces?limit=1&page="+url.QueryEscape(next), apitest.AdminToken, nil)
		e.Expect(400, "GET", "/v1/orgs/acme/spaces?limit=1&page="+url.QueryEscape(next), "alice-token", nil)
		e.Expect(200, "GET", "/v1/orgs/acme/spaces?limit=1&page="+url.QueryEscape(next), apitest.AdminToken, nil)
	})
}

func TestCreateSpace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		// The body is optional: no body at all gives the defaults.
		res := e.Expect(201, "POST", "/v1/orgs/acme/spaces", "alice-token", nil)
		var sp spaceItem
		res.JSON(t, &sp)
		if sp.Object != "space" || sp.Organization != "acme" || sp.Title != "" || sp.Emoji != "" || sp.Visibility != "private" || !integrations.ValidID(sp.ID) {
			t.Errorf("created without a body: %+v", sp)
		}
		location := res.Header.Get("Location")
		if location != e.URL+"/v1/spaces/"+sp.ID || sp.URLs.Location != location {
			t.Errorf("Location %q, urls.location %q, want %q", location, sp.URLs.Location, e.URL+"/v1/spaces/"+sp.ID)
		}
		if got := getSpace(t, e, strings.TrimPrefix(location, e.URL+"/v1/spaces/"), "bob-token"); got.ID != sp.ID {
			t.Errorf("GET the Location: %+v", got)
		}

		e.Expect(201, "POST", "/v1/orgs/acme/spaces", "alice-token", map[string]any{})
		e.Expect(201, "POST", "/v1/orgs/acme/spaces", "alice-token", "  ")

		res = e.Expect(201, "POST", "/v1/orgs/acme/spaces", "alice-token",
			map[string]string{"title": "Guide", "emoji": "📘", "visibility": "public", "language": "fr", "editMode": "locked"})
		res.JSON(t, &sp)
		if sp.Title != "Guide" || sp.Emoji != "📘" || sp.Visibility != "public" || sp.Language != "fr" || sp.EditMode != "locked" {
			t.Errorf("created %+v", sp)
		}
		if got := getSpace(t, e, sp.ID, "alice-token"); got.Title != "Guide" || got.Emoji != "📘" || got.Visibility != "public" {
			t.Errorf("stored %+v", got)
		}
		for _, v := range integrations.Visibilities {
			e.Expect(201, "POST", "/v1/orgs/acme/spaces", "alice-token", map[string]string{"visibility": v})
		}
		// The title's limit is inclusive, in characters.
		for _, title := range []string{strings.Repeat("x", 50), strings.Repeat("é", 50)} {
			e.Expect(201, "POST", "/v1/orgs/acme/spaces", "alice-token", map[string]string{"title": title})
		}
		if n := spaceCount(t, e, "acme"); n != 2+4+len(integrations.Visibilities)+2 {
			t.Errorf("acme has %d spaces", n)
		}
		// Staff may create spaces anywhere.
		e.Expect(201, "POST", "/v1/orgs/globex/spaces", apitest.AdminToken, map[string]string{"title": "By staff"})
	})
}

func TestCreateSpaceRoles(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		tokens := seedRoles(t, e)
		for _, role := range integrations.Roles {
			t.Run(string(role), func(t *testing.T) {
				before := spaceCount(t, e, "acme")
				res := e.Do("POST", "/v1/orgs/acme/spaces", tokens[role], map[string]string{"title": "By " + string(role)})
				want, added := 403, 0
				if role == integrations.RoleAdmin || role == integrations.RoleCreate {
					want, added = 201, 1
				}
				if res.Status != want {
					t.Fatalf("status %d, want %d: %s", res.Status, want, res.Body)
				}
				if n := spaceCount(t, e, "acme"); n != before+added {
					t.Errorf("%d spaces after, %d before", n, before)
				}
			})
		}
		before := spaceCount(t, e, "acme")
		e.Expect(404, "POST", "/v1/orgs/acme/spaces", "carol-token", map[string]string{"title": "By carol"})
		e.Expect(404, "POST", "/v1/orgs/acme/spaces", "dave-token", nil)
		e.Expect(403, "POST", "/v1/orgs/acme/spaces", integrationToken(t, e, "slack", "alice-token"), nil)
		e.Expect(401, "POST", "/v1/orgs/acme/spaces", "", nil)
		if n := spaceCount(t, e, "acme"); n != before {
			t.Errorf("%d spaces after refused creations, %d before", n, before)
		}
	})
}

func TestCreateSpaceErrors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		tests := []struct {
			name, path, token string
			body              any
			status            int
			want              string
		}{
			{"title too long", "", "alice-token", map[string]string{"title": strings.Repeat("x", 51)}, 400, "title"},
			{"title not a string", "", "alice-token", map[string]any{"title": 1}, 400, "title"},
			{"title null", "", "alice-token", map[string]any{"title": nil}, 400, "title"},
			{"unknown visibility", "", "alice-token", map[string]string{"visibility": "secret"}, 400, "visibility"},
			{"visibility not a string", "", "alice-token", map[string]any{"visibility": true}, 400, "visibility"},
			{"unknown language", "", "alice-token", map[string]string{"language": "klingon"}, 400, "language"},
			{"unknown editMode", "", "alice-token", map[string]string{"editMode": "open"}, 400, "editMode"},
			{"emoji too long", "", "alice-token", map[string]string{"emoji": strings.Repeat("x", 51)}, 400, "emoji"},
			{"icon not a URL", "", "alice-token", map[string]string{"icon": "not a url"}, 400, "icon"},
			{"mergeRules with rules that are numbers", "", "alice-token", `{"mergeRules": {"type": "rules", "rules": [1, 2]}}`, 400, "mergeRules.rules[0]"},
			{"mergeRules with an unknown rule", "", "alice-token", `{"mergeRules": {"type": "rules", "rules": [{"rule": "require_author_to_merge"}, {"rule": "be_nice"}]}}`, 400, "mergeRules.rules[1].rule"},
			{"mergeRules with rules null", "", "alice-token", `{"mergeRules": {"type": "rules", "rules": null}}`, 400, "mergeRules.rules"},
			{"mergeRules without a type", "", "alice-token", `{"mergeRules": {"rules": []}}`, 400, "mergeRules"},
			{"invalid JSON", "", "alice-token", `{"title": "x"`, 400, "JSON"},
			{"array", "", "alice-token", `[]`, 400, "object"},
			{"null", "", "alice-token", `null`, 400, "object"},
			{"trailing garbage", "", "alice-token", `{"title": "x"}]`, 400, "JSON"},
			{"unknown organization", "/v1/orgs/nothere/spaces", "alice-token", nil, 404, "not found"},
			{"invalid organization id", "/v1/orgs/a%20b/spaces", "alice-token", nil, 400, "organizationId"},
			{"not a member", "", "carol-token", nil, 404, "not found"},
			{"no token", "", "", nil, 401, "Authorization"},
		}
		before := spaceCount(t, e, "acme")
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				path := tt.path
				if path == "" {
					path = "/v1/orgs/acme/spaces"
				}
				res := e.Expect(tt.status, "POST", path, tt.token, tt.body)
				if msg := res.ErrorMessage(t); !strings.Contains(msg, tt.want) {
					t.Errorf("message %q does not mention %q", msg, tt.want)
				}
				if n := spaceCount(t, e, "acme"); n != before {
					t.Errorf("%d spaces after a refused creation, %d before", n, before)
				}
			})
		}
		// Hidden and missing organizations answer alike.
		a := e.Expect(404, "POST", "/v1/orgs/acme/spaces", "carol-token", nil)
		b := e.Expect(404, "POST", "/v1/orgs/acmf/spaces", "carol-token", nil)
		if strings.ReplaceAll(string(a.Body), "acme", "X") != strings.ReplaceAll(string(b.Body), "acmf", "X") {
			t.Errorf("hidden and missing organizations differ: %s vs %s", a.Body, b.Body)
		}
	})
}

func TestGetSpace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		tokens := seedRoles(t, e)
		slackInst := installationToken(t, e, "slack", "slack-acme", integrationToken(t, e, "slack", "alice-token"))
		tests := []struct {
			name, path, token string
			status            int
		}{
			{"member", "/v1/spaces/handbook", "bob-token", 200},
			{"staff", "/v1/spaces/secret", apitest.AdminToken, 200},
			{"installation on the space", "/v1/spaces/handbook", slackInst, 200},
			{"installation not on the space", "/v1/spaces/blog", slackInst, 404},
			{"not a member", "/v1/spaces/handbook", "carol-token", 404},
			{"member of another", "/v1/spaces/handbook", "dave-token", 404},
			{"unknown", "/v1/spaces/nothere", "alice-token", 404},
			{"invalid id", "/v1/spaces/a.b", "alice-token", 400},
			{"no token", "/v1/spaces/handbook", "", 401},
			{"bad token", "/v1/spaces/handbook", "bad-token", 401},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := e.Expect(tt.status, "GET", tt.path, tt.token, nil)
				switch tt.status {
				case 200:
					var sp spaceItem
					res.JSON(t, &sp)
					if "/v1/spaces/"+sp.ID != tt.path || sp.URLs.Location != e.URL+tt.path {
						t.Errorf("got %+v", sp)
					}
				case 400:
					if !strings.Contains(res.ErrorMessage(t), "spaceId") {
						t.Errorf("message %q does not name spaceId", res.ErrorMessage(t))
					}
				}
			})
		}
		a := e.Expect(404, "GET", "/v1/spaces/handbook", "carol-token", nil)
		b := e.Expect(404, "GET", "/v1/spaces/handbooc", "carol-token", nil)
		if strings.ReplaceAll(string(a.Body), "handbook", "X") != strings.ReplaceAll(string(b.Body), "handbooc", "X") {
			t.Errorf("hidden and missing spaces differ: %s vs %s", a.Body, b.Body)
		}

		// Permissions follow the role.
		for role, want := range map[integrations.Role]string{
			integrations.RoleAdmin:   "admin comment edit review",
			integrations.RoleCreate:  "comment edit review",
			integrations.RoleEdit:    "comment edit review",
			integrations.RoleReview:  "comment review",
			integrations.RoleComment: "comment",
			integrations.RoleRead:    "",
		} {
			p := getSpace(t, e, "handbook", tokens[role]).Permissions
			var got []string
			for _, name := range []string{"admin", "comment", "edit", "review"} {
				if p[name] {
					got = append(got, name)
				}
			}
			if strings.Join(got, " ") != want || !p["view"] || !p["access"] {
				t.Errorf("%s: permissions %v", role, p)
			}
		}
	})
}

func TestUpdateSpace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		tokens := seedRoles(t, e)
		patch := func(token string, body any) spaceItem {
			t.Helper()
			var sp spaceItem
			e.Expect(200, "PATCH", "/v1/spaces/handbook", token, body).JSON(t, &sp)
			if got := getSpace(t, e, "handbook", "bob-token"); got.Title != sp.Title || got.Emoji != sp.Emoji || got.URLs.Icon != sp.URLs.Icon || got.Visibility != sp.Visibility {
				t.Errorf("PATCH answered %+v, GET gives %+v", sp, got)
			}
			return sp
		}
		before := getSpace(t, e, "handbook", "alice-token")
		sp := patch("alice-token", map[string]string{"title": "The Handbook"})
		if sp.Title != "The Handbook" || sp.Emoji != "" || sp.Visibility != before.Visibility || sp.UpdatedAt < before.UpdatedAt {
			t.Errorf("after title: %+v", sp)
		}
		if sp = patch("alice-token", map[string]string{"emoji": "📘"}); sp.Emoji != "📘" || sp.Title != "The Handbook" {
			t.Errorf("after emoji: %+v", sp)
		}
		if sp = patch("alice-token", map[string]any{"emoji": nil}); sp.Emoji != "" {
			t.Errorf("emoji null did not remove it: %+v", sp)
		}
		if sp = patch("alice-token", map[string]string{"icon": "https://example.com/icon.png"}); sp.URLs.Icon != "https://example.com/icon.png" {
			t.Errorf("after icon: %+v", sp)
		}
		if sp = patch("alice-token", map[string]any{"icon": nil}); sp.URLs.Icon != "" {
			t.Errorf("icon null did not remove it: %+v", sp)
		}
		// One may be set while the other is removed.
		if sp = patch("alice-token", map[string]any{"emoji": "🚀", "icon": nil}); sp.Emoji != "🚀" || sp.URLs.Icon != "" {
			t.Errorf("emoji with icon null: %+v", sp)
		}
		if sp = patch("alice-token", map[string]any{"emoji": nil, "icon": "https://example.com/i.svg"}); sp.Emoji != "" || sp.URLs.Icon != "https://example.com/i.svg" {
			t.Errorf("icon with emoji null: %+v", sp)
		}
		if sp = patch("alice-token", map[string]any{"emoji": nil, "icon": nil}); sp.Emoji != "" || sp.URLs.Icon != "" {
			t.Errorf("both null: %+v", sp)
		}
		if sp = patch(tokens[integrations.RoleCreate], map[string]string{"visibility": "public", "title": "Public Handbook"}); sp.Visibility != "public" || sp.Title != "Public Handbook" {
			t.Errorf("by a create member: %+v", sp)
		}
		// An empty object changes nothing.
		if sp = patch("alice-token", map[string]any{}); sp.Title != "Public Handbook" {
			t.Errorf("after {}: %+v", sp)
		}
		patch(apitest.AdminToken, map[string]string{"title": "Staff was here"})
		var other spaceItem
		e.Expect(200, "PATCH", "/v1/spaces/secret", "dave-token", map[string]string{"title": "Top Secret"}).JSON(t, &other)
		if other.Title != "Top Secret" || getSpace(t, e, "handbook", "alice-token").Title != "Staff was here" {
			t.Errorf("a PATCH reached another space")
		}
	})
}

func TestUpdateSpaceErrors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		tokens := seedRoles(t, e)
		e.Expect(200, "PATCH", "/v1/spaces/handbook", "alice-token", map[string]string{"emoji": "📘"})
		tests := []struct {
			name, path, token string
			body              any
			status            int
			want              string
		}{
			{"emoji and icon together", "", "alice-token", map[string]string{"emoji": "🚀", "icon": "https://example.com/i.png"}, 400, "emoji"},
			{"icon not a URL", "", "alice-token", map[string]string{"icon": "not a url"}, 400, "icon"},
			{"icon a relative URL", "", "alice-token", map[string]string{"icon": "/icon.png"}, 400, "icon"},
			{"icon too long", "", "alice-token", map[string]string{"icon": "https://example.com/" + strings.Repeat("a", 2048)}, 400, "icon"},
			{"icon not a string", "", "alice-token", map[string]any{"icon": 1}, 400, "icon"},
			{"emoji not a string", "", "alice-token", map[string]any{"emoji": 1}, 400, "emoji"},
			{"title too long", "", "alice-token", map[string]string{"title": strings.Repeat("x", 51)}, 400, "title"},
			{"title null", "", "alice-token", map[string]any{"title": nil}, 400, "title"},
			{"title not a string", "", "alice-token", map[string]any{"title": []string{"x"}}, 400, "title"},
			{"unknown visibility", "", "alice-token", map[string]string{"visibility": "hidden"}, 400, "visibility"},
			{"unknown defaultLevel", "", "alice-token", map[string]string{"defaultLevel": "owner"}, 400, "defaultLevel"},
			{"bad mergeRules", "", "alice-token", map[string]any{"mergeRules": map[string]string{"type": "some"}}, 400, "mergeRules"},
			{"mergeRules with rules that are numbers", "", "alice-token", `{"mergeRules": {"type": "rules", "rules": [1, 2]}}`, 400, "mergeRules.rules[0]"},
			{"a valid field with a bad one", "", "alice-token", map[string]string{"title": "Changed", "language": "xx"}, 400, "language"},
			{"missing body", "", "alice-token", nil, 400, "body"},
			{"invalid JSON", "", "alice-token", `{"title": "x",}`, 400, "JSON"},
			{"array", "", "alice-token", `[{"title": "x"}]`, 400, "object"},
			{"null", "", "alice-token", `null`, 400, "object"},
			{"trailing garbage", "", "alice-token", `{"title": "x"} {}`, 400, "JSON"},
			{"read member", "", "bob-token", map[string]string{"title": "Changed"}, 403, "read"},
			{"edit member", "", tokens[integrations.RoleEdit], map[string]string{"title": "Changed"}, 403, "edit"},
			{"comment member", "", tokens[integrations.RoleComment], map[string]string{"title": "Changed"}, 403, "comment"},
			{"integration token", "", integrationToken(t, e, "slack", "alice-token"), map[string]string{"title": "Changed"}, 403, "integration"},
			{"not a member", "", "carol-token", map[string]string{"title": "Changed"}, 404, "not found"},
			{"member of another", "", "dave-token", map[string]string{"title": "Changed"}, 404, "not found"},
			{"unknown", "/v1/spaces/nothere", "alice-token", map[string]string{"title": "Changed"}, 404, "not found"},
			{"invalid id", "/v1/spaces/a.b", "alice-token", map[string]string{"title": "Changed"}, 400, "spaceId"},
			{"no token", "", "", map[string]string{"title": "Changed"}, 401, "Authorization"},
		}
		before := e.Expect(200, "GET", "/v1/spaces/handbook", "alice-token", nil).Body
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				path := tt.path
				if path == "" {
					path = "/v1/spaces/handbook"
				}
				res := e.Expect(tt.status, "PATCH", path, tt.token, tt.body)
				if msg := res.ErrorMessage(t); !strings.Contains(msg, tt.want) {
					t.Errorf("message %q does not mention %q", msg, tt.want)
				}
				if after := e.Expect(200, "GET", "/v1/spaces/handbook", "alice-token", nil).Body; string(after) != string(before) {
					t.Errorf("the space changed:\n%s\n%s", before, after)
				}
			})
		}
	})
}

func TestDeleteSpace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		tokens := seedRoles(t, e)
		spaceInstallations := func(spaceID string) int {
			t.Helper()
			var n int
			err := e.Store.View(context.Background(), func(tx integrations.Tx) error {
				_, count, err := tx.SpaceInstallations(integrations.SpaceInstallationFilter{SpaceID: spaceID}, integrations.Page{Limit: 10})
				n = count
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		const si = "/v1/integrations/slack/installations/slack-acme/spaces"
		e.Expect(200, "GET", si+"/handbook", "alice-token", nil)
		if n := spaceInstallations("handbook"); n != 2 {
			t.Fatalf("handbook has %d space installations before, want 2", n)
		}

		// Those who may not delete it change nothing.
		refused := []struct {
			name, token string
			status      int
		}{
			{"not a member", "carol-token", 204},
			{"member of another", "dave-token", 204},
			{"read", "bob-token", 403},
			{"comment", tokens[integrations.RoleComment], 403},
			{"review", tokens[integrations.RoleReview], 403},
			{"edit", tokens[integrations.RoleEdit], 403},
			{"integration token", integrationToken(t, e, "slack", "alice-token"), 403},
			{"no token", "", 401},
		}
		for _, tt := range refused {
			t.Run(tt.name, func(t *testing.T) {
				res := e.Expect(tt.status, "DELETE", "/v1/spaces/handbook", tt.token, nil)
				if tt.status == 204 && len(res.Body) != 0 {
					t.Errorf("204 with a body: %s", res.Body)
				}
				getSpace(t, e, "handbook", "alice-token")
				if n := spaceInstallations("handbook"); n != 2 {
					t.Errorf("handbook has %d space installations, want 2", n)
				}
			})
		}
		// Hidden and missing spaces answer alike.
		e.Expect(204, "DELETE", "/v1/spaces/nothere", "alice-token", nil)
		res := e.Expect(400, "DELETE", "/v1/spaces/a.b", "alice-token", nil)
		if !strings.Contains(res.ErrorMessage(t), "spaceId") {
			t.Errorf("message %q does not name spaceId", res.ErrorMessage(t))
		}

		res = e.Expect(205, "DELETE", "/v1/spaces/handbook", "alice-token", nil)
		if len(res.Body) != 0 {
			t.Errorf("205 with a body: %s", res.Body)
		}
		e.Expect(204, "DELETE", "/v1/spaces/handbook", "alice-token", nil)

		// The space is gone from everything, and its space installations with it.
		for _, path := range []string{"/v1/spaces/handbook", "/v1/spaces/handbook/integrations", "/v1/spaces/handbook/integration-blocks", si + "/handbook"} {
			e.Expect(404, "GET", path, "alice-token", nil)
			e.Expect(404, "GET", path, apitest.AdminToken, nil)
		}
		e.Expect(404, "PATCH", "/v1/spaces/handbook", "alice-token", map[string]string{"title": "Back"})
		if ids := listIDs(t, e.Expect(200, "GET", "/v1/orgs/acme/spaces", "alice-token", nil)); fmt.Sprint(ids) != "[blog]" {
			t.Errorf("acme's spaces: %v", ids)
		}
		if ids := listIDs(t, e.Expect(200, "GET", si, "alice-token", nil)); len(ids) != 0 {
			t.Errorf("slack-acme's space installations: %s", e.Expect(200, "GET", si, "alice-token", nil).Body)
		}
		var inst struct{ Spaces int }
		e.Expect(200, "GET", "/v1/integrations/slack/installations/slack-acme", "alice-token", nil).JSON(t, &inst)
		if inst.Spaces != 0 {
			t.Errorf("slack-acme still counts %d spaces", inst.Spaces)
		}
		if n := spaceInstallations("handbook"); n != 0 {
			t.Errorf("%d space installations of the deleted space remain", n)
		}
		// Other spaces keep theirs.
		if n := spaceInstallations("blog"); n == 0 {
			t.Errorf("blog lost its space installations")
		}

		// A create member may delete; staff may delete anywhere.
		e.Expect(205, "DELETE", "/v1/spaces/blog", tokens[integrations.RoleCreate], nil)
		e.Expect(205, "DELETE", "/v1/spaces/secret", apitest.AdminToken, nil)
		if n := spaceCount(t, e, "acme") + spaceCount(t, e, "globex"); n != 0 {
			t.Errorf("%d spaces remain", n)
		}
	})
}

// TestSpaceMergeRules checks mergeRules against the spec's
// MergeRulesSpaceConfiguration and its MergeRule items: what the server
// accepts, the spec accepts, and the Space it answers holds it as given.
func TestSpaceMergeRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		long := strings.Repeat("é", 1025)
		tests := []struct {
			name, rules string
			status      int
			field       string // what a 400 must name
		}{
			{"inherit", `{"type": "inherit"}`, 200, ""},
			{"none", `{"type": "none"}`, 200, ""},
			{"no rules", `{"type": "rules", "rules": []}`, 200, ""},
			{"every kind of rule", `{"type": "rules", "rules": [
				{"rule": "require_specific_reviewers", "users": ["alice"]},
				{"rule": "require_one_of_specific_reviewers", "users": []},
				{"rule": "allow_bypass", "users": ["bob", "alice"]},
				{"rule": "require_at_least_one_review"}, {"rule": "require_at_least_one_approved_review"},
				{"rule": "require_all_reviews_approved"}, {"rule": "require_agent_review"},
				{"rule": "require_up_to_date_change_request"}, {"rule": "require_change_request_subject"},
				{"rule": "require_change_request_description"}, {"rule": "require_author_to_merge"},
				{"rule": "custom", "expression": "true", "message": "Always."},
				{"rule": "custom", "expression": "` + strings.Repeat("é", 1024) + `"}]}`, 200, ""},
			{"rules that are numbers", `{"type": "rules", "rules": [1, 2]}`, 400, "mergeRules.rules[0]"},
			{"a rule that is a string", `{"type": "rules", "rules": ["require_author_to_merge"]}`, 400, "mergeRules.rules[0]"},
			{"a rule without its name", `{"type": "rules", "rules": [{"users": []}]}`, 400, "mergeRules.rules[0]"},
			{"an unknown rule", `{"type": "rules", "rules": [{"rule": "require_author_to_merge"}, {"rule": "be_nice"}]}`, 400, "mergeRules.rules[1].rule"},
			{"users missing", `{"type": "rules", "rules": [{"rule": "allow_bypass"}]}`, 400, "mergeRules.rules[0].users"},
			{"users null", `{"type": "rules", "rules": [{"rule": "allow_bypass", "users": null}]}`, 400, "mergeRules.rules[0].users"},
			{"users not strings", `{"type": "rules", "rules": [{"rule": "require_specific_reviewers", "users": [1]}]}`, 400, "mergeRules.rules[0].users"},
			{"custom without an expression", `{"type": "rules", "rules": [{"rule": "custom"}]}`, 400, "mergeRules.rules[0].expression"},
			{"custom expression a number", `{"type": "rules", "rules": [{"rule": "custom", "expression": 1}]}`, 400, "mergeRules.rules[0].expression"},
			{"custom expression too long", `{"type": "rules", "rules": [{"rule": "custom", "expression": "` + long + `"}]}`, 400, "mergeRules.rules[0].expression"},
			{"custom message a number", `{"type": "rules", "rules": [{"rule": "custom", "expression": "x", "message": 1}]}`, 400, "mergeRules.rules[0].message"},
			{"custom message null", `{"type": "rules", "rules": [{"rule": "custom", "expression": "x", "message": null}]}`, 400, "mergeRules.rules[0].message"},
			{"rules missing", `{"type": "rules"}`, 400, "mergeRules.rules"},
			{"rules an object", `{"type": "rules", "rules": {}}`, 400, "mergeRules.rules"},
			{"unknown type", `{"type": "some"}`, 400, "mergeRules.type"},
			{"type a number", `{"type": 1}`, 400, "mergeRules"},
			{"not an object", `"inherit"`, 400, "mergeRules"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				body := `{"mergeRules": ` + tt.rules + `}`
				before := e.Expect(200, "GET", "/v1/spaces/handbook", "alice-token", nil).Body
				res := e.Expect(tt.status, "PATCH", "/v1/spaces/handbook", "alice-token", body)
				created := e.Expect(map[int]int{200: 201, 400: 400}[tt.status], "POST", "/v1/orgs/acme/spaces", "alice-token", body)
				if tt.status == 400 {
					for _, r := range []*apitest.Response{res, created} {
						if msg := r.ErrorMessage(t); !strings.Contains(msg, tt.field) {
							t.Errorf("message %q does not name %q", msg, tt.field)
						}
					}
					if after := e.Expect(200, "GET", "/v1/spaces/handbook", "alice-token", nil).Body; string(after) != string(before) {
						t.Errorf("a refused PATCH changed the space")
					}
				} else {
					var want, got struct{ MergeRules any }
					if err := json.Unmarshal([]byte(body), &want); err != nil {
						t.Fatal(err)
					}
					res.JSON(t, &got)
					if fmt.Sprint(got.MergeRules) != fmt.Sprint(want.MergeRules) {
						t.Errorf("mergeRules %v, want %v", got.MergeRules, want.MergeRules)
					}
				}
				// updateSpaceById is where the spec states mergeRules.
				specErr := e.Spec.ValidateRequestBody("PATCH", "/v1/spaces/handbook", []byte(body))
				if (specErr == nil) != (tt.status == 200) {
					t.Errorf("the server answers %d, the spec says %v", tt.status, specErr)
				}
			})
		}
	})
}
