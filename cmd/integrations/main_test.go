package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"integrations/e2e"
	"integrations/internal/storetest"
)

// bin is the server binary, built once for all tests by TestMain.
var bin string

func TestMain(m *testing.M) {
	os.Exit(e2e.BuildMain(m, &bin))
}

// generatedToken finds the admin token that serve prints on a new database.
var generatedToken = regexp.MustCompile(`shown only this once:\s+(\S+)`)

func TestServePrintsGeneratedAdminTokenOnce(t *testing.T) {
	storetest.EachDatabase(t, servePrintsGeneratedAdminTokenOnce)
}

func servePrintsGeneratedAdminTokenOnce(t *testing.T, db string) {
	s := e2e.Start(t, bin, e2e.Flags(db))
	m := generatedToken.FindStringSubmatch(s.Stderr())
	if m == nil {
		t.Fatalf("no generated admin token on stderr:\n%s", s.Stderr())
	}
	token := m[1]
	var user struct {
		ID string `json:"id"`
	}
	s.Expect(t, http.StatusOK, "GET", "/v1/user", token, nil, &user)
	if user.ID == "" {
		t.Error("GET /v1/user gave no id")
	}
	s.Expect(t, http.StatusUnauthorized, "GET", "/v1/user", token+"x", nil, nil)
	if n := strings.Count(s.Stderr(), token); n != 1 {
		t.Errorf("the token appears %d times in the output, want once (in the notice only, never in logs)", n)
	}
	s.Stop(t)

	// The next start on the same database prints nothing, and the token
	// still works.
	s = e2e.Start(t, bin, e2e.Flags(db))
	if strings.Contains(s.Stderr(), "shown only this once") || strings.Contains(s.Stderr(), token) {
		t.Errorf("second start printed an admin token again:\n%s", s.Stderr())
	}
	s.Expect(t, http.StatusOK, "GET", "/v1/user", token, nil, nil)
	s.Stop(t)
}

// TestServeConfiguration starts the server configured by flags, by
// environment variables, and by both, and checks each setting's effect: the
// address it answers on, the database file it creates, the admin token that
// works and the base of the URLs in responses.
func TestServeConfiguration(t *testing.T) {
	tests := []struct {
		name    string
		command func(dir, addr string) e2e.Command
		public  func(addr string) string // the expected public URL
		token   string                   // the admin token that works
		db      string                   // the database file the server uses
	}{{
		name: "flags",
		command: func(dir, addr string) e2e.Command {
			return e2e.Command{Args: []string{"--addr", addr, "--database", "sqlite:" + filepath.Join(dir, "flags.db"),
				"--public-url", "https://flags.example.test/base", "--admin-token", "flag-token"}}
		},
		public: func(string) string { return "https://flags.example.test/base/" },
		token:  "flag-token",
		db:     "flags.db",
	}, {
		name: "environment",
		command: func(dir, addr string) e2e.Command {
			return e2e.Command{Env: []string{"INTEGRATIONS_ADDR=" + addr, "INTEGRATIONS_DATABASE=sqlite:" + filepath.Join(dir, "env.db"),
				"INTEGRATIONS_PUBLIC_URL=https://env.example.test", "INTEGRATIONS_ADMIN_TOKEN=env-token"}}
		},
		public: func(string) string { return "https://env.example.test/" },
		token:  "env-token",
		db:     "env.db",
	}, {
		name: "flags win over environment",
		command: func(dir, addr string) e2e.Command {
			return e2e.Command{
				Args: []string{"--addr", addr, "--database", "sqlite:" + filepath.Join(dir, "flags.db"),
					"--public-url", "https://flags.example.test", "--admin-token", "flag-token"},
				// An unusable address: the server would not start if it used it.
				Env: []string{"INTEGRATIONS_ADDR=256.0.0.1:1", "INTEGRATIONS_DATABASE=sqlite:" + filepath.Join(dir, "env.db"),
					"INTEGRATIONS_PUBLIC_URL=https://env.example.test", "INTEGRATIONS_ADMIN_TOKEN=env-token"},
			}
		},
		public: func(string) string { return "https://flags.example.test/" },
		token:  "flag-token",
		db:     "flags.db",
	}, {
		name: "default public URL",
		command: func(dir, addr string) e2e.Command {
			return e2e.Command{Args: []string{"--addr", addr, "--database", "sqlite:" + filepath.Join(dir, "flags.db"), "--admin-token", "flag-token"}}
		},
		public: func(addr string) string { return "http://" + addr + "/" },
		token:  "flag-token",
		db:     "flags.db",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := e2e.Start(t, bin, func(addr string) e2e.Command { return tt.command(dir, addr) })

			var user struct {
				URLs struct {
					Location string `json:"location"`
				} `json:"urls"`
			}
			s.Expect(t, http.StatusOK, "GET", "/v1/user", tt.token, nil, &user)
			if want := tt.public(s.Addr); !strings.HasPrefix(user.URLs.Location, want) {
				t.Errorf("urls.location = %q, want it to start with %q", user.URLs.Location, want)
			}
			for _, other := range []string{"flag-token", "env-token"} {
				if other != tt.token {
					s.Expect(t, http.StatusUnauthorized, "GET", "/v1/user", other, nil, nil)
				}
			}
			if strings.Contains(s.Stderr(), "shown only this once") {
				t.Errorf("a token was generated although one was given:\n%s", s.Stderr())
			}
			if strings.Contains(s.Stderr(), tt.token) {
				t.Errorf("the admin token appears in the output:\n%s", s.Stderr())
			}
			s.Stop(t)

			files, err := filepath.Glob(filepath.Join(dir, "*.db"))
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{filepath.Join(dir, tt.db)}; !slices.Equal(files, want) {
				t.Errorf("database files %v, want %v", files, want)
			}
		})
	}
}

