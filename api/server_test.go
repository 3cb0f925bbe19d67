package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"integrations"
	"integrations/api"
	"integrations/internal/apitest"
	"integrations/internal/storetest"
)

// integrationToken mints a token of an integration as an admin of its owner.
func integrationToken(t *testing.T, e *apitest.Env, name, userToken string) string {
	t.Helper()
	var out struct{ Token string }
	e.Expect(201, "POST", "/ext/integrations/"+name+"/tokens", userToken, nil).JSON(t, &out)
	if out.Token == "" {
		t.Fatalf("no integration token for %s", name)
	}
	return out.Token
}

// installationToken mints a token of an installation with the integration's token.
func installationToken(t *testing.T, e *apitest.Env, name, installation, integrationToken string) string {
	t.Helper()
	var out struct{ Token string }
	e.Expect(200, "POST", "/v1/integrations/"+name+"/installations/"+installation+"/tokens", integrationToken, nil).JSON(t, &out)
	if out.Token == "" {
		t.Fatalf("no installation token for %s", installation)
	}
	return out.Token
}

// send sends a request with any headers to base+path (base "" for the test
// server) and checks the response against the spec, as e.Do does.
func send(t *testing.T, e *apitest.Env, base, method, path string, header http.Header, body string) *apitest.Response {
	t.Helper()
	if base == "" {
		base = e.URL
	}
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, r)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := e.Server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := &apitest.Response{Status: res.StatusCode, Header: res.Header, Body: data}
	e.CheckSpec(method, req.URL, out)
	return out
}

func bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

// errorCode returns the code of an error body, failing unless the body has
// the error shape.
func errorCode(t *testing.T, res *apitest.Response) int {
	t.Helper()
	var body struct {
		Error *struct {
			Code    int     `json:"code"`
			Message *string `json:"message"`
		} `json:"error"`
	}
	res.JSON(t, &body)
	if body.Error == nil || body.Error.Message == nil || *body.Error.Message == "" {
		t.Fatalf("not an error body: %s", res.Body)
	}
	return body.Error.Code
}

func TestHealthz(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		for _, token := range []string{"", "not-a-token", apitest.AdminToken} {
			res := e.Expect(200, "GET", "/healthz", token, nil)
			if m := res.Map(t); m["status"] != "ok" {
				t.Errorf("token %q: %s", token, res.Body)
			}
		}
		res := e.Expect(405, "POST", "/healthz", "", nil)
		if res.Header.Get("Allow") != "GET" {
			t.Errorf("Allow %q", res.Header.Get("Allow"))
		}
	})
}

func TestUnknownRoutes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		for _, tt := range []struct{ method, path string }{
			{"GET", "/v1/nothing"},
			{"GET", "/v1"},
			{"GET", "/v1/"},
			{"GET", "/"},
			{"GET", "/nothing"},
			{"GET", "/v1/spaces"},
			{"GET", "/v1/spaces/handbook/unknown"},
			{"GET", "/v1/spaces/handbook/integrations/"},
			{"GET", "/v1/users"},
			{"GET", "/v1/users/alice/unknown"},
			{"POST", "/v1/nothing"},
			{"DELETE", "/admin/nothing"},
			{"GET", "/admin/orgs/acme/members"},
		} {
			for _, token := range []string{"", "alice-token"} {
				res := e.Expect(404, tt.method, tt.path, token, nil)
				if code := errorCode(t, res); code != 404 {
					t.Errorf("%s %s: error code %d", tt.method, tt.path, code)
				}
			}
		}
	})
}

