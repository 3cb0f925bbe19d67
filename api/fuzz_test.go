package api_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"integrations/api"
	"integrations/internal/crashtest"
	"integrations/internal/spectest"
	"integrations/internal/storetest"
)

// The fuzz targets send what the fuzzer makes of path ids, query strings and
// request bodies to every route, and check what the issue demands of any
// input: no panic, never a 5xx, every error in the spec's error shape, and no
// change to the store after a 4xx. `go test` runs their seed corpus (the
// f.Add calls and testdata/fuzz) on SQLite, and on PostgreSQL when
// INTEGRATIONS_TEST_POSTGRES is set; `go test -fuzz` runs them on SQLite
// (.ci/fuzz runs each for a short time).

// fuzzing reports whether the test binary runs with -fuzz.
func fuzzing() bool {
	f := flag.Lookup("test.fuzz")
	return f != nil && f.Value.String() != ""
}

// fuzzServer is a server on the isolation matrix's world (isoEnv), with its
// routes in a stable order.
type fuzzServer struct {
	*isoEnv
	routes []api.Route
}

// fuzzCallers are the callers the fuzz targets call as: those of the
// isolation matrix, and slack's own tokens.
var fuzzCallers = append(slices.Clone(isoCallers), "int:slack", "inst:slack")

// fuzzServers starts a server on each store the fuzz target runs on.
func fuzzServers(f *testing.F) []*fuzzServer {
	backends := []string{"sqlite"}
	if !fuzzing() {
		for _, b := range storetest.Backends() {
			if b.Name != "sqlite" {
				backends = append(backends, b.Name)
			}
		}
	}
	var out []*fuzzServer
	for _, b := range backends {
		s := &fuzzServer{isoEnv: newIsoEnv(f, crashtest.New(f, b))}
		s.routes = s.e.API.Routes()
		slices.SortFunc(s.routes, func(a, b api.Route) int { return strings.Compare(a.Method+" "+a.Pattern, b.Method+" "+b.Pattern) })
		out = append(out, s)
	}
	return out
}

// caller returns the fuzzed index of a caller.
func caller(name string) uint8 { return uint8(slices.Index(fuzzCallers, name)) }

// route returns the route of a fuzzed index.
func (s *fuzzServer) route(n uint8) api.Route { return s.routes[int(n)%len(s.routes)] }

// token returns the token of a fuzzed caller index ("" for none).
func (s *fuzzServer) token(n uint8) string { return s.tokens[fuzzCallers[int(n)%len(fuzzCallers)]] }

// path fills a route's pattern with acme's objects, except the parameter at
// index param (counted among the pattern's parameters), which becomes value:
// escaped, or as it is when raw.
func (s *fuzzServer) path(rt api.Route, param int, value string, raw bool) string {
	objects := s.params("acme")
	n := -1
	return isoParam.ReplaceAllStringFunc(rt.Pattern, func(p string) string {
		n++
		if n == param {
			if raw {
				return rawPath(value)
			}
			return url.PathEscape(value)
		}
		return url.PathEscape(objects[strings.Trim(p, "{}")])
	})
}

// rawPath keeps what a fuzzed path segment holds as it is ('/', '.', valid
// escapes such as %2F or %2e), and percent-encodes only what would make the
// request invalid or move the value out of the path: the bytes no request
// line may hold, '?', '#', and a '%' that starts no escape.
func rawPath(s string) string {
	return escapeBytes(s, func(i int) bool {
		switch s[i] {
		case '?', '#':
			return true
		case '%':
			return i+2 >= len(s) || !ishex(s[i+1]) || !ishex(s[i+2])
		}
		return false
	})
}

// rawQuery keeps a fuzzed query string as it is, invalid escapes included
// (the server must refuse them itself), and percent-encodes only the bytes
// no request line may hold and '#', which would end the query.
func rawQuery(s string) string {
	return escapeBytes(s, func(i int) bool { return s[i] == '#' })
}

