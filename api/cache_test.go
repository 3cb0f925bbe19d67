package api_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"

	"integrations"
	"integrations/internal/apitest"
	"integrations/internal/storetest"
)

func ifNoneMatch(etag string) http.Header { return http.Header{"If-None-Match": {etag}} }

func TestETagAndNotModified(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		for _, path := range []string{"/v1/spaces/handbook/integrations", "/v1/spaces/handbook/integration-blocks", "/v1/integrations/slack"} {
			first := e.Expect(200, "GET", path, "alice-token", nil)
			etag := first.Header.Get("ETag")
			if etag == "" || etag[0] != '"' {
				t.Fatalf("%s: ETag %q", path, etag)
			}
			if res := e.DoWith("GET", path, "alice-token", nil, ifNoneMatch(etag)); res.Status != 304 || res.Header.Get("ETag") != etag {
				t.Errorf("%s with its ETag: %d %q", path, res.Status, res.Header.Get("ETag"))
			}
			if res := e.DoWith("GET", path, "alice-token", nil, ifNoneMatch(`"other", W/`+etag)); res.Status != 304 {
				t.Errorf("%s with a list holding its weak ETag: %d", path, res.Status)
			}
			if res := e.DoWith("GET", path, "alice-token", nil, ifNoneMatch(`"other"`)); res.Status != 200 || string(res.Body) != string(first.Body) {
				t.Errorf("%s with another ETag: %d", path, res.Status)
			}
			// The answer depends on the caller: bob's differs (permissions).
			if bob := e.Expect(200, "GET", path, "bob-token", nil); path != "/v1/spaces/handbook/integration-blocks" && bob.Header.Get("ETag") == etag {
				t.Errorf("%s: alice and bob share an ETag", path)
			}
		}
		// A change that alters the answer changes the ETag at once.
		path := "/v1/spaces/blog/integrations"
		etag := e.Expect(200, "GET", path, "alice-token", nil).Header.Get("ETag")
		e.Expect(201, "POST", "/v1/integrations/slack/installations/slack-acme/spaces", "alice-token", map[string]string{"space": "blog"})
		res := e.DoWith("GET", path, "alice-token", nil, ifNoneMatch(etag))
		if res.Status != 200 || fmt.Sprint(names(t, res)) != "[github slack]" {
			t.Fatalf("after enabling slack: %d %s", res.Status, res.Body)
		}
		// A change that does not alter the answer keeps it.
		etag = res.Header.Get("ETag")
		e.Expect(201, "POST", "/v1/orgs/acme/spaces", "alice-token", map[string]string{"title": "Other"})
		if res := e.DoWith("GET", path, "alice-token", nil, ifNoneMatch(etag)); res.Status != 304 {
			t.Errorf("an unrelated change broke the ETag: %d", res.Status)
		}
	})
}

// TestCachedAnswerHeaders checks that an answer from the cache carries the
// headers of the answer computed the first time, under the same names, and
// that one URL sent in two spellings gets its own answer either way (the
// cache names answers by the request line as sent).
func TestCachedAnswerHeaders(t *testing.T) {
	e := apitest.New(t, storetest.SQLite(t))
	e.Seed(world)
	const path = "/v1/spaces/handbook/integrations?search=sl"
	computed := e.Expect(200, "GET", path, "alice-token", nil)
	for i := range 3 {
		cached := e.Expect(200, "GET", path, "alice-token", nil)
		if string(cached.Body) != string(computed.Body) {
			t.Fatalf("cached answer %d differs: %s, want %s", i, cached.Body, computed.Body)
		}
		for name, want := range computed.Header {
			switch name {
			case "Date", "X-Request-Id", "X-Ratelimit-Remaining":
				continue // of each response
			}
			if got := cached.Header[name]; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("cached answer %d: %s %q, want %q", i, name, got, want)
			}
		}
		if len(cached.Header) != len(computed.Header) {
			t.Errorf("cached answer %d: headers %v, want those of %v", i, cached.Header, computed.Header)
		}
	}
	for _, name := range []string{"Etag", "Cache-Control", "Content-Type", "Content-Length", "X-Request-Id"} {
		if len(computed.Header[name]) != 1 {
			t.Errorf("%s: %q, want one value", name, computed.Header[name])
		}
	}
	if fmt.Sprint(names(t, computed)) != "[slack]" {
		t.Fatalf("search=sl: %s", computed.Body)
	}
	for spelling, want := range map[string]string{
		"/v1/spaces/handbook/integrations?search=%73l": "[slack]",
		"/v1/spaces/handbook/integrations?search=mer":  "[mermaid]",
	} {
		for range 2 { // computed, then from the cache
			if got := fmt.Sprint(names(t, e.Expect(200, "GET", spelling, "alice-token", nil))); got != want {
				t.Errorf("%s: %s, want %s", spelling, got, want)
			}
		}
	}
}