func TestWrongMethod(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		tests := []struct{ method, path, allow string }{
			{"DELETE", "/v1/user", "GET"},
			{"POST", "/v1/user", "GET"},
			{"PUT", "/v1/orgs", "GET, POST"},
			{"DELETE", "/v1/orgs/acme", "GET"},
			{"POST", "/v1/orgs/acme/members", "GET"},
			{"PATCH", "/v1/orgs/acme/spaces", "GET, POST"},
			{"PUT", "/v1/spaces/handbook", "DELETE, GET, PATCH"},
			{"POST", "/v1/spaces/handbook", "DELETE, GET, PATCH"},
			{"GET", "/admin/users", "POST"},
			{"DELETE", "/admin/orgs/acme/members/bob", "PUT"},
		}
		for _, tt := range tests {
			t.Run(tt.method+" "+tt.path, func(t *testing.T) {
				res := e.Expect(405, tt.method, tt.path, "alice-token", nil)
				if got := res.Header.Get("Allow"); got != tt.allow {
					t.Errorf("Allow %q, want %q", got, tt.allow)
				}
				if code := errorCode(t, res); code != 405 {
					t.Errorf("error code %d", code)
				}
				if !strings.Contains(res.ErrorMessage(t), tt.method) {
					t.Errorf("message %q does not name the method", res.ErrorMessage(t))
				}
			})
		}
		// A refused method changed nothing.
		e.Expect(200, "GET", "/v1/spaces/handbook", "alice-token", nil)
		e.Expect(200, "GET", "/v1/orgs/acme/members?search=bob", "alice-token", nil)
	})
}

// logLine is a line the server logs for a request.
type logLine struct {
	Msg        string   `json:"msg"`
	Method     string   `json:"method"`
	Route      string   `json:"route"`
	Status     int      `json:"status"`
	DurationMS *float64 `json:"duration_ms"`
	RequestID  string   `json:"request_id"`
}

// requestLog waits for the log line of the request with the given id and
// fails unless there is exactly one line for it.
func requestLog(t *testing.T, e *apitest.Env, id string) logLine {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var found []logLine
		for _, line := range strings.Split(strings.TrimSpace(e.Logs()), "\n") {
			var l logLine
			if err := json.Unmarshal([]byte(line), &l); err != nil {
				t.Fatalf("log line is not JSON: %q", line)
			}
			if l.RequestID == id {
				found = append(found, l)
			}
		}
		switch {
		case len(found) == 1:
			return found[0]
		case len(found) > 1:
			t.Fatalf("request %s logged %d lines: %+v", id, len(found), found)
		case time.Now().After(deadline):
			t.Fatalf("request %s logged nothing", id)
		}
		time.Sleep(10 * time.Millisecond) // polling for the line of a request already answered
	}
}

func TestUncleanPathsReachNoOperation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		tests := []struct{ method, path string }{
			{"GET", "/v1/spaces/../orgs"},
			{"GET", "//v1/user"},
			{"GET", "/v1//user"},
			{"GET", "/v1/spaces/./x/integrations"},
			{"GET", "/v1/spaces/handbook/./integrations"},
			{"GET", "/v1/spaces/%2E%2E/orgs"},
			{"GET", "/v1/user/."},
			{"GET", "/v1/orgs/acme/spaces/.."},
			{"GET", "/v1/spaces/blog/../handbook"},
			{"GET", "/healthz/../v1/user"},
			{"DELETE", "/v1/orgs/../spaces/handbook"},
			{"PATCH", "/v1/orgs/../spaces/handbook"},
			{"POST", "/v1/spaces/../orgs"},
			{"PUT", "/admin/users/../orgs/acme/members/carol"},
		}
		for n, tt := range tests {
			t.Run(tt.method+" "+tt.path, func(t *testing.T) {
				id := fmt.Sprintf("unclean-%d", n)
				h := bearer(apitest.AdminToken)
				h.Set("X-Request-Id", id)
				res := send(t, e, "", tt.method, tt.path, h, `{"title": "Hijacked", "role": "admin"}`)
				if res.Status != 404 || errorCode(t, res) != 404 {
					t.Fatalf("status %d: %s", res.Status, res.Body)
				}
				if l := requestLog(t, e, id); l.Route != "unmatched" {
					t.Errorf("the request reached %q", l.Route)
				}
			})
		}
		if sp := getSpace(t, e, "handbook", "alice-token"); sp.Title != "Handbook" {
			t.Errorf("handbook changed: %+v", sp)
		}
		e.Expect(404, "GET", "/v1/orgs/acme", "carol-token", nil)
		if n := orgCount(t, e); n != 2 {
			t.Errorf("%d organizations", n)
		}
	})
}

