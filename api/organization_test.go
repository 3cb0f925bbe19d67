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

// listIDs returns the ids of the items of a List response, in order.
func listIDs(t *testing.T, res *apitest.Response) []string {
	t.Helper()
	var list struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	res.JSON(t, &list)
	out := []string{}
	for _, i := range list.Items {
		out = append(out, i.ID)
	}
	return out
}

// listCount returns the count of a List response.
func listCount(t *testing.T, res *apitest.Response) int {
	t.Helper()
	var list struct {
		Count *int `json:"count"`
	}
	res.JSON(t, &list)
	if list.Count == nil {
		t.Fatalf("list has no count: %s", res.Body)
	}
	return *list.Count
}

// allPages walks a listing page by page with the given limit, and returns
// the ids of every item. Every page must give the same count, and the walk
// must end.
func allPages(t *testing.T, e *apitest.Env, path, token string, limit int) []string {
	t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	first := fmt.Sprintf("%s%slimit=%d", path, sep, limit)
	next := first
	var got []string
	count := -1
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatalf("%s: paging does not end", path)
		}
		res := e.Expect(200, "GET", next, token, nil)
		ids := listIDs(t, res)
		if len(ids) > limit {
			t.Errorf("%s: page of %d items for limit %d", next, len(ids), limit)
		}
		got = append(got, ids...)
		c := listCount(t, res)
		if count >= 0 && c != count {
			t.Errorf("%s: count %d on page %d, %d on the first", path, c, pages, count)
		}
		count = c
		var page struct {
			Next *struct {
				Page string `json:"page"`
			} `json:"next"`
		}
		res.JSON(t, &page)
		if page.Next == nil {
			break
		}
		if page.Next.Page == "" {
			t.Fatalf("%s: next without a page", next)
		}
		next = first + "&page=" + url.QueryEscape(page.Next.Page)
	}
	if count != len(got) {
		t.Errorf("%s: count %d, but the pages hold %d items", path, count, len(got))
	}
	return got
}

// setMember adds a member or changes its role through the admin extension.
func setMember(t *testing.T, e *apitest.Env, org, user string, role integrations.Role) {
	t.Helper()
	e.Expect(200, "PUT", "/admin/orgs/"+org+"/members/"+user, apitest.AdminToken, map[string]string{"role": string(role)})
}

// orgCount returns how many organizations exist, as the staff user sees them.
func orgCount(t *testing.T, e *apitest.Env) int {
	t.Helper()
	return listCount(t, e.Expect(200, "GET", "/v1/orgs?limit=0", apitest.AdminToken, nil))
}

func TestGetUser(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		var u struct {
			Object, ID, DisplayName, Email string
			URLs                           struct{ Location string }
		}
		e.Expect(200, "GET", "/v1/user", "alice-token", nil).JSON(t, &u)
		if u.Object != "user" || u.ID != "alice" || u.DisplayName != "Alice" || u.Email != "alice@example.com" {
			t.Errorf("alice: %+v", u)
		}
		if u.URLs.Location != e.URL+"/v1/users/alice" {
			t.Errorf("urls.location %q", u.URLs.Location)
		}
		e.Expect(200, "GET", "/v1/user", "bob-token", nil).JSON(t, &u)
		if u.ID != "bob" {
			t.Errorf("bob's token gave user %q", u.ID)
		}
		// The staff user is a user like the others.
		e.Expect(200, "GET", "/v1/user", apitest.AdminToken, nil)

		for _, token := range []string{"", "nope"} {
			res := e.Expect(401, "GET", "/v1/user", token, nil)
			if res.ErrorMessage(t) == "" {
				t.Errorf("token %q: 401 without a message", token)
			}
		}
	})
}