// escapeBytes percent-encodes the bytes of s that no request line may hold
// as they are (control characters, space, DEL, bytes beyond ASCII) and those
// at the indexes where also says so.
func escapeBytes(s string, also func(i int) bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || also(i) {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// params counts the parameters of a route's pattern.
func params(rt api.Route) int { return len(isoParam.FindAllString(rt.Pattern, -1)) }

// send sends a request and checks the answer against the properties every
// input must keep, and returns its status. The target must be a valid
// request target (see rawPath and rawQuery): every input reaches the server.
func (s *fuzzServer) send(t *testing.T, method, target, token string, body []byte) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, s.e.URL+target, r)
	if err != nil {
		t.Fatalf("%s %q: the fuzz target made no valid request: %v", method, target, err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	before := s.db.Fingerprint(t)
	res, err := s.e.Server.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	data, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	where := fmt.Sprintf("%s %q (%s)", method, target, s.db.Backend)
	if res.StatusCode >= 500 {
		t.Errorf("%s: status %d: %.500s", where, res.StatusCode, data)
	}
	if res.StatusCode < 300 && method != "GET" {
		s.refresh(t) // bring back what a write removed
	}
	if res.StatusCode >= 400 {
		if err := errorShape(res.StatusCode, data); err != nil {
			t.Errorf("%s: %v", where, err)
		}
		if after := s.db.Fingerprint(t); after != before {
			t.Errorf("%s: answered %d, but the store changed: %.300s", where, res.StatusCode, data)
		}
	}
	if !fuzzing() {
		// The full check of the spec is slow; the seed corpus gets it. The
		// spec's router matches decoded paths, where an escaped '/' in a
		// segment would split it: it gets the escaped path then.
		p := req.URL.Path
		if strings.Count(req.URL.EscapedPath(), "/") != strings.Count(p, "/") {
			p = req.URL.EscapedPath()
		}
		err := s.e.Spec.ValidateResponse(method, p, req.URL.RawQuery, res.StatusCode, res.Header, data)
		if err == spectest.ErrNotInSpec {
			err = s.e.Ext.ValidateResponse(method, p, req.URL.RawQuery, res.StatusCode, res.Header, data)
		}
		if err != nil {
			t.Errorf("%s: the answer does not match the spec: %v\n%.500s", where, err, data)
		}
	}
	return res.StatusCode, data
}

// errorShape checks an error body: {"error": {"code": status, "message": "..."}}
// and nothing else, as the spec's Error schema has it.
func errorShape(status int, body []byte) error {
	var e map[string]json.RawMessage
	d := json.NewDecoder(bytes.NewReader(body))
	if err := d.Decode(&e); err != nil || len(e) != 1 || e["error"] == nil {
		return fmt.Errorf("error %d is not {\"error\": {...}}: %.300s", status, body)
	}
	var inner struct {
		Code    *int    `json:"code"`
		Message *string `json:"message"`
	}
	if err := json.Unmarshal(e["error"], &inner); err != nil || inner.Code == nil || inner.Message == nil {
		return fmt.Errorf("error %d has no code and message: %.300s", status, body)
	}
	if *inner.Code != status || *inner.Message == "" {
		return fmt.Errorf("error %d has code %d and message %q", status, *inner.Code, *inner.Message)
	}
	return nil
}

// body returns a valid body for a route on acme's objects, so that what is
// fuzzed is the only thing wrong with a request. Enabling slack on a space
// gets a new space each time, so that the request changes the store when it
// succeeds.
func (s *fuzzServer) body(t *testing.T, rt api.Route) []byte {
	t.Helper()
	var b any
	if rt.Operation == "installIntegrationOnSpace" {
		var sp struct{ ID string }
		if err := json.Unmarshal(s.do(t, 201, "POST", "/v1/orgs/acme/spaces", "tok-acme-admin", map[string]string{"title": "Fuzzed"}), &sp); err != nil {
			t.Fatal(err)
		}
		b = map[string]string{"space": sp.ID}
	} else {
		b = s.isoEnv.body(rt.Operation, "acme")
	}
	if b == nil {
		return nil
	}
	data, _ := json.Marshal(b)
	return data
}

// FuzzPathIDs puts fuzzed ids in each parameter of each route's path:
// spaceId, organizationId, integrationName, installationId, eventId,
// assetId and userId.
func FuzzPathIDs(f *testing.F) {
	servers := fuzzServers(f)
	s := servers[0]
	ids := []string{"", ".", "..", "...", "a.b", "a/b", "a%2Fb", "%2e%2e", "a b", "\x00", "a\x00b", "\xff\xfe", "é", "😀",
		strings.Repeat("a", 100), strings.Repeat("a", 101), strings.Repeat("x", 5000), "slack-globex", "tool-globex", "globex",
		"globex-vault", "globex-tool", "'; DROP TABLE spaces; --", "%", "_", "-", "%25", "*", "null", "0", "-1", "../acme",
		"a?b", "a#b", "%zz", "a\tb", "acme-handbook?x=1", "a\r\nX-Injected: 1"}
	// Each parameter of each route gets a few of the ids, in turn.
	k := 0
	for n, rt := range s.routes {
		for p := range params(rt) {
			for range 4 {
				f.Add(uint8(n), uint8(p), uint8(k), ids[k%len(ids)], k%5 == 0)
				k++
			}
		}
	}
	f.Fuzz(func(t *testing.T, route, param, caller uint8, value string, raw bool) {
		for _, s := range servers {
			rt := s.route(route)
			if params(rt) == 0 {
				return
			}
			s.send(t, rt.Method, s.path(rt, int(param)%params(rt), value, raw), s.token(caller), s.body(t, rt))
		}
	})
}

// FuzzQuery sends fuzzed query strings to every route: limit, page, search,
// extended, externalId, the integration filters (category, scope, target,
// owner, blockDomain, blocks, contentSources), the members' role, sort and
// order, and the status listing's target, space and site.
func FuzzQuery(f *testing.F) {
	servers := fuzzServers(f)
	s := servers[0]
	queries := []string{"", "limit=0", "limit=1", "limit=1000", "limit=1001", "limit=-1", "limit=1e3", "limit=0x10", "limit=",
		"limit=99999999999999999999", "limit=1&limit=2", "page=", "page=x.y", "page=%00", "page=" + strings.Repeat("A", 2000) + ".x",
		"search=", "search=%25", "search=_", "search=%00", "search=%FF%FE", "search=" + strings.Repeat("s", 257), "search=\\",
		"search=" + strings.Repeat("é", 256), "extended=true", "extended=maybe", "extended=", "externalId=%00", "externalId=acme-ext-A7",
		"category=analytics", "category=nope", "scope=space:content:read", "scope=%00", "target=space", "target=site",
		"target=organization", "target=x", "target=space&space=acme-handbook", "target=space&space=globex-vault", "space=x",
		"target=site&site=x", "owner=globex", "owner=a.b", "blockDomain=mermaid.live", "blockDomain=a/b", "blocks=true",
		"blocks=1", "contentSources=false", "contentSources=yes", "role=admin", "role=guest", "role=owner", "sort=name",
		"sort=x", "order=asc", "order=sideways", "a=%zz", "%", "&&&", "limit=1;page=2", "search=a&search=b",
		"search=a b", "search=a#b", "search=\x01", "search=\xff", "page=%zz", "search=a\r\nX-Injected: 1"}
	// Each query goes to a few routes in turn, as some caller; a bad
	// extended goes to every route as the staff user, who may make the
	// writes that take it.
	for n := range s.routes {
		for k, q := range queries {
			if (n+k)%12 == 0 {
				f.Add(uint8(n), uint8(k+n), q)
			}
		}
		f.Add(uint8(n), caller("staff"), "extended=maybe")
	}
	f.Fuzz(func(t *testing.T, route, caller uint8, query string) {
		for _, s := range servers {
			rt := s.route(route)
			s.send(t, rt.Method, s.path(rt, -1, "", false)+"?"+rawQuery(query), s.token(caller), s.body(t, rt))
		}
	})
}

// fuzzWrites are the write operations whose JSON bodies FuzzBodies fuzzes,
// each sent by a caller allowed to make it, so that the body is what decides.
var fuzzWrites = []struct {
	op, method, path, caller string
	valid                    string // a body that succeeds
}{
	{"publishIntegration", "POST", "/v1/integrations/slack", "admin",
		`{"organization": "acme", "title": "Slack", "description": "d", "script": "export default {};", "scopes": ["space:content:read"], "visibility": "public",
		"blocks": [{"id": "message", "title": "Message", "urlUnfurl": ["https://example.test"]}], "configurations": {"account": {"properties": {"k": {"type": "string"}}, "required": ["k"]}}}`},
	{"publishIntegration", "POST", "/v1/integrations/fuzz-new", "admin",
		`{"organization": "acme", "title": "New", "description": "d", "script": "export default {};", "scopes": [], "target": "space", "categories": ["analytics"]}`},
	{"installIntegration", "POST", "/v1/integrations/slack/installations", "admin", `{"organization": "acme"}`},
	{"updateIntegrationInstallation", "PATCH", "/v1/integrations/slack/installations/slack-acme", "admin",
		`{"configuration": {"note": "x"}, "externalIds": ["e1"], "space_selection": "selected", "site_selection": "all"}`},
	{"installIntegrationOnSpace", "POST", "/v1/integrations/slack/installations/slack-acme/spaces", "admin", `{"space": "acme-drafts"}`},
	{"updateIntegrationSpaceInstallation", "PATCH", "/v1/integrations/slack/installations/slack-acme/spaces/acme-handbook", "inst:slack",
		`{"configuration": {"channel": "c"}, "externalIds": ["x"]}`},
	{"createOrganization", "POST", "/v1/orgs", "admin", `{"title": "Fuzz Co", "emailDomains": ["fuzz.test"]}`},
	{"createSpace", "POST", "/v1/orgs/acme/spaces", "admin", `{"title": "Fuzz", "emoji": "1f600", "language": "en", "editMode": "live"}`},
	{"updateSpaceById", "PATCH", "/v1/spaces/acme-drafts", "admin",
		`{"title": "Drafts A8", "icon": null, "defaultLevel": "inherit", "mergeRules": {"type": "rules", "rules": []}, "visibility": "private"}`},
	{"adminCreateUser", "POST", "/admin/users", "staff", `{"displayName": "Fuzz", "email": "fuzz@example.test", "photoURL": "https://example.test/p.png"}`},
	{"adminSetMember", "PUT", "/admin/orgs/acme/members/u-read", "staff", `{"role": "read"}`},
	{"queueIntegrationTask", "POST", "/v1/integrations/slack/tasks", "int:slack", `{"task": {"n": 1}, "schedule": 10}`},
	{"setIntegrationDevelopmentMode", "PUT", "/v1/integrations/slack/dev", "admin", `{"tunnelUrl": "https://tunnel.example.test", "all": true}`},
	{"setEventSettings", "PUT", "/ext/integrations/slack/event-settings", "admin", `{"url": "https://hooks.example.test/x", "format": "webhook"}`},
}

// FuzzBodies sends fuzzed JSON bodies to every write operation that takes
// one: publish, install, update installation, space install and update,
// create organization and space, update space, the admin's user and member
// operations, tasks, development mode and event settings.
func FuzzBodies(f *testing.F) {
	servers := fuzzServers(f)
	mutations := []string{``, `null`, `[]`, `""`, `0`, `{}`, `{"a": 1}`, `{`, `{"title": ` + strings.Repeat("[", 10000) + `}`,
		`{"title": "\u0000"}`, `{"title": "a\u0000b", "organization": "acme", "displayName": "a\u0000b", "space": "a\u0000"}`,
		`{"title": "\ud800"}`, `{"title": 1e400}`, `{"title": {"$gt": ""}}`, `{"organization": "acme", "title": "x", "scopes": null}`,
		`{"configuration": null}`, `{"configuration": []}`, `{"configuration": "x"}`, `{"configuration": {"note": {"deep": [1, 2, {"x": null}]}}}`,
		`{"externalIds": null}`, `{"externalIds": [""]}`, `{"externalIds": ["1", "2", "3", "4", "5", "6"]}`, `{"externalIds": [1]}`,
		`{"space": ""}`, `{"space": "globex-vault"}`, `{"space": "initech-wiki"}`, `{"space": "../acme-handbook"}`, `{"organization": "globex"}`,
		`{"organization": ""}`, `{"role": "owner"}`, `{"role": null}`, `{"task": null}`, `{"task": {}, "schedule": -1}`,
		`{"task": {}, "schedule": 1e9}`, `{"task": "x"}`, `{"tunnelUrl": "javascript:alert(1)"}`, `{"tunnelUrl": ""}`,
		`{"url": "file:///etc/passwd"}`, `{"url": "https://x.test", "format": "xml"}`, `{"email": "not an email", "displayName": "x"}`,
		`{"mergeRules": {"type": "rules"}}`, `{"emoji": "x", "icon": "https://x.test/i.png"}`, `{"icon": "ftp://x"}`,
		`{"title": "` + strings.Repeat("t", 300) + `"}`, `{"visibility": "secret"}`, `{"defaultLevel": null}`,
		`{"organization": "acme", "title": "x", "description": "", "script": "", "scopes": ["nope"]}`,
		`{"organization": "acme", "title": "x", "description": "", "script": "", "scopes": [], "icon": "not base64"}`,
		`{"organization": "acme", "title": "x", "description": "", "script": "", "scopes": [], "previewImages": ["", "", "", "", "", ""]}`,
		`{"organization": "acme", "title": "x", "description": "", "script": "", "scopes": [], "blocks": [{"id": "", "title": ""}]}`,
		`{"organization": "acme", "title": "x", "description": "", "script": "", "scopes": [], "runtime": ""}`,
		`{"organization": "acme", "title": "x", "description": "", "script": "", "scopes": [], "secrets": {"a": "\u0000"}}`,
		`{"organization": "acme", "title": "x", "description": "", "script": "", "scopes": [], "configurations": {"account": {"properties": {"k": {"type": "weird"}}}}}`,
		`{"organization": "globex", "title": "x", "description": "", "script": "", "scopes": []}`,
		`{} {}`, `{"title": "x"} trailing`, "\xef\xbb\xbf{}"}
	// Every operation gets its valid body and the bodies that are not
	// objects; the other mutations go to a few operations each, in turn.
	for n, w := range fuzzWrites {
		f.Add(uint8(n), []byte(w.valid))
		for k, m := range mutations {
			if k < 7 || (n+k)%5 == 0 {
				f.Add(uint8(n), []byte(m))
			}
		}
	}
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		w := fuzzWrites[int(op)%len(fuzzWrites)]
		for _, s := range servers {
			s.send(t, w.method, w.path, s.tokens[w.caller], body)
		}
	})
}