func TestEncodedIDs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		for _, tt := range []struct{ method, path string }{
			{"GET", "/v1/spaces/a%2Fb/integrations"},
			{"GET", "/v1/spaces/a%20b"},
			{"GET", "/v1/spaces/handbook%2F..%2Fblog"},
			{"GET", "/v1/spaces/handbook%2Fintegrations"},
			{"GET", "/v1/spaces/a%00b"},
			{"GET", "/v1/spaces/%2E%2E"},
			{"GET", "/v1/orgs/a%2Fb"},
			{"GET", "/v1/orgs/acme%20/members"},
			{"PATCH", "/v1/spaces/a%2Fb"},
			{"DELETE", "/v1/spaces/handbook%20"},
			{"PUT", "/admin/orgs/acme/members/bob%2F..%2Fcarol"},
		} {
			t.Run(tt.method+" "+tt.path, func(t *testing.T) {
				res := send(t, e, "", tt.method, tt.path, bearer(apitest.AdminToken), `{"title": "x", "role": "read"}`)
				if res.Status != 400 && res.Status != 404 {
					t.Fatalf("status %d: %s", res.Status, res.Body)
				}
				if code := errorCode(t, res); code != res.Status {
					t.Errorf("error code %d for status %d", code, res.Status)
				}
			})
		}
		// Percent-encoded letters are the letters.
		if sp := getSpace(t, e, "hand%62ook", "alice-token"); sp.ID != "handbook" {
			t.Errorf("hand%%62ook gave %+v", sp)
		}
		e.Expect(205, "DELETE", "/v1/spaces/handbook", "alice-token", nil)
		e.Expect(200, "GET", "/v1/spaces/blog", "alice-token", nil)
		e.Expect(404, "GET", "/v1/orgs/acme", "carol-token", nil)
	})
}

// smallServer serves the API of e's service with a body limit of limit bytes.
func smallServer(t *testing.T, e *apitest.Env, limit int64) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	srv.Start()
	t.Cleanup(srv.Close)
	srv.Config.Handler = api.New(e.Svc, api.Config{PublicURL: srv.URL, MaxBodyBytes: limit, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	return srv.URL
}

func TestBodyLimit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		const limit = 1024
		base := smallServer(t, e, limit)
		pad := func(body string, size int) string { return body + strings.Repeat(" ", size-len(body)) }
		noToken := http.Header{"Content-Type": {"application/json"}}
		auth := func(token string) http.Header {
			h := bearer(token)
			h.Set("Content-Type", "application/json")
			return h
		}
		tests := []struct {
			name, method, path, token, body string
		}{
			{"createOrganization", "POST", "/v1/orgs", "carol-token", `{"title": "Too Big"}`},
			{"createSpace", "POST", "/v1/orgs/acme/spaces", "alice-token", `{"title": "Too Big"}`},
			{"updateSpaceById", "PATCH", "/v1/spaces/handbook", "alice-token", `{"title": "Too Big"}`},
			{"adminCreateUser", "POST", "/admin/users", apitest.AdminToken, `{"displayName": "Too Big", "email": "big@example.com"}`},
			{"adminSetMember", "PUT", "/admin/orgs/acme/members/carol", apitest.AdminToken, `{"role": "admin"}`},
		}
		before := snapshot(t, e)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := send(t, e, base, tt.method, tt.path, auth(tt.token), pad(tt.body, limit+1))
				if res.Status != 413 || errorCode(t, res) != 413 {
					t.Fatalf("status %d: %s", res.Status, res.Body)
				}
				if !strings.Contains(res.ErrorMessage(t), "1024") {
					t.Errorf("message %q does not give the limit", res.ErrorMessage(t))
				}
				if after := snapshot(t, e); after != before {
					t.Errorf("state changed:\n%s", changes(before, after))
				}
			})
		}
		// No user was created: the email is free.
		e.Expect(201, "POST", "/admin/users", apitest.AdminToken, map[string]string{"displayName": "Big", "email": "big@example.com"})
		// A body of exactly the limit is fine.
		res := send(t, e, base, "POST", "/v1/orgs", auth("carol-token"), pad(`{"title": "Just Fits"}`, limit))
		if res.Status != 201 {
			t.Errorf("a body of %d bytes: %d %s", limit, res.Status, res.Body)
		}
		// Authentication comes first: without a token, 401 whatever the body.
		if res := send(t, e, base, "POST", "/v1/orgs", noToken, pad(`{}`, limit+1)); res.Status != 401 {
			t.Errorf("no token: %d", res.Status)
		}

		// The default limit is DefaultMaxBodyBytes.
		big := pad(`{"title": "Too Big"}`, api.DefaultMaxBodyBytes+1)
		res = send(t, e, "", "POST", "/v1/orgs", auth("carol-token"), big)
		if res.Status != 413 || errorCode(t, res) != 413 {
			t.Errorf("%d bytes to the default server: %d %s", len(big), res.Status, res.Body)
		}
		if ids := listIDs(t, e.Expect(200, "GET", "/v1/orgs", "carol-token", nil)); len(ids) != 1 {
			t.Errorf("carol's organizations: %v", ids)
		}
	})
}