func TestGetUserByID(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		slack := integrationToken(t, e, "slack", "alice-token")
		tests := []struct {
			name, id, token string
			status          int
		}{
			{"itself", "alice", "alice-token", 200},
			{"itself, not a member anywhere", "carol", "carol-token", 200},
			{"a member of the same organization", "bob", "alice-token", 200},
			{"the other way", "alice", "bob-token", 200},
			{"staff, anyone", "dave", apitest.AdminToken, 200},
			{"a member of another organization", "dave", "alice-token", 404},
			{"no shared organization", "alice", "carol-token", 404},
			{"a member of another organization, the other way", "alice", "dave-token", 404},
			{"unknown", "nobody", "alice-token", 404},
			{"unknown, staff", "nobody", apitest.AdminToken, 404},
			{"an id that cannot exist", "a.b", "alice-token", 404},
			{"integration token", "alice", slack, 403},
			{"no token", "alice", "", 401},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := regExpect(t, e, tt.status, "GET", "/v1/users/"+tt.id, tt.token, nil)
				if tt.status != 200 {
					return
				}
				var u struct {
					Object, ID, DisplayName, Email string
					URLs                           struct{ Location string }
				}
				res.JSON(t, &u)
				if u.Object != "user" || u.ID != tt.id || u.Email != tt.id+"@example.com" || u.URLs.Location != e.URL+"/v1/users/"+tt.id {
					t.Errorf("user: %+v", u)
				}
			})
		}
		// A hidden user answers as a missing one.
		regSameError(t, e.Do("GET", "/v1/users/dave", "alice-token", nil), e.Do("GET", "/v1/users/davf", "alice-token", nil), "dave", "davf")

		// urls.location and the Location of a new user lead there.
		res := e.Expect(201, "POST", "/admin/users", apitest.AdminToken, map[string]string{"displayName": "Erin", "email": "erin@example.com"})
		var created struct {
			User  struct{ URLs struct{ Location string } }
			Token string
		}
		res.JSON(t, &created)
		if created.User.URLs.Location != res.Header.Get("Location") {
			t.Errorf("urls.location %q, Location %q", created.User.URLs.Location, res.Header.Get("Location"))
		}
		path := strings.TrimPrefix(created.User.URLs.Location, e.URL)
		e.Expect(200, "GET", path, apitest.AdminToken, nil)
		e.Expect(200, "GET", path, created.Token, nil)
		e.Expect(404, "GET", path, "alice-token", nil)
		var me struct{ URLs struct{ Location string } }
		e.Expect(200, "GET", "/v1/user", "alice-token", nil).JSON(t, &me)
		e.Expect(200, "GET", strings.TrimPrefix(me.URLs.Location, e.URL), "alice-token", nil)
	})
}

func TestListOrganizations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		tests := []struct {
			name, token string
			want        []string
		}{
			{"alice", "alice-token", []string{"acme"}},
			{"bob", "bob-token", []string{"acme"}},
			{"dave", "dave-token", []string{"globex"}},
			{"no organization", "carol-token", []string{}},
			// Seeded in one transaction: same creation time, then by id.
			{"staff sees all", apitest.AdminToken, []string{"acme", "globex"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := e.Expect(200, "GET", "/v1/orgs", tt.token, nil)
				if got := listIDs(t, res); fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("got %v, want %v", got, tt.want)
				}
				if c := listCount(t, res); c != len(tt.want) {
					t.Errorf("count %d, want %d", c, len(tt.want))
				}
			})
		}

		// Permissions reflect the caller's role.
		perms := func(token string) map[string]bool {
			var list struct {
				Items []struct{ Permissions map[string]bool }
			}
			e.Expect(200, "GET", "/v1/orgs", token, nil).JSON(t, &list)
			return list.Items[0].Permissions
		}
		if p := perms("alice-token"); !p["admin"] || !p["createContent"] || !p["access"] {
			t.Errorf("alice (admin): %v", p)
		}
		if p := perms("bob-token"); p["admin"] || p["createContent"] || !p["access"] || !p["listMembers"] {
			t.Errorf("bob (read): %v", p)
		}
		if p := perms(apitest.AdminToken); !p["admin"] {
			t.Errorf("staff: %v", p)
		}
	})
}

