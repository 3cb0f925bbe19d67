package crashtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"integrations"
	"integrations/e2e"
	"integrations/internal/apitest"
	"integrations/internal/storetest"
)

// bin is the server binary, built once by TestMain (with -race when the
// tests run with it).
var bin string

func TestMain(m *testing.M) {
	os.Exit(e2e.BuildMain(m, &bin))
}

// databaseURL returns the URL of a new, empty database of the backend of
// storetest.Each's subtest t, for the server binary.
func databaseURL(t *testing.T) string {
	switch backend := path.Base(t.Name()); backend {
	case "sqlite":
		// The default synchronous setting: NORMAL keeps every commit through
		// a crash of the process, which is what SIGKILL is.
		return "sqlite:" + filepath.Join(t.TempDir(), "crash.db")
	case "postgres":
		return storetest.PostgresURL(t)
	default:
		t.Fatalf("unknown backend %q", backend)
		return ""
	}
}

// serve starts the server binary on a database at an address ("" for a
// free one), with extra flags and environment variables (KEY=VALUE) if
// given.
func serve(t *testing.T, url, addr string, extra e2e.Command) *e2e.Server {
	t.Helper()
	return e2e.Start(t, bin, func(free string) e2e.Command {
		if addr == "" {
			addr = free
		}
		// Rate limiting would answer the load with 429s: it has tests of its own.
		args := []string{"--addr", addr, "--database", url, "--admin-token", apitest.AdminToken, "--rate-limit", "-1"}
		return e2e.Command{Args: append(args, extra.Args...), Env: extra.Env}
	})
}

// client is a client of the server under test. It sends each request with
// an X-Request-Id of its own and records which got no answer.
type client struct {
	url  atomic.Pointer[string]
	http *http.Client
	seq  atomic.Int64

	mu         sync.Mutex
	unanswered map[string]bool // request ids
}

func newClient(url string) *client {
	c := &client{http: &http.Client{Timeout: time.Minute}, unanswered: map[string]bool{}}
	c.url.Store(&url)
	return c
}

// errNoAnswer is a request that got no answer: the server was gone. A
// request whose answer was cut short is errCut.
var (
	errNoAnswer = errors.New("no answer")
	errCut      = errors.New("answer cut short")
)

// do sends a request as the admin and decodes a 2xx answer into out. It
// returns the status, or errNoAnswer when no answer came; a partial answer
// is an error of its own.
func (c *client) do(method, path string, body, out any) (int, error) {
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, *c.url.Load()+path, r)
	if err != nil {
		return 0, err
	}
	id := fmt.Sprintf("crashtest-%d", c.seq.Add(1))
	req.Header.Set("Authorization", "Bearer "+apitest.AdminToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", id)
	res, err := c.http.Do(req)
	if err != nil {
		c.mu.Lock()
		c.unanswered[id] = true
		c.mu.Unlock()
		return 0, fmt.Errorf("%w: %s %s: %v", errNoAnswer, method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, fmt.Errorf("%w: %s %s: status %d: %v", errCut, method, path, res.StatusCode, err)
	}
	if res.StatusCode >= 200 && res.StatusCode < 300 && out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return res.StatusCode, fmt.Errorf("%s %s: status %d with a body that is not JSON: %v: %q", method, path, res.StatusCode, err, data)
		}
	}
	if res.StatusCode >= 300 {
		return res.StatusCode, fmt.Errorf("%s %s: status %d: %s", method, path, res.StatusCode, data)
	}
	return res.StatusCode, nil
}

// writer is a client that writes its own objects: it publishes an
// integration, installs it on the organization, then creates spaces,
// enables its installation on them and updates their configuration. It
// records every write answered 2xx.
type writer struct {
	c            *client
	org, name    string
	installation string         // set once the install was answered
	spaces       []string       // created, answered
	enabled      map[string]int // space -> last configuration answered (0: enabled, none set)
	pending      map[string]int // space -> configuration sent, not answered
	acks         *atomic.Int64  // writes answered 2xx, of every writer
	retry        bool           // keep going after a write got no answer
}