// snapshot describes what the foundation endpoints show of the world, to
// tell whether a refused write changed anything.
func snapshot(t *testing.T, e *apitest.Env) string {
	t.Helper()
	var b strings.Builder
	for _, path := range snapshotPaths {
		// Plain requests, checked against the spec once per distinct answer:
		// checking the same answer after every refused write is slow.
		req, err := http.NewRequest("GET", e.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+apitest.AdminToken)
		res, err := e.Server.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("GET %s: %d %v %s", path, res.StatusCode, err, body)
		}
		if _, seen := checkedSnapshots.LoadOrStore(path+" "+string(body), true); !seen {
			e.CheckSpec("GET", req.URL, &apitest.Response{Status: res.StatusCode, Header: res.Header, Body: body})
		}
		fmt.Fprintf(&b, "%s %s\n", path, bytes.TrimSpace(body))
	}
	return b.String()
}

// changes lists the lines of a snapshot that differ from another.
func changes(before, after string) string {
	a, b := strings.Split(before, "\n"), strings.Split(after, "\n")
	var out []string
	for n := range a {
		if n >= len(b) || a[n] != b[n] {
			out = append(out, "before: "+a[n])
			if n < len(b) {
				out = append(out, "after:  "+b[n])
			}
		}
	}
	return strings.Join(out, "\n")
}

// checkedSnapshots holds the snapshot answers already checked against the
// spec, by path and body.
var checkedSnapshots sync.Map

var snapshotPaths = []string{
	"/v1/orgs?limit=1000",
	"/v1/orgs/acme",
	"/v1/orgs/acme/members?sort=name&limit=1000",
	"/v1/orgs/acme/spaces?limit=1000",
	"/v1/orgs/globex/members?sort=name&limit=1000",
	"/v1/orgs/globex/spaces?limit=1000",
	"/v1/spaces/handbook",
	"/v1/spaces/blog",
}

func TestBadWritesChangeNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		intToken := integrationToken(t, e, "slack", "alice-token")
		writes := []struct{ method, path, token string }{
			{"POST", "/v1/orgs", "carol-token"},
			{"POST", "/v1/orgs/acme/spaces", "alice-token"},
			{"PATCH", "/v1/spaces/handbook", "alice-token"},
			{"POST", "/admin/users", apitest.AdminToken},
			{"PUT", "/admin/orgs/acme/members/carol", apitest.AdminToken},
		}
		bodies := []struct {
			name, body string
			want       string
		}{
			{"invalid JSON", `{"title": "Bad", "role": "admin"`, "JSON"},
			{"not JSON", `<xml/>`, "JSON"},
			{"array", `[{"title": "Bad", "role": "admin"}]`, "object"},
			{"string", `"title"`, "object"},
			{"number", `42`, "object"},
			{"null", `null`, "object"},
			{"trailing garbage", `{"title": "Bad Co", "displayName": "Bad", "email": "bad@example.com", "role": "admin"} trailing`, "JSON"},
			{"two values", `{"title": "Bad Co", "displayName": "Bad", "email": "bad@example.com", "role": "admin"} {}`, "JSON"},
		}
		before := snapshot(t, e)
		for _, w := range writes {
			for _, b := range bodies {
				t.Run(w.method+" "+w.path+" "+b.name, func(t *testing.T) {
					res := e.Expect(400, w.method, w.path, w.token, b.body)
					if msg := res.ErrorMessage(t); !strings.Contains(msg, b.want) {
						t.Errorf("message %q does not mention %q", msg, b.want)
					}
					if after := snapshot(t, e); after != before {
						t.Errorf("state changed:\n%s", changes(before, after))
					}
				})
			}
			// Refused callers change nothing either.
			for _, token := range []string{"", "bob-token", intToken} {
				if token == "bob-token" && w.path == "/v1/orgs" {
					continue // any user may create an organization
				}
				res := e.Do(w.method, w.path, token, `{"title": "Bad Co", "displayName": "Bad", "email": "bad@example.com", "role": "admin"}`)
				if res.Status < 400 || res.Status >= 500 {
					t.Errorf("%s %s with %q: %d", w.method, w.path, token, res.Status)
				}
				if after := snapshot(t, e); after != before {
					t.Errorf("%s %s with %q changed the state:\n%s", w.method, w.path, token, changes(before, after))
				}
			}
		}
		// No user was created: the email is free.
		e.Expect(201, "POST", "/admin/users", apitest.AdminToken, map[string]string{"displayName": "Bad", "email": "bad@example.com"})
	})
}