func TestListOrganizationsPaging(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		for n := range 4 {
			e.Expect(201, "POST", "/v1/orgs", "alice-token", map[string]string{"title": fmt.Sprintf("Org %d", n)})
		}
		for _, who := range []struct {
			token string
			count int
		}{{"alice-token", 5}, {apitest.AdminToken, 6}} {
			full := e.Expect(200, "GET", "/v1/orgs?limit=1000", who.token, nil)
			want := listIDs(t, full)
			if len(want) != who.count {
				t.Fatalf("%s sees %d organizations, want %d", who.token, len(want), who.count)
			}
			for _, limit := range []int{1, 2, 5} {
				if got := allPages(t, e, "/v1/orgs", who.token, limit); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("limit %d gave %v, want %v", limit, got, want)
				}
			}
			m := e.Expect(200, "GET", "/v1/orgs?limit=0", who.token, nil).Map(t)
			if m["count"] != float64(who.count) || len(m["items"].([]any)) != 0 || m["next"] != nil {
				t.Errorf("limit=0: %v", m)
			}
		}
		// A page token belongs to its caller.
		next := e.Expect(200, "GET", "/v1/orgs?limit=1", "alice-token", nil).Map(t)["next"].(map[string]any)["page"].(string)
		res := e.Expect(400, "GET", "/v1/orgs?limit=1&page="+url.QueryEscape(next), apitest.AdminToken, nil)
		if !strings.Contains(res.ErrorMessage(t), "page") {
			t.Errorf("foreign page token: %q", res.ErrorMessage(t))
		}
		for _, q := range []string{"limit=x", "limit=-1", "limit=1001", "limit=1.5", "page=garbage"} {
			res := e.Expect(400, "GET", "/v1/orgs?"+q, "alice-token", nil)
			if name, _, _ := strings.Cut(q, "="); !strings.Contains(res.ErrorMessage(t), name) {
				t.Errorf("%s: message %q does not name %s", q, res.ErrorMessage(t), name)
			}
		}
		e.Expect(401, "GET", "/v1/orgs", "", nil)
	})
}

func TestCreateOrganization(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		res := e.Expect(201, "POST", "/v1/orgs", "carol-token", map[string]any{"title": "Carol Co", "emailDomains": []string{"carol.example"}})
		var org struct {
			ID, Title    string
			EmailDomains []string
			URLs         struct{ Location string }
			Permissions  map[string]bool
		}
		res.JSON(t, &org)
		if org.Title != "Carol Co" || fmt.Sprint(org.EmailDomains) != "[carol.example]" || !integrations.ValidID(org.ID) {
			t.Errorf("created %+v", org)
		}
		location := res.Header.Get("Location")
		if location != e.URL+"/v1/orgs/"+org.ID || org.URLs.Location != location {
			t.Errorf("Location %q, urls.location %q, want %q", location, org.URLs.Location, e.URL+"/v1/orgs/"+org.ID)
		}
		if !org.Permissions["admin"] {
			t.Errorf("the creator is not admin: %v", org.Permissions)
		}
		// The Location is where the organization is.
		path := strings.TrimPrefix(location, e.URL)
		var got struct {
			ID          string
			Permissions map[string]bool
		}
		e.Expect(200, "GET", path, "carol-token", nil).JSON(t, &got)
		if got.ID != org.ID || !got.Permissions["admin"] {
			t.Errorf("GET %s: %+v", path, got)
		}
		// The creator is its only member, as admin.
		var members struct {
			Items []struct {
				ID, Role string
			}
		}
		e.Expect(200, "GET", path+"/members", "carol-token", nil).JSON(t, &members)
		if fmt.Sprint(members.Items) != "[{carol admin}]" {
			t.Errorf("members: %+v", members.Items)
		}
		if ids := listIDs(t, e.Expect(200, "GET", "/v1/orgs", "carol-token", nil)); fmt.Sprint(ids) != fmt.Sprint([]string{org.ID}) {
			t.Errorf("carol's organizations: %v", ids)
		}
		// As admin, the creator may create and list spaces there.
		sp := e.Expect(201, "POST", path+"/spaces", "carol-token", map[string]string{"title": "Notes"}).Map(t)
		if ids := listIDs(t, e.Expect(200, "GET", path+"/spaces", "carol-token", nil)); fmt.Sprint(ids) != fmt.Sprint([]string{sp["id"].(string)}) {
			t.Errorf("spaces of the new organization: %v", ids)
		}
		// Others do not see it.
		e.Expect(404, "GET", path, "alice-token", nil)

		// The limits of the title are inclusive.
		for _, title := range []string{"ab", strings.Repeat("x", 255), strings.Repeat("é", 255), " padded title "} {
			var o struct{ Title string }
			e.Expect(201, "POST", "/v1/orgs", "carol-token", map[string]string{"title": title}).JSON(t, &o)
			if o.Title != title {
				t.Errorf("title %q came back as %q", title, o.Title)
			}
		}
	})
}

