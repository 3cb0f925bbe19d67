package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"integrations/e2e"
	"integrations/internal/storetest"
)

// These tests run several server processes on one PostgreSQL database, as
// replicas behind a load balancer would. They need INTEGRATIONS_TEST_POSTGRES.

const replicaAdmin = "replica-admin-token"

// requestTimeout bounds every request of these tests: a request that waits
// longer has hung, and fails the test.
const requestTimeout = 30 * time.Second

var client = &http.Client{Timeout: requestTimeout}

// startReplicas starts one server per command on the database at url, all
// at once, with the same admin token.
func startReplicas(t *testing.T, dbURL string, env [][]string, flags ...[]string) []*e2e.Server {
	t.Helper()
	servers := make([]*e2e.Server, len(flags))
	var wg sync.WaitGroup
	for i, extra := range flags {
		wg.Go(func() {
			args := append([]string{"--database", dbURL, "--admin-token", replicaAdmin}, extra...)
			servers[i] = e2e.Start(t, bin, func(addr string) e2e.Command {
				c := e2e.Command{Args: append([]string{"--addr", addr}, args...)}
				if env != nil {
					c.Env = env[i]
				}
				return c
			})
		})
	}
	wg.Wait()
	for i, s := range servers {
		if s == nil {
			t.Fatalf("replica %d did not start", i)
		}
	}
	return servers
}

// checkUnavailable fails the test unless res is a 503 in the spec's error
// shape that tells when to try again.
func checkUnavailable(t *testing.T, what string, res e2e.Response) {
	t.Helper()
	if res.Status != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Errorf("%s: status %d, Retry-After %q; want 503 with Retry-After", what, res.Status, res.Header.Get("Retry-After"))
	}
	var e struct {
		Error *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(res.Body, &e); err != nil || e.Error == nil || e.Error.Code != res.Status || e.Error.Message == "" {
		t.Errorf("%s: status %d with body %s, not the error shape", what, res.Status, res.Body)
	}
}

// names returns the names of a listing of integrations, or of the
// integration-blocks answer.
func names(t *testing.T, s *e2e.Server, path, token string) []string {
	t.Helper()
	var list struct {
		Items []struct {
			Name string `json:"name"`
		} `json:"items"`
	}
	var blocks []struct {
		Name string `json:"name"`
	}
	out := any(&list)
	if strings.HasSuffix(path, "/integration-blocks") {
		out = &blocks
	}
	s.Expect(t, http.StatusOK, "GET", path, token, nil, out)
	var got []string
	for _, i := range list.Items {
		got = append(got, i.Name)
	}
	for _, b := range blocks {
		got = append(got, b.Name)
	}
	return got
}

// createUser creates a user through the admin extension and returns its token.
func createUser(t *testing.T, s *e2e.Server, name string) string {
	t.Helper()
	return s.CreateUser(t, replicaAdmin, name, strings.ToLower(name)+"@replicas.test").Token
}