func TestAuthorizationHeader(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		tests := []struct {
			name, header string
			status       int
		}{
			{"basic", "Basic x", 401},
			{"basic with alice's token", "Basic alice-token", 401},
			{"bearer without token", "Bearer", 401},
			{"bearer and a space", "Bearer ", 401},
			{"bearer and spaces", "Bearer    ", 401},
			{"no scheme", "alice-token", 401},
			{"other scheme", "Token alice-token", 401},
			{"token with extra words", "Bearer alice-token extra", 401},
			{"tab instead of space", "Bearer\talice-token", 401},
			{"unknown token", "Bearer unknown-secret-value", 401},
			{"scheme is case-insensitive", "bearer alice-token", 200},
			{"BEARER", "BEARER alice-token", 200},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := send(t, e, "", "GET", "/v1/user", http.Header{"Authorization": {tt.header}}, "")
				if res.Status != tt.status {
					t.Fatalf("status %d, want %d: %s", res.Status, tt.status, res.Body)
				}
				if tt.status != 401 {
					return
				}
				if errorCode(t, res) != 401 {
					t.Errorf("error code is not 401: %s", res.Body)
				}
				for _, secret := range []string{"alice-token", "unknown-secret-value"} {
					if strings.Contains(string(res.Body), secret) {
						t.Errorf("the error repeats the token: %s", res.Body)
					}
				}
			})
		}
	})
}

func TestWrongKindOfToken(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		intToken := integrationToken(t, e, "slack", "alice-token")
		instToken := installationToken(t, e, "slack", "slack-acme", intToken)
		// The tokens work where their kind is accepted.
		e.Expect(200, "GET", "/v1/orgs/acme", intToken, nil)
		e.Expect(200, "GET", "/v1/spaces/handbook", instToken, nil)
		e.Expect(200, "GET", "/v1/integrations/slack/installations", intToken, nil)

		before := snapshot(t, e)
		tests := []struct {
			name, method, path, token, kind string
			body                            any
		}{
			{"user with an integration token", "GET", "/v1/user", intToken, "integration", nil},
			{"user with an installation token", "GET", "/v1/user", instToken, "installation", nil},
			{"orgs with an integration token", "GET", "/v1/orgs", intToken, "integration", nil},
			{"create org with an integration token", "POST", "/v1/orgs", intToken, "integration", map[string]string{"title": "Bot Co"}},
			{"members with an installation token", "GET", "/v1/orgs/acme/members", instToken, "installation", nil},
			{"spaces with an integration token", "GET", "/v1/orgs/acme/spaces", intToken, "integration", nil},
			{"create space with an installation token", "POST", "/v1/orgs/acme/spaces", instToken, "installation", nil},
			{"update space with an installation token", "PATCH", "/v1/spaces/handbook", instToken, "installation", map[string]string{"title": "Bot"}},
			{"delete space with an integration token", "DELETE", "/v1/spaces/handbook", intToken, "integration", nil},
			{"admin with an integration token", "POST", "/admin/users", intToken, "integration", map[string]string{"displayName": "Bot"}},
			{"integration token with an integration token", "POST", "/ext/integrations/slack/tokens", intToken, "integration", nil},
			{"integration-only list with a user token", "GET", "/v1/integrations/slack/installations", "alice-token", "user", nil},
			{"integration-only token with a user token", "POST", "/v1/integrations/slack/installations/slack-acme/tokens", "alice-token", "user", nil},
			{"integration-only token with an installation token", "POST", "/v1/integrations/slack/installations/slack-acme/tokens", instToken, "installation", nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := e.Expect(403, tt.method, tt.path, tt.token, tt.body)
				msg := res.ErrorMessage(t)
				if !strings.Contains(msg, tt.kind) {
					t.Errorf("message %q does not name the kind of token", msg)
				}
				if strings.Contains(string(res.Body), tt.token) {
					t.Errorf("the error repeats the token: %s", res.Body)
				}
				if after := snapshot(t, e); after != before {
					t.Errorf("state changed:\n%s", changes(before, after))
				}
			})
		}
	})
}