// Two servers on one database stand for two replicas: after a write through
// one returns, the other never answers from what it held before.
func TestNoStaleAnswerAcrossReplicas(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		a, b := twoReplicas(t)
		a.Seed(world)
		list := "/v1/spaces/blog/integrations"
		blocks := "/v1/spaces/blog/integration-blocks"
		enable := "/v1/integrations/slack/installations/slack-acme/spaces"
		for i := 0; i < 20; i++ {
			// Warm b's cache, write through a, read through b.
			b.Expect(200, "GET", list, "alice-token", nil)
			b.Expect(200, "GET", blocks, "alice-token", nil)
			a.Expect(201, "POST", enable, "alice-token", map[string]string{"space": "blog"})
			if got := fmt.Sprint(names(t, b.Expect(200, "GET", list, "alice-token", nil))); got != "[github slack]" {
				t.Fatalf("round %d: after enabling through a, b answers %s", i, got)
			}
			if res := b.Expect(200, "GET", blocks, "alice-token", nil); string(res.Body) == "[]\n" {
				t.Fatalf("round %d: b's blocks are stale: %s", i, res.Body)
			}
			a.Expect(205, "DELETE", enable+"/blog", "alice-token", nil)
			if got := fmt.Sprint(names(t, b.Expect(200, "GET", list, "alice-token", nil))); got != "[github]" {
				t.Fatalf("round %d: after disabling through a, b answers %s", i, got)
			}
		}
		// A token that stops working stops at once on the other replica too.
		var tok map[string]string
		a.Expect(201, "POST", "/ext/integrations/slack/tokens", "alice-token", nil).JSON(t, &tok)
		b.Expect(200, "GET", "/v1/integrations/slack/installations", tok["token"], nil)
		a.Expect(205, "DELETE", "/v1/integrations/slack", "alice-token", nil)
		b.Expect(401, "GET", "/v1/integrations/slack/installations", tok["token"], nil)
	})
}

// twoReplicas starts two servers on one new database of the backend the
// subtest is named after.
func twoReplicas(t *testing.T) (*apitest.Env, *apitest.Env) {
	if filepath.Base(t.Name()) == "postgres" {
		url := storetest.PostgresURL(t)
		return apitest.New(t, storetest.PostgresAt(t, url)), apitest.New(t, storetest.PostgresAt(t, url))
	}
	path := filepath.Join(t.TempDir(), "shared.db")
	return apitest.New(t, storetest.SQLiteAt(t, path)), apitest.New(t, storetest.SQLiteAt(t, path))
}