func TestReplicas(t *testing.T) {
	dbURL := storetest.PostgresURL(t)
	withName := func(app string) string {
		u, err := url.Parse(dbURL)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("application_name", app)
		u.RawQuery = q.Encode()
		return u.String()
	}
	// Both start at once on a new database: one migrates, the other waits.
	servers := startReplicasNamed(t, withName, "replica-a", "replica-b")
	a, b := servers[0], servers[1]

	var versions []string
	for _, row := range storetest.PostgresQuery(t, dbURL, `SELECT version FROM schema_migrations ORDER BY version`) {
		versions = append(versions, row[0].(string))
	}
	files, err := os.ReadDir("../../postgres/migrations")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range files {
		want = append(want, strings.TrimSuffix(f.Name(), ".sql"))
	}
	if !slices.Equal(versions, want) {
		t.Fatalf("schema_migrations after two starts at once: %v, want each of %v once", versions, want)
	}

	alice := createUser(t, a, "Alice")
	org := a.CreateOrg(t, alice, "Acme")
	publication := map[string]any{"organization": org, "title": "Notes", "description": "Notes in a space.",
		"script": "export default {};", "scopes": []string{"space:content:read"}, "visibility": "public",
		"blocks": []map[string]string{{"id": "note", "title": "Note"}}}

	t.Run("a write through one is read at once through the other", func(t *testing.T) {
		space := a.CreateSpace(t, alice, org, "Handbook")
		b.Expect(t, http.StatusOK, "GET", "/v1/spaces/"+space, alice, nil, nil)

		a.Expect(t, http.StatusOK, "POST", "/v1/integrations/notes", alice, publication, nil)
		b.Expect(t, http.StatusOK, "GET", "/v1/integrations/notes", alice, nil, nil)
		var in struct{ ID string }
		a.Expect(t, http.StatusCreated, "POST", "/v1/integrations/notes/installations", alice, map[string]string{"organization": org}, &in)
		spaces := "/v1/integrations/notes/installations/" + in.ID + "/spaces"
		a.Expect(t, http.StatusCreated, "POST", spaces, alice, map[string]string{"space": space}, nil)
		for _, path := range []string{"/v1/spaces/" + space + "/integrations", "/v1/spaces/" + space + "/integration-blocks"} {
			if got := names(t, b, path, alice); !slices.Equal(got, []string{"notes"}) {
				t.Errorf("B: GET %s after enabling through A: %v, want [notes]", path, got)
			}
		}

		// Back and forth, reading through both after each change, so that a
		// replica that kept an answer from before the change would show it.
		for i, write := range []*e2e.Server{b, a, b, a} {
			want := []string(nil)
			if i%2 == 0 {
				write.Expect(t, http.StatusResetContent, "DELETE", spaces+"/"+space, alice, nil, nil)
			} else {
				write.Expect(t, http.StatusCreated, "POST", spaces, alice, map[string]string{"space": space}, nil)
				want = []string{"notes"}
			}
			title := fmt.Sprint("Handbook ", i)
			write.Expect(t, http.StatusOK, "PATCH", "/v1/spaces/"+space, alice, map[string]string{"title": title}, nil)
			for _, read := range servers {
				for _, path := range []string{"/v1/spaces/" + space + "/integrations", "/v1/spaces/" + space + "/integration-blocks"} {
					if got := names(t, read, path, alice); !slices.Equal(got, want) {
						t.Errorf("step %d: GET %s through %s after a change through %s: %v, want %v", i, path, read.URL, write.URL, got, want)
					}
				}
				var got struct{ Title string }
				read.Expect(t, http.StatusOK, "GET", "/v1/spaces/"+space, alice, nil, &got)
				if got.Title != title {
					t.Errorf("step %d: title %q through %s after renaming to %q through %s", i, got.Title, read.URL, title, write.URL)
				}
			}
		}

		// Tokens and members made through one replica work at once on the
		// other.
		bob := createUser(t, b, "Bob")
		a.Expect(t, http.StatusOK, "GET", "/v1/user", bob, nil, nil)
		a.Expect(t, http.StatusNotFound, "GET", "/v1/spaces/"+space, bob, nil, nil)
		var bobUser struct{ ID string }
		b.Expect(t, http.StatusOK, "GET", "/v1/user", bob, nil, &bobUser)
		a.Expect(t, http.StatusOK, "PUT", "/admin/orgs/"+org+"/members/"+bobUser.ID, replicaAdmin, map[string]string{"role": "read"}, nil)
		b.Expect(t, http.StatusOK, "GET", "/v1/spaces/"+space, bob, nil, nil)
	})

	t.Run("page tokens of one replica work on the other", func(t *testing.T) {
		for i := range 3 {
			b.CreateSpace(t, alice, org, fmt.Sprint("Paged ", i))
		}
		var ids []string
		var page struct {
			Items []struct{ ID string }
			Next  *struct{ Page string }
		}
		path := "/v1/orgs/" + org + "/spaces?limit=1"
		for i, s := 0, a; ; i++ {
			s.Expect(t, http.StatusOK, "GET", path, alice, nil, &page)
			for _, it := range page.Items {
				ids = append(ids, it.ID)
			}
			if page.Next == nil || i > 10 {
				break
			}
			path = "/v1/orgs/" + org + "/spaces?limit=1&page=" + url.QueryEscape(page.Next.Page)
			if s == a { // each page from the other replica
				s = b
			} else {
				s = a
			}
			page.Next = nil
		}
		var all struct{ Items []struct{ ID string } }
		a.Expect(t, http.StatusOK, "GET", "/v1/orgs/"+org+"/spaces", alice, nil, &all)
		var want []string
		for _, it := range all.Items {
			want = append(want, it.ID)
		}
		if !slices.Equal(ids, want) || len(want) < 4 {
			t.Errorf("pages across replicas give %v, one listing %v", ids, want)
		}
	})

	t.Run("concurrent conflicting writes through both leave one winner", func(t *testing.T) {
		publication := with(publication, "title", "Racer")
		b.Expect(t, http.StatusOK, "POST", "/v1/integrations/racer", alice, publication, nil)
		space := a.CreateSpace(t, alice, org, "Race track")

		const n = 32
		race := func(method, path string, body any) []e2e.Response {
			responses := make([]e2e.Response, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				s := servers[i%2]
				wg.Go(func() {
					<-start
					responses[i] = s.Do(t, method, path, alice, body)
				})
			}
			close(start)
			wg.Wait()
			return responses
		}

		ids := map[string]int{}
		for i, res := range race("POST", "/v1/integrations/racer/installations", map[string]string{"organization": org}) {
			var in struct{ ID string }
			if res.Status != http.StatusCreated || json.Unmarshal(res.Body, &in) != nil {
				t.Errorf("installIntegration %d: status %d: %s", i, res.Status, res.Body)
				continue
			}
			ids[in.ID]++
		}
		if len(ids) != 1 {
			t.Fatalf("the answers name %d installations: %v", len(ids), ids)
		}
		var installation string
		for id := range ids {
			installation = id
		}
		for _, s := range servers {
			s.Expect(t, http.StatusOK, "GET", "/v1/integrations/racer/installations/"+installation, alice, nil, nil)
		}
		if got := len(storetest.PostgresQuery(t, dbURL, `SELECT i.id FROM installations i JOIN integrations n ON n.id = i.integration_id WHERE n.name = 'racer'`)); got != 1 {
			t.Errorf("%d installations of racer stored, want 1", got)
		}

		spaces := "/v1/integrations/racer/installations/" + installation + "/spaces"
		for i, res := range race("POST", spaces, map[string]string{"space": space}) {
			if res.Status != http.StatusCreated {
				t.Errorf("installIntegrationOnSpace %d: status %d: %s", i, res.Status, res.Body)
			}
		}
		if got := len(storetest.PostgresQuery(t, dbURL, `SELECT 1 FROM space_installations WHERE installation_id = '`+installation+`'`)); got != 1 {
			t.Errorf("%d space installations stored, want 1", got)
		}
		for _, s := range servers {
			if got := names(t, s, "/v1/spaces/"+space+"/integrations", alice); !slices.Equal(got, []string{"racer"}) {
				t.Errorf("%s: enabled in the space: %v", s.URL, got)
			}
		}

		// Concurrent creations are all kept: none is lost to another.
		before := spaceCount(t, a, alice, org)
		for i, res := range race("POST", "/v1/orgs/"+org+"/spaces", map[string]string{"title": "Same title"}) {
			if res.Status != http.StatusCreated {
				t.Errorf("createSpace %d: status %d: %s", i, res.Status, res.Body)
			}
		}
		if got := spaceCount(t, b, alice, org); got != before+n {
			t.Errorf("%d spaces after %d creations, want %d", got, n, before+n)
		}

		for _, s := range servers {
			if strings.Contains(s.Stderr(), `"level":"ERROR"`) {
				t.Errorf("%s logged errors:\n%s", s.URL, s.Stderr())
			}
		}
		// --db-max-conns bounds each replica's pool, even under the burst.
		for _, app := range []string{"replica-a", "replica-b"} {
			rows := storetest.PostgresQuery(t, dbURL, `SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = '`+app+`'`)
			if n := rows[0][0].(int64); n < 1 || n > 4 {
				t.Errorf("%s holds %d connections, want 1 to 4 (--db-max-conns 4)", app, n)
			}
		}
	})

	t.Run("each event is delivered once although both replicas deliver", func(t *testing.T) {
		var mu sync.Mutex
		received := map[string]int{} // task event id: deliveries
		receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-GitBook-Event-Type") == "task" {
				mu.Lock()
				received[r.Header.Get("X-GitBook-Event-Id")]++
				mu.Unlock()
			}
		}))
		defer receiver.Close()
		a.Expect(t, http.StatusOK, "PUT", "/ext/integrations/notes/event-settings", alice, map[string]string{"url": receiver.URL, "format": "webhook"}, nil)
		var token struct{ Token string }
		b.Expect(t, http.StatusCreated, "POST", "/ext/integrations/notes/tokens", alice, nil, &token)

		const n = 40
		for i := range n {
			servers[i%2].Expect(t, http.StatusNoContent, "POST", "/v1/integrations/notes/tasks", token.Token, map[string]any{"task": map[string]int{"n": i}}, nil)
		}
		// Wait until every task is recorded as delivered (or a deadline
		// passes), then count what the receiver got.
		deadline := time.Now().Add(time.Minute)
		for {
			var list struct {
				Items []struct {
					Status  string
					Payload struct{ Type string }
				}
			}
			servers[0].Expect(t, http.StatusOK, "GET", "/v1/integrations/notes/events?limit=1000", token.Token, nil, &list)
			delivered := 0
			for _, e := range list.Items {
				if e.Payload.Type == "task" && e.Status == "success" {
					delivered++
				}
			}
			if delivered >= n {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d tasks delivered after a minute", delivered, n)
			}
			time.Sleep(20 * time.Millisecond)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(received) != n {
			t.Errorf("the receiver got %d distinct task events, want %d", len(received), n)
		}
		for id, count := range received {
			if count != 1 {
				t.Errorf("event %s delivered %d times", id, count)
			}
		}
	})

	t.Run("seeding through the command is read at once by both", func(t *testing.T) {
		res := e2e.Run(t, bin, nil, "seed", "--database", dbURL, "../../examples/fixture.yaml")
		if res.Code != 0 {
			t.Fatalf("seed: status %d: %s", res.Code, res.Stderr)
		}
		var got [][]string
		for _, s := range servers {
			got = append(got, names(t, s, "/v1/spaces/handbook/integrations", "alice-secret"))
		}
		if len(got[0]) == 0 || !slices.Equal(got[0], got[1]) {
			t.Errorf("integrations of the seeded space: A %v, B %v", got[0], got[1])
		}
	})
}