func TestCreateOrganizationErrors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		tests := []struct {
			name   string
			token  string
			body   any
			status int
			want   string // in the message
		}{
			{"no token", "", map[string]string{"title": "New"}, 401, "Authorization"},
			{"missing body", "carol-token", nil, 400, "body"},
			{"empty body", "carol-token", "  ", 400, "body"},
			{"invalid JSON", "carol-token", `{"title": `, 400, "JSON"},
			{"not JSON", "carol-token", `title=New`, 400, "JSON"},
			{"array", "carol-token", `[{"title": "New"}]`, 400, "object"},
			{"string", "carol-token", `"New"`, 400, "object"},
			{"null", "carol-token", `null`, 400, "object"},
			{"trailing garbage", "carol-token", `{"title": "New"} x`, 400, "JSON"},
			{"two objects", "carol-token", `{"title": "New"}{"title": "Other"}`, 400, "JSON"},
			{"no title", "carol-token", map[string]string{}, 400, "title"},
			{"title too short", "carol-token", map[string]string{"title": "x"}, 400, "title"},
			{"title too long", "carol-token", map[string]string{"title": strings.Repeat("x", 256)}, 400, "title"},
			{"title breaks the pattern", "carol-token", map[string]string{"title": "   x   "}, 400, "title"},
			{"title across lines", "carol-token", map[string]string{"title": "a\nb"}, 400, "title"},
			{"title not a string", "carol-token", map[string]any{"title": 5}, 400, "title"},
			{"title null", "carol-token", map[string]any{"title": nil}, 400, "title"},
			{"emailDomains not an array", "carol-token", map[string]any{"title": "New", "emailDomains": "x.example"}, 400, "emailDomains"},
			{"emailDomains of numbers", "carol-token", map[string]any{"title": "New", "emailDomains": []int{1}}, 400, "emailDomains"},
			{"empty email domain", "carol-token", map[string]any{"title": "New", "emailDomains": []string{""}}, 400, "emailDomains"},
		}
		before := orgCount(t, e)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := e.Expect(tt.status, "POST", "/v1/orgs", tt.token, tt.body)
				if msg := res.ErrorMessage(t); !strings.Contains(msg, tt.want) {
					t.Errorf("message %q does not mention %q", msg, tt.want)
				}
				if n := orgCount(t, e); n != before {
					t.Errorf("%d organizations after a refused creation, %d before", n, before)
				}
			})
		}
		if ids := listIDs(t, e.Expect(200, "GET", "/v1/orgs", "carol-token", nil)); len(ids) != 0 {
			t.Errorf("carol belongs to %v after refused creations", ids)
		}
	})
}

func TestGetOrganization(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		tests := []struct {
			name, path, token string
			status            int
			admin             bool
		}{
			{"admin", "/v1/orgs/acme", "alice-token", 200, true},
			{"read member", "/v1/orgs/acme", "bob-token", 200, false},
			{"staff", "/v1/orgs/globex", apitest.AdminToken, 200, true},
			{"not a member", "/v1/orgs/acme", "carol-token", 404, false},
			{"member of another", "/v1/orgs/globex", "alice-token", 404, false},
			{"unknown", "/v1/orgs/nothere", "alice-token", 404, false},
			{"invalid id", "/v1/orgs/a.b", "alice-token", 400, false},
			{"id too long", "/v1/orgs/" + strings.Repeat("a", 101), "alice-token", 400, false},
			{"no token", "/v1/orgs/acme", "", 401, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := e.Expect(tt.status, "GET", tt.path, tt.token, nil)
				switch tt.status {
				case 200:
					var o struct {
						ID, Title   string
						Permissions map[string]bool
					}
					res.JSON(t, &o)
					if "/v1/orgs/"+o.ID != tt.path || o.Permissions["admin"] != tt.admin || !o.Permissions["view"] {
						t.Errorf("got %+v", o)
					}
				case 400:
					if !strings.Contains(res.ErrorMessage(t), "organizationId") {
						t.Errorf("message %q does not name organizationId", res.ErrorMessage(t))
					}
				}
			})
		}
		// Hidden and missing organizations answer alike.
		a := e.Expect(404, "GET", "/v1/orgs/globex", "alice-token", nil)
		b := e.Expect(404, "GET", "/v1/orgs/globez", "alice-token", nil)
		if strings.ReplaceAll(string(a.Body), "globex", "X") != strings.ReplaceAll(string(b.Body), "globez", "X") {
			t.Errorf("hidden and missing organizations differ: %s vs %s", a.Body, b.Body)
		}
	})
}