// TestServePersistsAcrossRestarts writes what a server keeps (an organization
// with its member, a space, an integration with its icon, installed and
// enabled on the space, integration and installation tokens, delivered
// events), stops it and starts another on the same database: everything is
// answered the same and still works.
func TestServePersistsAcrossRestarts(t *testing.T) {
	storetest.EachDatabase(t, func(t *testing.T, db string) {
		const admin = "admin-token"
		// A fixed public URL, so that the answers of both servers name the
		// same URLs although they listen on different ports.
		const public = "https://integrations.example.test"
		flags := e2e.Flags(db, "--admin-token", admin, "--public-url", public)
		rcv := newEventReceiver(t)

		s := e2e.Start(t, bin, flags)
		alice := s.CreateUser(t, admin, "Alice", "alice@example.com")
		org := s.CreateOrg(t, alice.Token, "Acme")
		space := s.CreateSpace(t, alice.Token, org, "Handbook")
		icon := pngImage(t)
		s.Expect(t, http.StatusOK, "POST", "/v1/integrations/notes", alice.Token, map[string]any{
			"runtime": "v2", "organization": org, "title": "Notes", "description": "Notes in a space.",
			"scopes": []string{"space:content:read"}, "visibility": "private", "script": "export default {};",
			"icon": base64.StdEncoding.EncodeToString(icon), "blocks": []map[string]string{{"id": "note", "title": "Note"}},
		}, nil)
		s.Expect(t, http.StatusOK, "PUT", "/ext/integrations/notes/event-settings", alice.Token,
			map[string]string{"url": rcv.URL, "format": "webhook"}, nil)
		var in struct {
			ID string `json:"id"`
		}
		s.Expect(t, http.StatusCreated, "POST", "/v1/integrations/notes/installations", alice.Token, map[string]string{"organization": org}, &in)
		installation := "/v1/integrations/notes/installations/" + in.ID
		s.Expect(t, http.StatusCreated, "POST", installation+"/spaces", alice.Token, map[string]string{"space": space}, nil)
		var token struct {
			Token string `json:"token"`
		}
		s.Expect(t, http.StatusCreated, "POST", "/ext/integrations/notes/tokens", alice.Token, nil, &token)
		integrationToken := token.Token
		s.Expect(t, http.StatusOK, "POST", installation+"/tokens", integrationToken, nil, &token)
		installationToken := token.Token
		s.Expect(t, http.StatusOK, "GET", "/v1/spaces/"+space, installationToken, nil, nil)
		s.Expect(t, http.StatusNoContent, "POST", "/v1/integrations/notes/tasks", integrationToken,
			map[string]any{"task": map[string]string{"before": "restart"}}, nil)
		// installation_setup, space_installation_setup and the task, all
		// delivered.
		events := waitDelivered(t, s, alice.Token, 3)

		// What the first server answers, to compare with the second's.
		type read struct{ path, token string }
		reads := []read{
			{"/v1/orgs/" + org, alice.Token},
			{"/v1/spaces/" + space, alice.Token},
			{"/v1/orgs/" + org + "/members", alice.Token},
			{"/v1/integrations/notes", alice.Token},
			{installation, alice.Token},
			{installation + "/spaces", alice.Token},
			{"/v1/orgs/" + org + "/installations", alice.Token},
			{"/v1/spaces/" + space + "/integrations", alice.Token},
			{"/v1/spaces/" + space + "/integration-blocks", alice.Token},
			{"/v1/integrations/notes/events", alice.Token},
			{"/ext/integrations/notes/event-settings", alice.Token},
			{"/v1/integrations/notes/installations", integrationToken},
			{"/v1/integrations/notes/spaces", integrationToken},
			{"/v1/spaces/" + space, installationToken},
		}
		for _, e := range events {
			reads = append(reads, read{"/v1/integrations/notes/events/" + e.ID, alice.Token})
		}
		before := map[read]string{}
		for _, r := range reads {
			before[r] = string(s.Expect(t, http.StatusOK, "GET", r.path, r.token, nil, nil).Body)
		}
		var integration struct {
			URLs struct {
				Icon string `json:"icon"`
			} `json:"urls"`
		}
		if err := json.Unmarshal([]byte(before[read{"/v1/integrations/notes", alice.Token}]), &integration); err != nil {
			t.Fatal(err)
		}
		iconPath, ok := strings.CutPrefix(integration.URLs.Icon, public)
		if !ok || !strings.HasPrefix(iconPath, "/assets/integrations/notes/") {
			t.Fatalf("icon URL %q, want one under %s/assets/integrations/notes/", integration.URLs.Icon, public)
		}
		s.Stop(t)

		s = e2e.Start(t, bin, flags)
		for _, r := range reads {
			if got := string(s.Expect(t, http.StatusOK, "GET", r.path, r.token, nil, nil).Body); got != before[r] {
				t.Errorf("GET %s after the restart:\n%s\nbefore:\n%s", r.path, got, before[r])
			}
		}
		var members struct {
			Items []struct {
				Role string `json:"role"`
				User struct {
					ID string `json:"id"`
				} `json:"user"`
			} `json:"items"`
		}
		if err := json.Unmarshal([]byte(before[read{"/v1/orgs/" + org + "/members", alice.Token}]), &members); err != nil {
			t.Fatal(err)
		}
		if len(members.Items) != 1 || members.Items[0].User.ID != alice.ID || members.Items[0].Role != "admin" {
			t.Errorf("members %+v, want alice as admin", members.Items)
		}
		var enabled struct {
			Items []struct {
				Name string `json:"name"`
			} `json:"items"`
		}
		if err := json.Unmarshal([]byte(before[read{"/v1/spaces/" + space + "/integrations", alice.Token}]), &enabled); err != nil {
			t.Fatal(err)
		}
		if len(enabled.Items) != 1 || enabled.Items[0].Name != "notes" {
			t.Errorf("listSpaceIntegrations: %+v, want notes", enabled.Items)
		}

		// The icon is served as published.
		res := s.Expect(t, http.StatusOK, "GET", iconPath, "", nil, nil)
		if !bytes.Equal(res.Body, icon) || res.Header.Get("Content-Type") != "image/png" {
			t.Errorf("GET %s after the restart: %d bytes of %s, want the %d bytes of the published PNG",
				iconPath, len(res.Body), res.Header.Get("Content-Type"), len(icon))
		}

		// The tokens still work: the installation token of before the
		// restart reads the space, the integration token mints a new one
		// that does too, and queues a task.
		s.Expect(t, http.StatusOK, "GET", "/v1/spaces/"+space, installationToken, nil, nil)
		s.Expect(t, http.StatusOK, "POST", installation+"/tokens", integrationToken, nil, &token)
		s.Expect(t, http.StatusOK, "GET", "/v1/spaces/"+space, token.Token, nil, nil)
		s.Expect(t, http.StatusNoContent, "POST", "/v1/integrations/notes/tasks", integrationToken,
			map[string]any{"task": map[string]string{"after": "restart"}}, nil)

		// The events still work: one of before the restart is delivered
		// again, and the new task is delivered.
		first := events[len(events)-1] // listed newest first
		s.Expect(t, http.StatusAccepted, "POST", "/ext/integrations/notes/events/"+first.ID+"/redeliver", alice.Token, nil, nil)
		after := waitDelivered(t, s, alice.Token, 4)
		for deadline := time.Now().Add(10 * time.Second); rcv.count(first.ID) < 2 && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		if n := rcv.count(first.ID); n != 2 {
			t.Errorf("event %s (%s) received %d times, want twice: before the restart and redelivered after it", first.ID, first.Payload.Type, n)
		}
		if n := rcv.count(after[0].ID); after[0].Payload.Type != "task" || n != 1 {
			t.Errorf("newest event %s is a %s received %d times, want the task queued after the restart, received once", after[0].ID, after[0].Payload.Type, n)
		}
		s.Stop(t)
	})
}