// startReplicasNamed starts one replica per application name, each with a
// pool of 4 connections, its connections named so that the test can count
// them.
func startReplicasNamed(t *testing.T, withName func(string) string, apps ...string) []*e2e.Server {
	t.Helper()
	servers := make([]*e2e.Server, len(apps))
	var wg sync.WaitGroup
	for i, app := range apps {
		wg.Go(func() {
			servers[i] = e2e.Start(t, bin, e2e.Flags(withName(app), "--admin-token", replicaAdmin, "--db-max-conns", "4"))
		})
	}
	wg.Wait()
	for i, s := range servers {
		if s == nil {
			t.Fatalf("replica %s did not start", apps[i])
		}
	}
	return servers
}

// spaceCount returns the count of an organization's spaces.
func spaceCount(t *testing.T, s *e2e.Server, token, org string) int {
	t.Helper()
	var list struct{ Count int }
	s.Expect(t, http.StatusOK, "GET", "/v1/orgs/"+org+"/spaces?limit=1", token, nil, &list)
	return list.Count
}

// with returns a copy of m with key set to value.
func with(m map[string]any, key string, value any) map[string]any {
	c := make(map[string]any, len(m)+1)
	for k, v := range m {
		c[k] = v
	}
	c[key] = value
	return c
}

// TestDatabaseOutage takes the database away from running servers and gives
// it back: while it is away every request that needs it answers 503 in the
// error shape, none hangs, and the servers serve again on their own once it
// is back.
func TestDatabaseOutage(t *testing.T) {
	dbURL := storetest.PostgresURL(t)
	// One replica takes its settings from the environment, the other from
	// flags.
	servers := startReplicas(t, dbURL,
		[][]string{{"INTEGRATIONS_DB_STATEMENT_TIMEOUT=1s", "INTEGRATIONS_DB_CONNECT_TIMEOUT=2s"}, nil},
		nil, []string{"--db-statement-timeout", "1s", "--db-connect-timeout", "2s"})
	alice := createUser(t, servers[0], "Alice")
	org := servers[0].CreateOrg(t, alice, "Acme")
	space := servers[1].CreateSpace(t, alice, org, "Handbook")
	name := storetest.PostgresDatabase(t, dbURL)

	// Every request needs the database, if only to check the token.
	requests := []struct {
		method, path, token string
		body                any
		ok                  int
	}{
		{"GET", "/readyz", "", nil, http.StatusOK},
		{"GET", "/v1/user", alice, nil, http.StatusOK},
		{"GET", "/v1/spaces/" + space, alice, nil, http.StatusOK},
		{"GET", "/v1/spaces/" + space + "/integrations", alice, nil, http.StatusOK},
		{"POST", "/v1/orgs/" + org + "/spaces", alice, map[string]string{"title": "During the outage"}, http.StatusCreated},
	}
	serving := func(when string) {
		t.Helper()
		for _, s := range servers {
			for _, r := range requests {
				if res := s.Do(t, r.method, r.path, r.token, r.body); res.Status != r.ok {
					t.Errorf("%s: %s %s: status %d, want %d: %s", when, r.method, r.path, res.Status, r.ok, res.Body)
				}
			}
			s.Expect(t, http.StatusOK, "GET", "/healthz", "", nil, nil)
		}
	}
	serving("before")

	t.Run("connections ended by the server", func(t *testing.T) {
		storetest.PostgresAdmin(t, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '`+name+`' AND pid <> pg_backend_pid()`)
		// Each request either succeeds on a new connection or answers 503
		// in the error shape; the pools replace what they lost.
		for range 3 {
			for _, s := range servers {
				for _, r := range requests {
					res := s.Do(t, r.method, r.path, r.token, r.body)
					if res.Status == r.ok {
						continue
					}
					checkUnavailable(t, r.method+" "+r.path+" after the connections ended", res)
				}
			}
		}
		serving("after the connections ended")
	})

	t.Run("database refusing connections", func(t *testing.T) {
		storetest.PostgresAdmin(t, `ALTER DATABASE `+name+` ALLOW_CONNECTIONS false`)
		t.Cleanup(func() { storetest.PostgresAdmin(t, `ALTER DATABASE `+name+` ALLOW_CONNECTIONS true`) })
		storetest.PostgresAdmin(t, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '`+name+`' AND pid <> pg_backend_pid()`)
		for _, s := range servers {
			for _, r := range requests {
				checkUnavailable(t, r.method+" "+r.path+" while the database refuses connections", s.Do(t, r.method, r.path, r.token, r.body))
			}
			// The process itself is alive: only readiness fails.
			s.Expect(t, http.StatusOK, "GET", "/healthz", "", nil, nil)
		}
		storetest.PostgresAdmin(t, `ALTER DATABASE `+name+` ALLOW_CONNECTIONS true`)
		serving("after the database accepts connections again")
	})

	t.Run("statement timeout", func(t *testing.T) {
		// A transaction of another client holds a lock that the request
		// needs: the statement timeout ends the wait with 503.
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `LOCK TABLE spaces IN ACCESS EXCLUSIVE MODE`); err != nil {
			t.Fatal(err)
		}
		for _, s := range servers {
			checkUnavailable(t, "GET a space while its table is locked", s.Do(t, "GET", "/v1/spaces/"+space, alice, nil))
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		serving("after the lock is released")
	})
	for _, s := range servers {
		// The server writes its logs out every 100 ms.
		for deadline := time.Now().Add(5 * time.Second); !strings.Contains(s.Stderr(), "database unavailable") && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		if !strings.Contains(s.Stderr(), "database unavailable") {
			t.Errorf("%s logged no unavailable database:\n%s", s.URL, s.Stderr())
		}
	}
}