// run writes until stop is closed or, unless w.retry, until a write gets no
// answer. It returns the first error that is not the server being gone.
func (w *writer) run(stop <-chan struct{}) error {
	w.enabled, w.pending = map[string]int{}, map[string]int{}
	step := func(write func() error) error {
		for {
			select {
			case <-stop:
				return errStopped
			default:
			}
			err := write()
			if err == nil {
				w.acks.Add(1)
				return nil
			}
			// A killed server may cut an answer short; one that shuts down
			// gracefully must not.
			if !errors.Is(err, errNoAnswer) && !(errors.Is(err, errCut) && !w.retry) {
				return err
			}
			if !w.retry {
				return errStopped
			}
			// The server is restarting: try the same write again, as a
			// client does; each of them may be repeated.
			time.Sleep(20 * time.Millisecond)
		}
	}
	publication := map[string]any{"organization": w.org, "title": "Crash " + w.name, "description": "d", "script": "export default {};",
		"scopes": []string{"space:content:read"}, "visibility": "public", "blocks": []map[string]string{{"id": "b", "title": "Block"}}}
	err := step(func() error {
		_, err := w.c.do("POST", "/v1/integrations/"+w.name, publication, nil)
		return err
	})
	if err == nil {
		err = step(func() error {
			var in struct{ ID string }
			_, err := w.c.do("POST", "/v1/integrations/"+w.name+"/installations", map[string]string{"organization": w.org}, &in)
			w.installation = in.ID
			return err
		})
	}
	for n := 0; err == nil; n++ {
		var space string
		err = step(func() error {
			var sp struct{ ID string }
			_, err := w.c.do("POST", "/v1/orgs/"+w.org+"/spaces", map[string]string{"title": fmt.Sprintf("%s %d", w.name, n)}, &sp)
			space = sp.ID
			return err
		})
		if err != nil {
			break
		}
		w.spaces = append(w.spaces, space)
		base := "/v1/integrations/" + w.name + "/installations/" + w.installation + "/spaces"
		w.pending[space] = 0
		err = step(func() error {
			_, err := w.c.do("POST", base, map[string]string{"space": space}, nil)
			return err
		})
		if err != nil {
			break
		}
		w.enabled[space] = 0
		for v := 1; v <= 2 && err == nil; v++ {
			w.pending[space] = v
			err = step(func() error {
				_, err := w.c.do("PATCH", base+"/"+space, map[string]any{"configuration": map[string]int{"n": v}}, nil)
				return err
			})
			if err == nil {
				w.enabled[space] = v
			}
		}
		if err == nil {
			delete(w.pending, space)
		}
	}
	if errors.Is(err, errStopped) {
		return nil
	}
	return err
}

var errStopped = errors.New("stopped")

// load runs writers until stop; wait returns their errors.
func load(c *client, org string, writers int, retry bool, stop <-chan struct{}) (ws []*writer, acks *atomic.Int64, wait func() error) {
	acks = &atomic.Int64{}
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for n := range writers {
		w := &writer{c: c, org: org, name: fmt.Sprintf("crash-%d", n), acks: acks, retry: retry}
		ws = append(ws, w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[n] = w.run(stop)
		}()
	}
	return ws, acks, func() error { wg.Wait(); return errors.Join(errs...) }
}

// waitFor polls until cond holds; a deadline turns a hang into a failure.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// event is the part of an event the checks read.
type event struct {
	Payload struct {
		Type           string
		InstallationID string
		SpaceID        string
		Previous       *struct {
			Configuration struct{ N *int }
		}
	}
}

// events lists every event of an integration, page after page.
func (c *client) events(t *testing.T, name string) []event {
	t.Helper()
	var all []event
	for page := ""; ; {
		var out struct {
			Items []event
			Count int
			Next  *struct{ Page string }
		}
		if _, err := c.do("GET", "/v1/integrations/"+name+"/events?limit=1000&page="+url.QueryEscape(page), nil, &out); err != nil {
			t.Fatalf("events of %s: %v", name, err)
		}
		all = append(all, out.Items...)
		if out.Next == nil {
			if len(all) != out.Count {
				t.Fatalf("events of %s: %d listed over the pages, count %d", name, len(all), out.Count)
			}
			return all
		}
		page = out.Next.Page
	}
}