// seedRoles seeds acme with members of every role, who joined one after the
// other: alice (admin) and bob (read) from world, then erin (create), frank
// (edit), grace (review) and heidi (comment).
func seedRoles(t *testing.T, e *apitest.Env) map[integrations.Role]string {
	t.Helper()
	tokens := map[integrations.Role]string{integrations.RoleAdmin: "alice-token", integrations.RoleRead: "bob-token"}
	for _, m := range []struct {
		name string
		role integrations.Role
	}{{"Erin", integrations.RoleCreate}, {"Frank", integrations.RoleEdit}, {"Grace", integrations.RoleReview}, {"Heidi", integrations.RoleComment}} {
		id, token := e.CreateUser(m.name, strings.ToLower(m.name)+"@example.org")
		setMember(t, e, "acme", id, m.role)
		tokens[m.role] = token
	}
	return tokens
}

type memberItem struct {
	ID, Role string
	JoinedAt string
	User     struct{ ID, DisplayName, Email string }
}

func listMembers(t *testing.T, e *apitest.Env, path, token string) []memberItem {
	t.Helper()
	var list struct{ Items []memberItem }
	e.Expect(200, "GET", path, token, nil).JSON(t, &list)
	return list.Items
}

func memberNames(items []memberItem) []string {
	out := []string{}
	for _, m := range items {
		out = append(out, m.User.DisplayName)
	}
	return out
}

func TestListMembers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		seedRoles(t, e)
		tests := []struct {
			name, query string
			want        []string
		}{
			{"by name", "sort=name&order=asc", []string{"Alice", "Bob", "Erin", "Frank", "Grace", "Heidi"}},
			{"by name, descending", "sort=name&order=desc", []string{"Heidi", "Grace", "Frank", "Erin", "Bob", "Alice"}},
			{"by name, descending by default", "sort=name", []string{"Heidi", "Grace", "Frank", "Erin", "Bob", "Alice"}},
			{"role admin", "role=admin&sort=name", []string{"Alice"}},
			{"role read", "role=read", []string{"Bob"}},
			{"role create", "role=create", []string{"Erin"}},
			{"role comment", "role=comment", []string{"Heidi"}},
			{"no guests here", "role=guest", []string{}},
			{"search on name", "search=fRaN", []string{"Frank"}},
			{"search on email", "search=example.org&sort=name&order=asc", []string{"Erin", "Frank", "Grace", "Heidi"}},
			{"search and role", "search=example.org&role=review", []string{"Grace"}},
			{"search matches nothing", "search=zzz", []string{}},
			{"search with LIKE characters", "search=%25", []string{}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := e.Expect(200, "GET", "/v1/orgs/acme/members?"+tt.query, "bob-token", nil)
				var list struct{ Items []memberItem }
				res.JSON(t, &list)
				if got := memberNames(list.Items); fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("got %v, want %v", got, tt.want)
				}
				if c := listCount(t, res); c != len(tt.want) {
					t.Errorf("count %d, want %d", c, len(tt.want))
				}
			})
		}

		// Members carry their role and user.
		for _, m := range listMembers(t, e, "/v1/orgs/acme/members?sort=name&order=asc", "alice-token")[:2] {
			if m.ID != m.User.ID || (m.ID == "alice" && (m.Role != "admin" || m.User.Email != "alice@example.com")) || (m.ID == "bob" && m.Role != "read") {
				t.Errorf("member %+v", m)
			}
		}

		// By join time: newest first by default; lastSeenAt sorts alike here;
		// ascending is the exact reverse.
		desc := listMembers(t, e, "/v1/orgs/acme/members", "alice-token")
		for _, q := range []string{"sort=joinedAt", "order=desc", "sort=lastSeenAt&order=desc"} {
			if got := memberNames(listMembers(t, e, "/v1/orgs/acme/members?"+q, "alice-token")); fmt.Sprint(got) != fmt.Sprint(memberNames(desc)) {
				t.Errorf("%s gave %v, the default %v", q, got, memberNames(desc))
			}
		}
		for n := 1; n < len(desc); n++ {
			if desc[n].JoinedAt > desc[n-1].JoinedAt {
				t.Errorf("default order is not by descending joinedAt: %+v", desc)
			}
		}
		if first := desc[0].User.DisplayName; first != "Heidi" {
			t.Errorf("the newest member comes %v, not first", memberNames(desc))
		}
		asc := memberNames(listMembers(t, e, "/v1/orgs/acme/members?order=asc", "alice-token"))
		for n, name := range memberNames(desc) {
			if asc[len(asc)-1-n] != name {
				t.Errorf("ascending %v is not the reverse of descending %v", asc, memberNames(desc))
				break
			}
		}
	})
}