var generatedID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

func TestRequestID(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		base := smallServer(t, e, 16)
		seen := map[string]bool{}
		for _, tt := range []struct {
			base, method, path, token, body string
			status                          int
		}{
			{"", "GET", "/v1/user", "alice-token", "", 200},
			{"", "GET", "/healthz", "", "", 200},
			{"", "POST", "/v1/orgs", "carol-token", `{"title": "Carol Co"}`, 201},
			{"", "DELETE", "/v1/spaces/nothere", "alice-token", "", 204},
			{"", "POST", "/v1/orgs", "carol-token", `[]`, 400},
			{"", "GET", "/v1/user", "", "", 401},
			{"", "GET", "/v1/user", "bad", "", 401},
			{"", "PATCH", "/v1/spaces/handbook", "bob-token", `{"title": "x"}`, 403},
			{"", "GET", "/v1/spaces/secret", "alice-token", "", 404},
			{"", "GET", "/nothing", "", "", 404},
			{"", "GET", "//v1/user", "alice-token", "", 404},
			{"", "PUT", "/v1/user", "alice-token", "", 405},
			{base, "POST", "/v1/orgs", "carol-token", `{"title": "Too Big For This"}`, 413},
		} {
			h := http.Header{}
			if tt.token != "" {
				h = bearer(tt.token)
			}
			res := send(t, e, tt.base, tt.method, tt.path, h, tt.body)
			if res.Status != tt.status {
				t.Errorf("%s %s: status %d, want %d", tt.method, tt.path, res.Status, tt.status)
			}
			id := res.Header.Get("X-Request-Id")
			if !generatedID.MatchString(id) || len(id) < 16 {
				t.Errorf("%s %s: X-Request-Id %q", tt.method, tt.path, id)
			}
			if seen[id] {
				t.Errorf("%s %s: X-Request-Id %q given twice", tt.method, tt.path, id)
			}
			seen[id] = true
		}

		// A valid incoming id comes back; anything else is replaced.
		for _, id := range []string{"abc-123", "trace:4bf92f3577b34da6.a3ce929d0e0e4736", strings.Repeat("a", 128)} {
			h := bearer("alice-token")
			h.Set("X-Request-Id", id)
			if got := send(t, e, "", "GET", "/v1/user", h, "").Header.Get("X-Request-Id"); got != id {
				t.Errorf("sent %q, got back %q", id, got)
			}
		}
		for _, id := range []string{"has space", "<script>", strings.Repeat("a", 129), "é"} {
			h := bearer("alice-token")
			h.Set("X-Request-Id", id)
			got := send(t, e, "", "GET", "/v1/user", h, "").Header.Get("X-Request-Id")
			if got == id || !generatedID.MatchString(got) {
				t.Errorf("sent %q, got back %q", id, got)
			}
		}
	})
}