// verify checks, on a running server, that every write answered 2xx is
// there, with its event: each integration, its installation (and its
// installation_setup event), each space, each space installation (and its
// space_installation_setup event) and the last configuration answered (or
// the one sent after it, which may have committed without an answer, and
// the event of each update).
func verify(t *testing.T, c *client, ws []*writer) {
	t.Helper()
	for _, w := range ws {
		if w.installation == "" {
			continue
		}
		if _, err := c.do("GET", "/v1/integrations/"+w.name, nil, nil); err != nil {
			t.Errorf("integration %s: %v", w.name, err)
		}
		if _, err := c.do("GET", "/v1/integrations/"+w.name+"/installations/"+w.installation, nil, nil); err != nil {
			t.Errorf("installation of %s: %v", w.name, err)
		}
		events := c.events(t, w.name)
		has := func(typ, space string, previous *int) bool {
			for _, e := range events {
				p := e.Payload
				if p.Type != typ || p.InstallationID != w.installation || p.SpaceID != space {
					continue
				}
				switch {
				case previous == nil && p.Previous == nil,
					previous != nil && p.Previous != nil && *previous == 0 && p.Previous.Configuration.N == nil,
					previous != nil && p.Previous != nil && p.Previous.Configuration.N != nil && *p.Previous.Configuration.N == *previous:
					return true
				}
			}
			return false
		}
		if !has(integrations.EventInstallationSetup, "", nil) {
			t.Errorf("%s: the install was answered but has no installation_setup event", w.name)
		}
		for _, space := range w.spaces {
			if _, err := c.do("GET", "/v1/spaces/"+space, nil, nil); err != nil {
				t.Errorf("space %s of %s: %v", space, w.name, err)
			}
		}
		for space, n := range w.enabled {
			var si struct{ Configuration struct{ N int } }
			if _, err := c.do("GET", "/v1/integrations/"+w.name+"/installations/"+w.installation+"/spaces/"+space, nil, &si); err != nil {
				t.Errorf("space installation %s/%s: %v", w.installation, space, err)
				continue
			}
			if got := si.Configuration.N; got != n && !(w.pending[space] == got && got == n+1) {
				t.Errorf("space installation %s/%s: configuration n=%d, the last answered was %d", w.installation, space, got, n)
			}
			if !has(integrations.EventSpaceInstallationSetup, space, nil) {
				t.Errorf("space installation %s/%s: enabled, answered, but no space_installation_setup event", w.installation, space)
			}
			for v := 1; v <= n; v++ {
				previous := v - 1
				if !has(integrations.EventSpaceInstallationSetup, space, &previous) {
					t.Errorf("space installation %s/%s: update to %d answered, but no event of it", w.installation, space, v)
				}
			}
		}
	}
}

// checkStore opens the database of a stopped server and checks its
// invariants, its events and its seed endpoints.
func checkStore(t *testing.T, url string) {
	t.Helper()
	db := Open(t, url)
	e := apitest.New(t, db.Store)
	Check(t, e, db)
	CheckEvents(t, db)
	if n := db.strings(t, `SELECT count(*) FROM space_installations`); n[0] == "0" {
		t.Error("the store holds no space installation: the load wrote nothing")
	}
}

// writers is how many clients write at once.
const writers = 8

// TestKillWhileWriting kills the server with SIGKILL while clients write,
// restarts it on the same database and checks that every write answered
// 2xx is there with its event, and that nothing is half-applied.
func TestKillWhileWriting(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ func(testing.TB) integrations.Store) {
		url := databaseURL(t)
		s := serve(t, url, "", e2e.Command{})
		c := newClient(s.URL)
		var org struct{ ID string }
		if _, err := c.do("POST", "/v1/orgs", map[string]string{"title": "Crash Co"}, &org); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		ws, acks, wait := load(c, org.ID, writers, false, stop)
		waitFor(t, "150 answered writes", func() bool { return acks.Load() >= 150 })
		s.Signal(t, syscall.SIGKILL)
		s.Wait(t)
		err := wait() // each writer stops at its first write without an answer
		close(stop)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d writes answered before the kill", acks.Load())

		s = serve(t, url, "", e2e.Command{})
		c.url.Store(&s.URL)
		verify(t, c, ws)
		s.Stop(t)
		checkStore(t, url)
	})
}