// listedEvent is an event as listIntegrationEvents lists it.
type listedEvent struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Payload struct {
		Type string `json:"type"`
	} `json:"payload"`
}

// waitDelivered waits until the integration notes has n events, all
// delivered, and returns them as listed (newest first).
func waitDelivered(t *testing.T, s *e2e.Server, token string, n int) []listedEvent {
	t.Helper()
	var list struct {
		Items []listedEvent `json:"items"`
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		s.Expect(t, http.StatusOK, "GET", "/v1/integrations/notes/events", token, nil, &list)
		delivered := 0
		for _, e := range list.Items {
			if e.Status == "success" {
				delivered++
			}
		}
		if len(list.Items) == n && delivered == n {
			return list.Items
		}
		if len(list.Items) > n || time.Now().After(deadline) {
			t.Fatalf("events %+v, want %d, all delivered", list.Items, n)
		}
	}
}

// eventReceiver answers 200 to every event and counts the deliveries of each.
type eventReceiver struct {
	URL    string
	mu     sync.Mutex
	counts map[string]int // by X-GitBook-Event-Id
}

func newEventReceiver(t *testing.T) *eventReceiver {
	r := &eventReceiver{counts: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		io.Copy(io.Discard, req.Body)
		r.mu.Lock()
		r.counts[req.Header.Get("X-GitBook-Event-Id")]++
		r.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

func (r *eventReceiver) count(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[id]
}

// pngImage returns a small PNG image.
func pngImage(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	img.Set(1, 2, color.RGBA{R: 200, A: 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestServeShutsDownGracefully sends SIGTERM while a publish request is in
// flight: its body is only half sent. The server stops accepting
// connections, lets the request finish, and exits 0; the integration is
// there after a restart.
func TestServeShutsDownGracefully(t *testing.T) {
	storetest.EachDatabase(t, serveShutsDownGracefully)
}

func serveShutsDownGracefully(t *testing.T, db string) {
	const admin = "admin-token"
	s := e2e.Start(t, bin, e2e.Flags(db, "--admin-token", admin))
	org := s.CreateOrg(t, admin, "Acme")

	script := "export default {};//" + strings.Repeat("x", 1<<20)
	body := fmt.Sprintf(`{"runtime":"v2","title":"Slow","description":"","organization":%q,"scopes":[],"script":%q}`, org, script)
	half := len(body) / 2
	pr, pw := io.Pipe()
	req, err := http.NewRequest("POST", s.URL+"/v1/integrations/slow", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(body))
	req.Header.Set("Authorization", "Bearer "+admin)
	req.Header.Set("Content-Type", "application/json")
	// The server answers "100 Continue" when the handler starts reading the
	// body: from then on the request is in flight.
	req.Header.Set("Expect", "100-continue")
	reading := make(chan struct{})
	req = req.WithContext(httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got100Continue: func() { close(reading) },
	}))
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}
	type result struct {
		status int
		body   []byte
		err    error
	}
	done := make(chan result, 1)
	go func() {
		res, err := client.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer res.Body.Close()
		data, err := io.ReadAll(res.Body)
		done <- result{res.StatusCode, data, err}
	}()
	select {
	case <-reading:
	case r := <-done:
		t.Fatalf("request ended before the server read its body: %+v", r)
	}
	if _, err := io.WriteString(pw, body[:half]); err != nil {
		t.Fatal(err)
	}

	s.Signal(t, syscall.SIGTERM)
	// Shutdown has begun once the listener is closed.
	for {
		conn, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err != nil {
			break
		}
		conn.Close()
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case r := <-done:
		t.Fatalf("in-flight request ended before its body was complete: %+v", r)
	default:
	}

	if _, err := io.WriteString(pw, body[half:]); err != nil {
		t.Fatalf("sending the rest of the body after SIGTERM: %v (the server dropped the in-flight request)", err)
	}
	pw.Close()
	r := <-done
	if r.err != nil || r.status != http.StatusOK {
		t.Fatalf("in-flight publish: status %d, error %v: %.300s", r.status, r.err, r.body)
	}
	if code := s.Wait(t); code != 0 {
		t.Fatalf("exit status %d after SIGTERM, want 0; output:\n%s", code, s.Stderr())
	}

	s = e2e.Start(t, bin, e2e.Flags(db, "--admin-token", admin))
	var got struct {
		Name    string `json:"name"`
		Version int    `json:"version"`
	}
	s.Expect(t, http.StatusOK, "GET", "/v1/integrations/slow", admin, nil, &got)
	if got.Name != "slow" || got.Version != 1 {
		t.Errorf("after restart: %+v, want slow at version 1", got)
	}
	s.Stop(t)
}

func TestSeed(t *testing.T) {
	storetest.EachDatabase(t, seedFixture)
}

func seedFixture(t *testing.T, db string) {
	fixture := filepath.Join("..", "..", "examples", "fixture.yaml")

	r := e2e.Run(t, bin, nil, "seed", "--database", db, fixture)
	if r.Code != 0 || !strings.Contains(r.Stderr, "Seeded") {
		t.Fatalf("seed: exit %d:\n%s", r.Code, r.Stderr)
	}
	seeded := dump(t, db)

	// Seeding again changes nothing.
	r = e2e.Run(t, bin, []string{"INTEGRATIONS_DATABASE=" + db}, "seed", fixture)
	if r.Code != 0 {
		t.Fatalf("second seed: exit %d:\n%s", r.Code, r.Stderr)
	}
	if again := dump(t, db); again != seeded {
		t.Errorf("second seed changed the database:\nbefore:\n%s\nafter:\n%s", seeded, again)
	}

	// A broken file exits non-zero, names the entry and the field, and
	// changes nothing, not even its valid entries before the broken one.
	broken := []struct {
		name, text string
		want       []string
	}{
		{"unknown reference", `
users:
  - {id: carol, displayName: Carol, email: carol@example.com, tokens: [carol-secret]}
spaces:
  - {id: broken, organization: nowhere, title: Broken}
`, []string{`spaces[0] ("broken")`, "organization", "nowhere"}},
		{"value outside an enum", `
users:
  - {id: carol, displayName: Carol, email: carol@example.com, tokens: [carol-secret]}
spaces:
  - {id: fine, organization: acme, title: Fine}
  - {id: secret, organization: acme, title: Secret, visibility: classified}
`, []string{`spaces[1] ("secret")`, "visibility"}},
		{"invalid integration name", `
integrations:
  - {name: slack, organization: acme, title: Slack v2}
  - {name: "bad name!", organization: acme, title: Bad}
`, []string{`integrations[1] ("bad name!")`}},
		{"not YAML", "users: [{id: carol\n", []string{"not valid YAML"}},
	}
	for _, tt := range broken {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "broken.yaml")
			if err := os.WriteFile(file, []byte(tt.text), 0o644); err != nil {
				t.Fatal(err)
			}
			r := e2e.Run(t, bin, nil, "seed", "--database", db, file)
			if r.Code == 0 {
				t.Fatalf("seed of a broken file exited 0:\n%s", r.Stderr)
			}
			for _, want := range tt.want {
				if !strings.Contains(r.Stderr, want) {
					t.Errorf("message %q does not contain %q", r.Stderr, want)
				}
			}
			if after := dump(t, db); after != seeded {
				t.Errorf("a broken file changed the database:\nbefore:\n%s\nafter:\n%s", seeded, after)
			}
		})
	}

	// The server serves what was seeded.
	s := e2e.Start(t, bin, e2e.Flags(db, "--admin-token", "admin-token"))
	var list struct {
		Items []struct {
			Name string `json:"name"`
		} `json:"items"`
	}
	s.Expect(t, http.StatusOK, "GET", "/v1/spaces/handbook/integrations", "alice-secret", nil, &list)
	var names []string
	for _, it := range list.Items {
		names = append(names, it.Name)
	}
	slices.Sort(names)
	if want := []string{"mermaid", "slack"}; !slices.Equal(names, want) {
		t.Errorf("integrations enabled in handbook: %v, want %v", names, want)
	}
	s.Stop(t)
}