func TestRequestLogs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		tests := []struct {
			method, path, token, body string
			status                    int
			route                     string
		}{
			{"GET", "/v1/user", "alice-token", "", 200, "GET /v1/user"},
			{"GET", "/v1/spaces/handbook", "alice-token", "", 200, "GET /v1/spaces/{spaceId}"},
			{"GET", "/v1/orgs/acme/members?sort=name", "alice-token", "", 200, "GET /v1/orgs/{organizationId}/members"},
			{"POST", "/v1/orgs", "carol-token", `{"title": "Logged"}`, 201, "POST /v1/orgs"},
			{"PATCH", "/v1/spaces/handbook", "alice-token", `{"title": 1}`, 400, "PATCH /v1/spaces/{spaceId}"},
			{"GET", "/v1/spaces/a.b", "alice-token", "", 400, "GET /v1/spaces/{spaceId}"},
			{"GET", "/v1/user", "", "", 401, "GET /v1/user"},
			{"DELETE", "/v1/spaces/handbook", "bob-token", "", 403, "DELETE /v1/spaces/{spaceId}"},
			{"GET", "/v1/spaces/secret", "alice-token", "", 404, "GET /v1/spaces/{spaceId}"},
			{"PUT", "/admin/orgs/acme/members/carol", apitest.AdminToken, `{"role": "read"}`, 200, "PUT /admin/orgs/{organizationId}/members/{userId}"},
			{"GET", "/healthz", "", "", 200, "GET /healthz"},
			{"GET", "/v1/nothing", "alice-token", "", 404, "unmatched"},
			{"GET", "/v1/spaces/../orgs", "alice-token", "", 404, "unmatched"},
			{"PUT", "/v1/user", "alice-token", "", 405, ""},
		}
		for n, tt := range tests {
			t.Run(fmt.Sprintf("%s %s %d", tt.method, tt.path, tt.status), func(t *testing.T) {
				id := fmt.Sprintf("log-test-%d", n)
				h := http.Header{"X-Request-Id": {id}}
				if tt.token != "" {
					h.Set("Authorization", "Bearer "+tt.token)
				}
				res := send(t, e, "", tt.method, tt.path, h, tt.body)
				if res.Status != tt.status {
					t.Fatalf("status %d, want %d: %s", res.Status, tt.status, res.Body)
				}
				l := requestLog(t, e, id)
				if l.Msg != "request" || l.Method != tt.method || l.Status != tt.status || l.Route == "" {
					t.Errorf("log line %+v", l)
				}
				if tt.route != "" && l.Route != tt.route {
					t.Errorf("route %q, want %q", l.Route, tt.route)
				}
				if l.DurationMS == nil || *l.DurationMS < 0 {
					t.Errorf("duration_ms missing or negative: %+v", l)
				}
			})
		}
	})
}

func TestTokensStaySecret(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		_, userToken := e.CreateUser("Secretive", "secretive@example.com")
		intToken := integrationToken(t, e, "slack", "alice-token")
		instToken := installationToken(t, e, "slack", "slack-acme", intToken)
		secrets := []string{"alice-token", "carol-token", apitest.AdminToken, userToken, intToken, instToken, "leaked-secret-1", "leaked-basic-2"}
		var bodies []string
		for _, token := range secrets {
			for _, r := range []struct{ method, path, body string }{
				{"GET", "/v1/user", ""},
				{"GET", "/v1/orgs/acme", ""},
				{"GET", "/v1/spaces/secret", ""},
				{"POST", "/v1/orgs/acme/spaces", `{"title": 5}`},
				{"PATCH", "/v1/spaces/handbook", `{"title": "` + strings.Repeat("x", 51) + `"}`},
				{"DELETE", "/v1/spaces/nothere", ""},
				{"POST", "/admin/users", `{}`},
				{"GET", "/v1/integrations/slack/installations", ""},
			} {
				res := e.Do(r.method, r.path, token, r.body)
				if res.Status >= 400 {
					bodies = append(bodies, string(res.Body))
				}
			}
		}
		res := send(t, e, "", "GET", "/v1/user", http.Header{"Authorization": {"Basic leaked-basic-2"}}, "")
		bodies = append(bodies, string(res.Body))
		logs := e.Logs()
		if !strings.Contains(logs, `"request_id"`) {
			t.Fatalf("no request was logged: %q", logs)
		}
		for _, secret := range secrets {
			if strings.Contains(logs, secret) {
				t.Errorf("the logs hold the token %q", secret)
			}
			for _, b := range bodies {
				if strings.Contains(b, secret) {
					t.Errorf("an error message holds the token %q: %s", secret, b)
				}
			}
		}
	})
}