// TestShutdownUnderLoad stops the server with SIGTERM while clients write
// and restarts it while they go on: every request that got an answer got
// a complete one, every request the server logged as served was answered,
// the server exits 0, and nothing answered 2xx is lost.
func TestShutdownUnderLoad(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ func(testing.TB) integrations.Store) {
		url := databaseURL(t)
		s := serve(t, url, "", e2e.Command{})
		addr := s.Addr
		c := newClient(s.URL)
		var org struct{ ID string }
		if _, err := c.do("POST", "/v1/orgs", map[string]string{"title": "Shutdown Co"}, &org); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		ws, acks, wait := load(c, org.ID, writers, true, stop)
		waitFor(t, "100 answered writes", func() bool { return acks.Load() >= 100 })
		// A request in flight at the signal, for certain: its handler is
		// reading its body, which comes only once the server has stopped
		// listening.
		slow := startSlowRequest(t, addr, "crashtest-drain", `{"title": "Drained Co"}`)
		s.Signal(t, syscall.SIGTERM)
		waitFor(t, "the server to stop listening", func() bool {
			conn, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				conn.Close()
			}
			return err != nil
		})
		drained := slow.finish(t)
		if code := s.Wait(t); code != 0 {
			t.Fatalf("exit status %d after SIGTERM; output:\n%s", code, s.Stderr())
		}
		before := acks.Load()
		first := s.Stderr()
		_, afterSignal, _ := strings.Cut(first, "shutting down: finishing in-flight requests")
		if !strings.Contains(afterSignal, `"request_id":"crashtest-drain"`) {
			t.Errorf("the request in flight at the signal was not logged as served during the drain:\n%.3000s", first)
		}

		s = serve(t, url, addr, e2e.Command{})
		waitFor(t, "100 more answered writes after the restart", func() bool { return acks.Load() >= before+100 })
		close(stop)
		if err := wait(); err != nil {
			t.Fatal(err) // a partial answer, or an error status
		}
		verify(t, c, ws)
		if _, err := c.do("GET", "/v1/orgs/"+drained, nil, nil); err != nil {
			t.Errorf("the organization created during the drain: %v", err)
		}
		s.Stop(t)
		t.Logf("%d writes answered, %d before the SIGTERM", acks.Load(), before)
		checkLogs(t, c, first, s.Stderr())
		checkStore(t, url)
	})
}

// slowRequest is a POST /v1/orgs in flight: the server has read its headers
// and its handler waits for its body.
type slowRequest struct {
	conn net.Conn
	r    *bufio.Reader
	body string
}

// startSlowRequest sends the headers of a request that expects "100
// Continue" and returns once the server sends it: its handler has started
// to read the body.
func startSlowRequest(t *testing.T, addr, id, body string) *slowRequest {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(time.Minute))
	fmt.Fprintf(conn, "POST /v1/orgs HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\nExpect: 100-continue\r\nX-Request-Id: %s\r\n\r\n", addr, apitest.AdminToken, len(body), id)
	r := bufio.NewReader(conn)
	res, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("the slow request: %v", err)
	}
	if res.StatusCode != http.StatusContinue {
		t.Fatalf("the slow request: status %d, want 100 Continue", res.StatusCode)
	}
	return &slowRequest{conn: conn, r: r, body: body}
}

// finish sends the body and returns the id of the organization created: the
// answer must be a complete 201.
func (s *slowRequest) finish(t *testing.T) string {
	t.Helper()
	if _, err := io.WriteString(s.conn, s.body); err != nil {
		t.Fatalf("the slow request's body: %v", err)
	}
	res, err := http.ReadResponse(s.r, nil)
	if err != nil {
		t.Fatalf("the slow request got no answer: %v", err)
	}
	defer res.Body.Close()
	var org struct{ ID string }
	data, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusCreated || json.Unmarshal(data, &org) != nil || org.ID == "" {
		t.Fatalf("the slow request: status %d, %v: %q; want a complete 201", res.StatusCode, err, data)
	}
	return org.ID
}

// checkLogs checks the logs of the servers that ran one after the other:
// every request a server logged as served got its answer (graceful shutdown
// lets in-flight requests finish), and the logs hold no token.
func checkLogs(t *testing.T, c *client, logs ...string) {
	t.Helper()
	served := 0
	for _, line := range strings.Split(strings.Join(logs, "\n"), "\n") {
		var l struct {
			Msg       string `json:"msg"`
			RequestID string `json:"request_id"`
		}
		if json.Unmarshal([]byte(line), &l) != nil || l.Msg != "request" || !strings.HasPrefix(l.RequestID, "crashtest-") {
			continue
		}
		served++
		c.mu.Lock()
		lost := c.unanswered[l.RequestID]
		c.mu.Unlock()
		if lost {
			t.Errorf("request %s was served, but its answer never came", l.RequestID)
		}
	}
	if served == 0 {
		t.Fatalf("the server logged no request:\n%.2000s", logs)
	}
	_, after, _ := strings.Cut(logs[0], "shutting down: finishing in-flight requests")
	c.mu.Lock()
	t.Logf("%d requests served, %d of them after the SIGTERM; %d got no answer", served, strings.Count(after, `"msg":"request"`), len(c.unanswered))
	c.mu.Unlock()
	for _, l := range logs {
		if strings.Contains(l, apitest.AdminToken) {
			t.Error("the server's logs hold the admin token")
		}
	}
}