// dump returns every row of every table of the database at url (SQLite or
// PostgreSQL) as sorted text, to compare a database before and after a
// command.
func dump(t *testing.T, url string) string {
	t.Helper()
	driver, dsn := "pgx", url
	listTables := `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`
	if path, ok := strings.CutPrefix(url, "sqlite:"); ok {
		driver, dsn = "sqlite", "file:"+path
		listTables = `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tables, err := db.Query(listTables)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for tables.Next() {
		var name string
		if err := tables.Scan(&name); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	if err := tables.Close(); err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatalf("database %s has no tables", url)
	}
	var out strings.Builder
	for _, name := range names {
		rows, err := db.Query(`SELECT * FROM "` + name + `"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for rows.Next() {
			values := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range values {
				ptrs[i] = &values[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range values {
				if b, ok := v.([]byte); ok {
					values[i] = string(b)
				}
			}
			lines = append(lines, fmt.Sprint(values...))
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		slices.Sort(lines)
		fmt.Fprintf(&out, "%s (%d rows)\n", name, len(lines))
		for _, line := range lines {
			fmt.Fprintf(&out, "  %s\n", line)
		}
	}
	return out.String()
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode bool // true: exit 0
		want     []string
	}{
		{"no command", nil, false, []string{"Usage:", "no command given"}},
		{"unknown command", []string{"frobnicate"}, false, []string{"Usage:", `unknown command "frobnicate"`}},
		{"help", []string{"help"}, true, []string{"Usage:", "serve", "seed"}},
		{"seed without a file", []string{"seed"}, false, []string{"seed needs exactly one fixture file"}},
		{"unknown flag", []string{"serve", "--no-such-flag"}, false, []string{"no-such-flag"}},
		{"no read-header timeout", []string{"serve", "--read-header-timeout", "0"}, false, []string{"--read-header-timeout must be positive"}},
		{"negative header limit", []string{"serve", "--max-header-bytes", "-1"}, false, []string{"--max-header-bytes must be positive"}},
		{"trusted proxies that are no network", []string{"serve", "--trusted-proxies", "10.0.0.0/8,proxy.local"}, false, []string{`"proxy.local" is neither a network`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			r := e2e.Run(t, bin, []string{"INTEGRATIONS_DATABASE=sqlite:" + filepath.Join(dir, "integrations.db")}, tt.args...)
			if (r.Code == 0) != tt.wantCode {
				t.Errorf("exit status %d, want success %v", r.Code, tt.wantCode)
			}
			for _, want := range tt.want {
				if !strings.Contains(r.Stderr, want) {
					t.Errorf("stderr %q does not contain %q", r.Stderr, want)
				}
			}
		})
	}
}

func TestSetMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1)) // as it was
	tests := []struct {
		limit, cache int64
		env          string
		want         int64 // the runtime's limit afterwards; -2: unchanged
	}{
		{0, 0, "", 64<<20 + 128<<20}, // the default cache of 64 MiB
		{0, 1 << 30, "", 1<<30 + 128<<20},
		{0, -1, "", 128 << 20}, // the cache is off
		{300 << 20, 0, "", 300 << 20},
		{0, 0, "1GiB", -2}, // GOMEMLIMIT rules
		{-1, 0, "", -2},
	}
	for _, tt := range tests {
		t.Setenv("GOMEMLIMIT", tt.env)
		const before = 5 << 30
		debug.SetMemoryLimit(before)
		setMemoryLimit(tt.limit, tt.cache)
		got := debug.SetMemoryLimit(-1)
		want := tt.want
		if want == -2 {
			want = before
		}
		if got != want {
			t.Errorf("setMemoryLimit(%d, %d) with GOMEMLIMIT=%q: limit %d, want %d", tt.limit, tt.cache, tt.env, got, want)
		}
	}
}