func TestListMembersPaging(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		seedRoles(t, e)
		for _, q := range []string{"", "?sort=name", "?sort=name&order=asc", "?order=asc", "?search=example.org"} {
			full := e.Expect(200, "GET", "/v1/orgs/acme/members"+q, "alice-token", nil)
			want := listIDs(t, full)
			for _, limit := range []int{1, 4} {
				if got := allPages(t, e, "/v1/orgs/acme/members"+q, "alice-token", limit); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%q limit %d: %v, want %v", q, limit, got, want)
				}
			}
		}
		// A page token belongs to its filters.
		next := e.Expect(200, "GET", "/v1/orgs/acme/members?limit=1&sort=name", "alice-token", nil).Map(t)["next"].(map[string]any)["page"].(string)
		for _, q := range []string{"limit=1&sort=joinedAt", "limit=1&sort=name&order=asc", "limit=1&sort=name&role=read"} {
			e.Expect(400, "GET", "/v1/orgs/acme/members?"+q+"&page="+url.QueryEscape(next), "alice-token", nil)
		}
		e.Expect(200, "GET", "/v1/orgs/acme/members?limit=1&sort=name&page="+url.QueryEscape(next), "alice-token", nil)
	})
}

func TestListMembersErrors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		tests := []struct {
			name, path, token string
			status            int
			want              string
		}{
			{"no token", "/v1/orgs/acme/members", "", 401, "Authorization"},
			{"not a member", "/v1/orgs/acme/members", "carol-token", 404, "not found"},
			{"member of another", "/v1/orgs/globex/members", "alice-token", 404, "not found"},
			{"unknown", "/v1/orgs/nothere/members", "alice-token", 404, "not found"},
			{"invalid id", "/v1/orgs/a.b/members", "alice-token", 400, "organizationId"},
			{"bad sort", "/v1/orgs/acme/members?sort=email", "alice-token", 400, "sort"},
			{"bad order", "/v1/orgs/acme/members?order=up", "alice-token", 400, "order"},
			{"bad role", "/v1/orgs/acme/members?role=owner", "alice-token", 400, "role"},
			{"role in capitals", "/v1/orgs/acme/members?role=ADMIN", "alice-token", 400, "role"},
			{"bad limit", "/v1/orgs/acme/members?limit=many", "alice-token", 400, "limit"},
			{"limit too large", "/v1/orgs/acme/members?limit=1001", "alice-token", 400, "limit"},
			{"forged page", "/v1/orgs/acme/members?page=abc.def", "alice-token", 400, "page"},
			{"search too long", "/v1/orgs/acme/members?search=" + strings.Repeat("a", 257), "alice-token", 400, "search"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := e.Expect(tt.status, "GET", tt.path, tt.token, nil)
				if msg := res.ErrorMessage(t); !strings.Contains(msg, tt.want) {
					t.Errorf("message %q does not mention %q", msg, tt.want)
				}
			})
		}
		a := e.Expect(404, "GET", "/v1/orgs/acme/members", "carol-token", nil)
		b := e.Expect(404, "GET", "/v1/orgs/acmf/members", "carol-token", nil)
		if strings.ReplaceAll(string(a.Body), "acme", "X") != strings.ReplaceAll(string(b.Body), "acmf", "X") {
			t.Errorf("hidden and missing organizations differ: %s vs %s", a.Body, b.Body)
		}
	})
}