// samplePath fills the wildcards of a route pattern with valid values.
func samplePath(pattern string) string {
	return regexp.MustCompile(`\{[^}]+\}`).ReplaceAllStringFunc(pattern, func(w string) string {
		return "sample-" + strings.ToLower(strings.Trim(w, "{}"))
	})
}

// schemesOf returns the token kinds a spec operation accepts.
func schemesOf(e *apitest.Env, method, pattern string) (api.Schemes, bool) {
	item := e.Spec.Doc.Paths.Find(strings.TrimPrefix(pattern, "/v1"))
	if item == nil || item.GetOperation(method) == nil {
		return 0, false
	}
	op := item.GetOperation(method)
	reqs := e.Spec.Doc.Security
	if op.Security != nil {
		reqs = *op.Security
	}
	var s api.Schemes
	for _, req := range reqs {
		for name := range req {
			switch name {
			case "user":
				s |= api.User
			case "integration":
				s |= api.Integration
			case "integration-installation":
				s |= api.Installation
			}
		}
	}
	return s, true
}

func TestRoutesMatchSpec(t *testing.T) {
	e := apitest.New(t, storetest.SQLite(t))
	routes := e.API.Routes()
	if len(routes) == 0 {
		t.Fatal("no routes")
	}
	seen := map[string]bool{}
	ops := map[string]bool{}
	var v1 []string
	for _, rt := range routes {
		key := rt.Method + " " + rt.Pattern
		if seen[key] {
			t.Errorf("%s is routed twice", key)
		}
		seen[key] = true
		if ops[rt.Operation] {
			t.Errorf("operation %s serves two routes", rt.Operation)
		}
		ops[rt.Operation] = true
		if rt.Operation == "" {
			t.Errorf("%s has no operation name", key)
		}
		if !strings.HasPrefix(rt.Pattern, "/v1/") {
			// The server's own: no GitBook operation may answer there.
			if op := e.Spec.Operation(rt.Method, samplePath(rt.Pattern)); op != "" {
				t.Errorf("%s is outside /v1 but is %s", key, op)
			}
			continue
		}
		v1 = append(v1, key)
		path := samplePath(rt.Pattern)
		if op := e.Spec.Operation(rt.Method, path); op != rt.Operation {
			t.Errorf("%s (%s): the spec's operation is %q, the route says %q", key, path, op, rt.Operation)
		}
		want, ok := schemesOf(e, rt.Method, rt.Pattern)
		if !ok {
			t.Errorf("%s: no such path in the spec", key)
		} else if got := rt.Schemes &^ api.Public; got != want {
			t.Errorf("%s: accepts token kinds %03b, the spec %03b", key, got, want)
		}
	}
	// The foundation's operations are all there.
	for _, key := range []string{
		"GET /v1/user", "GET /v1/orgs", "POST /v1/orgs", "GET /v1/orgs/{organizationId}", "GET /v1/orgs/{organizationId}/members",
		"GET /v1/orgs/{organizationId}/spaces", "POST /v1/orgs/{organizationId}/spaces", "GET /v1/spaces/{spaceId}",
		"PATCH /v1/spaces/{spaceId}", "DELETE /v1/spaces/{spaceId}", "GET /v1/spaces/{spaceId}/integrations",
		"GET /v1/spaces/{spaceId}/integration-blocks", "POST /admin/users", "PUT /admin/orgs/{organizationId}/members/{userId}", "GET /healthz",
	} {
		if !seen[key] {
			t.Errorf("%s is not routed", key)
		}
	}
	// The check itself tells a wrong name apart.
	if op := e.Spec.Operation("GET", "/v1/spaces/sample"); op != "getSpaceById" {
		t.Fatalf("the spec router gives %q for GET /v1/spaces/sample", op)
	}
	if op := e.Spec.Operation("PUT", "/v1/spaces/sample"); op != "" {
		t.Fatalf("the spec router gives %q for PUT /v1/spaces/sample", op)
	}
	if len(v1) == 0 {
		t.Error("no /v1 routes")
	}
}
