package api_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"integrations/internal/crashtest"
)

// pageListings are the listings that page, each with the callers that may
// list it (the first has at least two items once pageWorld ran, unless one
// is all it has) and a filter of the listing that changes what it lists (""
// when it has none). Listings of one item only serve to try the tokens of
// the others on.
var pageListings = []struct {
	path, filter string
	callers      []string
	one          bool
}{
	{"/v1/orgs", "", []string{"admin", "staff"}, false},
	{"/v1/orgs/acme/members", "role=read", []string{"read", "admin", "staff"}, false},
	{"/v1/orgs/globex/members", "role=admin", []string{"staff"}, true},
	{"/v1/orgs/acme/spaces", "", []string{"read", "admin", "staff", "inst:slack"}, false},
	{"/v1/orgs/globex/spaces", "", []string{"staff", "inst:other"}, true},
	{"/v1/spaces/acme-handbook/integrations", "search=sl", []string{"read", "admin", "staff"}, false},
	{"/v1/spaces/acme-drafts/integrations", "search=sl", []string{"read"}, true},
	{"/v1/integrations", "search=o", []string{"read", "outsider", "staff", "int:other", "inst:other"}, false},
	{"/v1/integrations/slack/installations", "externalId=acme-ext-A7", []string{"int:slack", "inst:other"}, false},
	{"/v1/integrations/slack/spaces", "externalId=x", []string{"int:slack", "inst:slack"}, false},
	{"/v1/integrations/slack/installations/slack-acme/spaces", "", []string{"read", "admin", "staff", "int:slack", "inst:slack"}, false},
	{"/v1/integrations/slack/events", "", []string{"read", "admin", "staff", "int:slack"}, false},
	{"/v1/orgs/acme/integrations", "search=sl", []string{"read", "admin", "staff", "int:other"}, false},
	{"/v1/orgs/acme/installations", "search=sl", []string{"read", "admin", "staff"}, false},
	{"/v1/orgs/acme/integrations/installations-status", "target=space", []string{"read", "admin", "staff"}, false},
}

// pageWorld adds to the isolation world what makes every listing page:
// more organizations for acme's admin, slack on a second space.
func pageWorld(t testing.TB, w *isoEnv) {
	t.Helper()
	w.do(t, 201, "POST", "/v1/orgs", "tok-acme-admin", map[string]string{"title": "Second Co"})
	w.do(t, 201, "POST", "/v1/integrations/slack/installations/slack-acme/spaces", "tok-acme-admin", map[string]string{"space": "acme-drafts"})
}

// page lists a page of a listing and returns the status, the items as JSON
// text and the token of the next page.
func (w *isoEnv) page(t testing.TB, path, caller, query string) (int, []string, string) {
	t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	data := w.do(t, 0, "GET", path+sep+query, w.tokens[caller], nil)
	var out struct {
		Items []json.RawMessage
		Next  struct{ Page string }
		Error struct{ Code int }
	}
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("GET %s%s%s: %v: %s", path, sep, query, err, data)
	}
	if out.Error.Code != 0 {
		return out.Error.Code, nil, ""
	}
	items := make([]string, len(out.Items))
	for n, i := range out.Items {
		items[n] = string(i)
	}
	return 200, items, out.Next.Page
}

// tamper returns variants of a page token that only a forger makes.
func tamper(token string) map[string]string {
	body, mac, _ := strings.Cut(token, ".")
	flip := func(s string, at int) string {
		b := []byte(s)
		if b[at] == 'A' {
			b[at] = 'B'
		} else {
			b[at] = 'A'
		}
		return string(b)
	}
	return map[string]string{
		"body changed":  flip(body, len(body)/2) + "." + mac,
		"mac changed":   body + "." + flip(mac, 0),
		"mac cut":       body + "." + mac[:len(mac)-2],
		"no mac":        body,
		"body only dot": body + ".",
		"mac doubled":   token + mac,
	}
}