func TestAdminCreateUser(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		res := e.Expect(201, "POST", "/admin/users", apitest.AdminToken, map[string]string{"displayName": "Zoe", "email": "zoe@example.com"})
		var out struct {
			User struct {
				Object, ID, DisplayName, Email string
			}
			Token string
		}
		res.JSON(t, &out)
		if out.User.Object != "user" || out.User.DisplayName != "Zoe" || out.User.Email != "zoe@example.com" || !integrations.ValidID(out.User.ID) || out.Token == "" {
			t.Fatalf("created %s", res.Body)
		}
		// The token is the new user's.
		var me struct{ ID, DisplayName string }
		e.Expect(200, "GET", "/v1/user", out.Token, nil).JSON(t, &me)
		if me.ID != out.User.ID || me.DisplayName != "Zoe" {
			t.Errorf("GET /v1/user with the new token: %+v", me)
		}
		// A new user belongs to nothing and is no staff.
		if ids := listIDs(t, e.Expect(200, "GET", "/v1/orgs", out.Token, nil)); len(ids) != 0 {
			t.Errorf("new user's organizations: %v", ids)
		}
		e.Expect(403, "POST", "/admin/users", out.Token, map[string]string{"displayName": "Yan"})
		// Email is optional.
		e.Expect(201, "POST", "/admin/users", apitest.AdminToken, map[string]string{"displayName": "No Mail"})

		tests := []struct {
			name, token string
			body        any
			status      int
			want        string
		}{
			{"no token", "", map[string]string{"displayName": "Yan", "email": "yan@example.com"}, 401, "Authorization"},
			{"not staff", "alice-token", map[string]string{"displayName": "Yan", "email": "yan@example.com"}, 403, "admin"},
			{"bad email", apitest.AdminToken, map[string]string{"displayName": "Yan", "email": "yan"}, 400, "email"},
			{"email with a name", apitest.AdminToken, map[string]string{"displayName": "Yan", "email": "Yan <yan@example.com>"}, 400, "email"},
			{"no display name", apitest.AdminToken, map[string]string{"email": "yan@example.com"}, 400, "displayName"},
			{"blank display name", apitest.AdminToken, map[string]string{"displayName": "  ", "email": "yan@example.com"}, 400, "displayName"},
			{"display name not a string", apitest.AdminToken, map[string]any{"displayName": 1, "email": "yan@example.com"}, 400, "displayName"},
			{"duplicate email", apitest.AdminToken, map[string]string{"displayName": "Alice Again", "email": "alice@example.com"}, 409, "exists"},
			{"missing body", apitest.AdminToken, nil, 400, "body"},
			{"invalid JSON", apitest.AdminToken, `{"displayName":`, 400, "JSON"},
			{"array", apitest.AdminToken, `[]`, 400, "object"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := e.Expect(tt.status, "POST", "/admin/users", tt.token, tt.body)
				if msg := res.ErrorMessage(t); !strings.Contains(msg, tt.want) {
					t.Errorf("message %q does not mention %q", msg, tt.want)
				}
			})
		}
		// Nothing was created by the refused requests: yan@example.com is free.
		e.Expect(201, "POST", "/admin/users", apitest.AdminToken, map[string]string{"displayName": "Yan", "email": "yan@example.com"})
		e.Expect(409, "POST", "/admin/users", apitest.AdminToken, map[string]string{"displayName": "Yan", "email": "yan@example.com"})
	})
}