// A deleted user's tokens stop working at once, on every replica, even right
// after a request put its caller in a replica's cache.
func TestDeletedUserTokensStopAtOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		a, b := twoReplicas(t)
		a.Seed(world)
		b.Expect(200, "GET", "/v1/user", "bob-token", nil)
		b.Expect(200, "GET", "/v1/spaces/handbook/integrations", "bob-token", nil)
		a.Expect(205, "DELETE", "/admin/users/bob", apitest.AdminToken, nil)
		b.Expect(401, "GET", "/v1/user", "bob-token", nil)
		b.Expect(401, "GET", "/v1/spaces/handbook/integrations", "bob-token", nil)
		a.Expect(204, "DELETE", "/admin/users/bob", apitest.AdminToken, nil)
		// Bob is no member any more; alice still is.
		var members struct{ Items []struct{ ID string } }
		a.Expect(200, "GET", "/v1/orgs/acme/members", "alice-token", nil).JSON(t, &members)
		if len(members.Items) != 1 || members.Items[0].ID != "alice" {
			t.Errorf("members after deleting bob: %+v", members.Items)
		}
		a.Expect(403, "DELETE", "/admin/users/carol", "alice-token", nil)
		a.Expect(200, "GET", "/v1/user", "carol-token", nil)
		var admin struct{ ID string }
		a.Expect(200, "GET", "/v1/user", apitest.AdminToken, nil).JSON(t, &admin)
		a.Expect(409, "DELETE", "/admin/users/"+admin.ID, apitest.AdminToken, nil)
		a.Expect(400, "DELETE", "/admin/users/a.b", apitest.AdminToken, nil)
	})
}

// viewCounter is a store that counts its read transactions.
type viewCounter struct {
	integrations.Store
	views atomic.Int64
}

func (s *viewCounter) View(ctx context.Context, fn func(integrations.Tx) error) error {
	s.views.Add(1)
	return s.Store.View(ctx, fn)
}

// TestCallersOutliveOtherWrites checks that the server keeps the caller of
// a token while writes that do not change callers come and go (enabling an
// integration on a space changes the store's version, not its generation),
// and resolves it again once one that does has returned.
func TestCallersOutliveOtherWrites(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		store := &viewCounter{Store: open(t)}
		e := apitest.New(t, store)
		e.Seed(world)
		enable, disable := "/v1/integrations/slack/installations/slack-acme/spaces", "/v1/integrations/slack/installations/slack-acme/spaces/blog"
		e.Expect(200, "GET", "/v1/spaces/handbook/integrations", "alice-token", nil) // her caller is kept
		for range 3 {
			// Neither write reads but to resolve alice's token, and her
			// caller comes from the cache.
			before := store.views.Load()
			e.Expect(201, "POST", enable, "alice-token", map[string]string{"space": "blog"})
			e.Expect(205, "DELETE", disable, "alice-token", nil)
			if n := store.views.Load() - before; n != 0 {
				t.Fatalf("an enable and a disable resolved the token in %d reads, want none", n)
			}
		}
		// A change to one of the tables of the generation, a space's title:
		// callers are resolved again.
		e.Expect(200, "PATCH", "/v1/spaces/handbook", "alice-token", map[string]string{"title": "The Handbook"})
		before := store.views.Load()
		e.Expect(201, "POST", enable, "alice-token", map[string]string{"space": "blog"})
		if n := store.views.Load() - before; n != 1 {
			t.Errorf("after a change to a space, an enable resolved the token in %d reads, want 1", n)
		}
	})
}

// TestWritesDropCachedAnswers checks that a write that returns empties the
// cache of answers, all made stale by its commit, and that a refused one
// keeps them.
func TestWritesDropCachedAnswers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		path := "/v1/spaces/blog/integrations"
		e.Expect(200, "GET", path, "alice-token", nil)
		e.Expect(200, "GET", "/v1/integrations/slack", "alice-token", nil)
		if n := e.API.CachedAnswers(); n != 2 {
			t.Fatalf("after two reads the cache holds %d answers, want 2", n)
		}
		enable := "/v1/integrations/slack/installations/slack-acme/spaces"
		e.Expect(400, "POST", enable, "alice-token", map[string]string{})
		if n := e.API.CachedAnswers(); n != 2 {
			t.Errorf("after a refused write the cache holds %d answers, want 2", n)
		}
		e.Expect(201, "POST", enable, "alice-token", map[string]string{"space": "blog"})
		if n := e.API.CachedAnswers(); n != 0 {
			t.Errorf("after a write the cache holds %d answers, want none", n)
		}
		if got := fmt.Sprint(names(t, e.Expect(200, "GET", path, "alice-token", nil))); got != "[github slack]" {
			t.Errorf("after enabling slack: %s", got)
		}
		if n := e.API.CachedAnswers(); n != 1 {
			t.Errorf("after a read the cache holds %d answers, want 1", n)
		}
	})
}