func TestSetGCPercent(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100)) // as it was
	tests := []struct {
		percent int
		env     string
		want    int // the runtime's percent afterwards; -2: unchanged
	}{
		{0, "", defaultGCPercent},
		{150, "", 150},
		{-1, "", -1},
		{-5, "", -1},
		{0, "50", -2}, // GOGC rules
		{200, "50", 200},
	}
	for _, tt := range tests {
		t.Setenv("GOGC", tt.env)
		const before = 123
		debug.SetGCPercent(before)
		setGCPercent(tt.percent)
		got := debug.SetGCPercent(before)
		want := tt.want
		if want == -2 {
			want = before
		}
		if got != want {
			t.Errorf("setGCPercent(%d) with GOGC=%q: percent %d, want %d", tt.percent, tt.env, got, want)
		}
	}
}

// TestServeLogsEachRequest checks the line that serve writes for each
// request: JSON, with the request's method, route, status, duration, size
// and id (the one sent back as X-Request-Id); and none below the info level.
func TestServeLogsEachRequest(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "log.db")
	s := e2e.Start(t, bin, e2e.Flags(db))
	res := s.Do(t, "GET", "/v1/user", "not-a-token", nil)
	id := res.Header.Get("X-Request-Id")
	if res.Status != http.StatusUnauthorized || id == "" {
		t.Fatalf("GET /v1/user: status %d, request id %q", res.Status, id)
	}
	s.Stop(t)
	var found map[string]any
	for line := range strings.Lines(s.Stderr()) {
		var v map[string]any
		if json.Unmarshal([]byte(line), &v) == nil && v["request_id"] == id {
			found = v
		}
	}
	if found == nil {
		t.Fatalf("no log line with request id %s:\n%s", id, s.Stderr())
	}
	at, _ := found["time"].(string)
	if when, err := time.Parse(time.RFC3339Nano, at); err != nil || time.Since(when) > time.Minute {
		t.Errorf("time %q (%v)", at, err)
	}
	for key, want := range map[string]any{"level": "INFO", "msg": "request", "method": "GET", "route": "GET /v1/user", "status": 401.0, "bytes": float64(len(res.Body))} {
		if found[key] != want {
			t.Errorf("%s: %v, want %v", key, found[key], want)
		}
	}
	if d, ok := found["duration_ms"].(float64); !ok || d < 0 || d > 10_000 {
		t.Errorf("duration_ms: %v", found["duration_ms"])
	}

	s = e2e.Start(t, bin, e2e.Flags(db, "--log-level", "warn"))
	s.Do(t, "GET", "/v1/user", "not-a-token", nil)
	s.Stop(t)
	if strings.Contains(s.Stderr(), `"msg":"request"`) {
		t.Errorf("a request logged at the warn level:\n%s", s.Stderr())
	}
}