func TestAdminSetMember(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		e.Expect(404, "GET", "/v1/orgs/acme", "carol-token", nil)

		// Adds a member.
		var m struct {
			Object, ID, Role string
			User             struct{ ID string }
		}
		e.Expect(200, "PUT", "/admin/orgs/acme/members/carol", apitest.AdminToken, map[string]string{"role": "read"}).JSON(t, &m)
		if m.Object != "member" || m.ID != "carol" || m.Role != "read" || m.User.ID != "carol" {
			t.Errorf("member %+v", m)
		}
		e.Expect(200, "GET", "/v1/orgs/acme", "carol-token", nil)
		e.Expect(403, "POST", "/v1/orgs/acme/spaces", "carol-token", nil)
		joined := listMembers(t, e, "/v1/orgs/acme/members?search=carol", "alice-token")
		if len(joined) != 1 || joined[0].Role != "read" {
			t.Fatalf("carol in acme: %+v", joined)
		}

		// Changes a role, keeping the join time.
		e.Expect(200, "PUT", "/admin/orgs/acme/members/carol", apitest.AdminToken, map[string]string{"role": "create"}).JSON(t, &m)
		if m.Role != "create" {
			t.Errorf("role %q after a change to create", m.Role)
		}
		e.Expect(201, "POST", "/v1/orgs/acme/spaces", "carol-token", nil)
		changed := listMembers(t, e, "/v1/orgs/acme/members?search=carol", "alice-token")
		if len(changed) != 1 || changed[0].Role != "create" || changed[0].JoinedAt != joined[0].JoinedAt {
			t.Errorf("after the change: %+v, before: %+v", changed, joined)
		}
		if got := memberNames(listMembers(t, e, "/v1/orgs/acme/members?role=create", "alice-token")); fmt.Sprint(got) != "[Carol]" {
			t.Errorf("role=create: %v", got)
		}

		tests := []struct {
			name, path, token string
			body              any
			status            int
			want              string
		}{
			{"no token", "/admin/orgs/acme/members/dave", "", map[string]string{"role": "read"}, 401, "Authorization"},
			{"admin of the org, not staff", "/admin/orgs/acme/members/dave", "alice-token", map[string]string{"role": "read"}, 403, "admin"},
			{"unknown org", "/admin/orgs/nothere/members/dave", apitest.AdminToken, map[string]string{"role": "read"}, 404, "nothere"},
			{"unknown user", "/admin/orgs/acme/members/nobody", apitest.AdminToken, map[string]string{"role": "read"}, 404, "nobody"},
			{"bad role", "/admin/orgs/acme/members/dave", apitest.AdminToken, map[string]string{"role": "owner"}, 400, "role"},
			{"guest is no member role", "/admin/orgs/acme/members/dave", apitest.AdminToken, map[string]string{"role": "guest"}, 400, "role"},
			{"no role", "/admin/orgs/acme/members/dave", apitest.AdminToken, map[string]string{}, 400, "role"},
			{"role not a string", "/admin/orgs/acme/members/dave", apitest.AdminToken, map[string]any{"role": 1}, 400, "role"},
			{"missing body", "/admin/orgs/acme/members/dave", apitest.AdminToken, nil, 400, "body"},
			{"invalid JSON", "/admin/orgs/acme/members/dave", apitest.AdminToken, `{"role"`, 400, "JSON"},
			{"invalid org id", "/admin/orgs/a.b/members/dave", apitest.AdminToken, map[string]string{"role": "read"}, 400, "organizationId"},
			{"invalid user id", "/admin/orgs/acme/members/a.b", apitest.AdminToken, map[string]string{"role": "read"}, 400, "userId"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := e.Expect(tt.status, "PUT", tt.path, tt.token, tt.body)
				if msg := res.ErrorMessage(t); !strings.Contains(msg, tt.want) {
					t.Errorf("message %q does not mention %q", msg, tt.want)
				}
			})
		}
		// None of them added dave to acme.
		e.Expect(404, "GET", "/v1/orgs/acme", "dave-token", nil)
		if got := memberNames(listMembers(t, e, "/v1/orgs/acme/members?search=dave", "alice-token")); len(got) != 0 {
			t.Errorf("dave in acme after refused requests: %v", got)
		}
	})
}