// TestPageTokensAreBound checks that a page token works only for the
// listing, the filters and the caller it was made for, and that no change
// to it is accepted.
func TestPageTokensAreBound(t *testing.T) {
	crashtest.Each(t, func(t *testing.T, db *crashtest.DB) {
		w := newIsoEnv(t, db)
		pageWorld(t, w)
		for _, l := range pageListings {
			src := l.callers[0]
			status, first, token := w.page(t, l.path, src, "limit=1")
			if l.one && status == 200 && len(first) == 1 && token == "" {
				continue
			}
			if status != 200 || len(first) != 1 || token == "" {
				t.Errorf("%s as %s: status %d, %d items, next %q: the listing does not page", l.path, src, status, len(first), token)
				continue
			}
			// The token works where it was made, and gives the next item.
			if status, second, _ := w.page(t, l.path, src, "limit=1&page="+url.QueryEscape(token)); status != 200 || len(second) != 1 || second[0] == first[0] {
				t.Errorf("%s as %s: the next page: status %d, items %q after %q", l.path, src, status, second, first)
			}
			refuse := func(what, path, caller, query string) {
				t.Helper()
				if status, items, _ := w.page(t, path, caller, query); status != 400 {
					t.Errorf("a token of %s as %s, %s (%s as %s?%s): status %d, items %q", l.path, src, what, path, caller, query, status, items)
				}
			}
			for _, other := range l.callers[1:] {
				refuse("by another caller", l.path, other, "page="+url.QueryEscape(token))
			}
			if l.filter != "" {
				refuse("with another filter", l.path, src, l.filter+"&page="+url.QueryEscape(token))
			}
			for _, other := range pageListings {
				if other.path != l.path {
					refuse("on another listing", other.path, other.callers[0], "page="+url.QueryEscape(token))
				}
			}
			for what, forged := range tamper(token) {
				refuse(what, l.path, src, "page="+url.QueryEscape(forged))
			}
		}
	})
}

// FuzzPageToken sends fuzzed page tokens to every listing as every caller.
// A page token is opaque: whatever it holds, the answer is the one without
// it or a 400, and a page never holds an item that the caller's own
// listing lacks.
func FuzzPageToken(f *testing.F) {
	servers := fuzzServers(f)
	type listing struct {
		status int
		items  map[string]bool
	}
	full := make([]map[string]listing, len(servers))
	for n, s := range servers {
		pageWorld(f, s.isoEnv)
		full[n] = map[string]listing{}
		for _, l := range pageListings {
			for _, c := range fuzzCallers {
				status, items, next := s.page(f, l.path, c, "limit=1000")
				if next != "" {
					f.Fatalf("%s as %s: more than 1000 items", l.path, c)
				}
				full[n][l.path+" "+c] = listing{status, map[string]bool{}}
				for _, i := range items {
					full[n][l.path+" "+c].items[i] = true
				}
			}
		}
	}
	s := servers[0]
	var tokens []string
	for n, l := range pageListings {
		for _, c := range l.callers {
			if _, _, token := s.page(f, l.path, c, "limit=1"); token != "" {
				tokens = append(tokens, token)
				f.Add(uint8(n), caller(c), token)
				f.Add(uint8(n+1), caller(c), token) // on another listing
				for _, forged := range tamper(token) {
					f.Add(uint8(n), caller(c), forged)
				}
			}
		}
	}
	for n, p := range []string{"", ".", "..", "a.b", "x", "%", "\x00", strings.Repeat("A", 1024) + ".AA", strings.Repeat("A", 2000),
		"eyJrIjoienp6In0.AAAAAAAAAAAAAAAAAAAAAA", "eyJ0IjotMX0.AAAAAAAAAAAAAAAAAAAAAA", "null.null", "e30.e30"} {
		f.Add(uint8(n), uint8(n), p)
	}
	f.Fuzz(func(t *testing.T, l, c uint8, page string) {
		for n, s := range servers {
			listing := pageListings[int(l)%len(pageListings)]
			who := fuzzCallers[int(c)%len(fuzzCallers)]
			own := full[n][listing.path+" "+who]
			status, data := s.send(t, "GET", listing.path+"?limit=2&page="+url.QueryEscape(page), s.tokens[who], nil)
			var out struct{ Items []json.RawMessage }
			if status == 200 {
				if err := json.Unmarshal(data, &out); err != nil {
					t.Fatalf("%s: %v: %s", listing.path, err, data)
				}
			}
			switch {
			case status == 400 && page != "":
			case status != own.status:
				t.Errorf("%s as %s with page %q: status %d, %d without a page", listing.path, who, page, status, own.status)
			}
			for _, item := range out.Items {
				if !own.items[string(item)] {
					t.Errorf("%s as %s with page %q: an item the caller's listing lacks: %.300s", listing.path, who, page, item)
				}
			}
		}
	})
}
