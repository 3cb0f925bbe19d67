package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Helpers of the event delivery tests (runtime_test.go, dev_test.go,
// crash_events_test.go, replicas_events_test.go).

// eventTimeout bounds every wait for an event or a process: a wait that
// lasts longer has hung, and fails the test. Nothing waits for it to pass.
const eventTimeout = 90 * time.Second

// waitUntil polls cond until it holds, and fails the test with what()
// when it does not within eventTimeout.
func waitUntil(t testing.TB, what func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(eventTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", eventTimeout, what())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// report is what a handler of testdata/runtime-integration saw: its event
// (for tasks, {type: "task", task}), its calls back to the API and a part of
// its environment.
type report struct {
	Mode  string `json:"mode"`
	Event struct {
		EventID            string          `json:"eventId"`
		Type               string          `json:"type"`
		InstallationID     string          `json:"installationId"`
		SpaceID            string          `json:"spaceId"`
		Visibility         string          `json:"visibility"`
		PreviousVisibility string          `json:"previousVisibility"`
		Previous           json.RawMessage `json:"previous"`
		Task               struct {
			Type           string `json:"type"`
			InstallationID string `json:"installationId"`
			N              int    `json:"n"`
		} `json:"task"`
	} `json:"event"`
	Calls       []apiCall `json:"calls"`
	Environment struct {
		APIEndpoint          string `json:"apiEndpoint"`
		Integration          string `json:"integration"`
		Installation         string `json:"installation"`
		SpaceInstallation    string `json:"spaceInstallation"`
		HasInstallationToken bool   `json:"hasInstallationToken"`
	} `json:"environment"`
}

// apiCall is a call of a handler back to the API, with the status it got.
type apiCall struct {
	Op     string          `json:"op"`
	Status int             `json:"status"`
	Data   json.RawMessage `json:"data"`
	Error  string          `json:"error"`
}

// call returns the call named op, failing the test if there is none.
func (r report) call(t testing.TB, op string) apiCall {
	t.Helper()
	for _, c := range r.Calls {
		if c.Op == op {
			return c
		}
	}
	t.Fatalf("the %s handler made no %s call: %+v", r.Event.Type, op, r.Calls)
	return apiCall{}
}

// recorder receives the reports of the runtime integration's handlers.
type recorder struct {
	URL string

	mu      sync.Mutex
	reports []report
}

func newRecorder(t testing.TB) *recorder {
	r := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var rep report
		if err := json.NewDecoder(req.Body).Decode(&rep); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.reports = append(r.reports, rep)
		r.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

// waitFor returns the first report that match accepts, waiting for it.
func (r *recorder) waitFor(t testing.TB, what string, match func(report) bool) report {
	t.Helper()
	var found report
	waitUntil(t, func() string {
		r.mu.Lock()
		defer r.mu.Unlock()
		return fmt.Sprintf("no report of %s among %d: %+v", what, len(r.reports), r.reports)
	}, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, rep := range r.reports {
			if match(rep) {
				found = rep
				return true
			}
		}
		return false
	})
	return found
}

// process is a child process of a test (node and what it starts), in a
// process group of its own so that the test can end all of it.
type process struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

// startProcess starts name with args in dir, with env added to Environ. The
// process group is ended when the test ends.
func startProcess(t testing.TB, dir string, env []string, name string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(name, args...), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Dir = dir
	p.cmd.Env = Environ(env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.stop() })
	return p
}

// stop ends the process group: SIGTERM, then SIGKILL if it lingers.
func (p *process) stop() {
	pgid := p.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
	// Children (workerd, the tunnel stand-in) may outlive their parent.
	syscall.Kill(-pgid, syscall.SIGKILL)
	<-p.done
}

// kill ends the process group at once with SIGKILL, as a crash would.
func (p *process) kill() {
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitOutput waits until the output matches re and returns the matches.
func (p *process) waitOutput(t testing.TB, re *regexp.Regexp) [][]string {
	t.Helper()
	var m [][]string
	waitUntil(t, func() string {
		return fmt.Sprintf("%s printed nothing matching %s; output:\n%s", p.cmd.Path, re, p.out.String())
	}, func() bool {
		if m = re.FindAllStringSubmatch(p.out.String(), -1); m != nil {
			return true
		}
		if p.exited() {
			t.Fatalf("%s exited with status %d; output:\n%s", p.cmd.Path, p.cmd.ProcessState.ExitCode(), p.out.String())
		}
		return false
	})
	return m
}

// runtimeHost runs integration scripts with runtime-host.mjs in mode and
// returns the base URL of each, by script.
func runtimeHost(t testing.TB, mode string, scripts ...string) map[string]string {
	t.Helper()
	p := startProcess(t, ".", nil, "node", append([]string{"runtime-host.mjs", mode, t.TempDir()}, scripts...)...)
	urls := map[string]string{}
	waitUntil(t, func() string { return "runtime-host.mjs did not serve every script; output:\n" + p.out.String() }, func() bool {
		for _, m := range regexp.MustCompile(`(?m)^listening (\S+) (http://\S+)$`).FindAllStringSubmatch(p.out.String(), -1) {
			urls[m[1]] = m[2]
		}
		if p.exited() {
			t.Fatalf("runtime-host.mjs exited with status %d; output:\n%s", p.cmd.ProcessState.ExitCode(), p.out.String())
		}
		return len(urls) == len(scripts)
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("runtime-host.mjs output:\n%s", p.out.String())
		}
	})
	return urls
}

// publish publishes an integration owned by org with secrets.
func publish(t testing.TB, s *Server, token, org, name string, secrets map[string]string) {
	t.Helper()
	s.Expect(t, http.StatusOK, "POST", "/v1/integrations/"+name, token, map[string]any{
		"runtime": "v2", "organization": org, "title": name, "description": "Receives events in the end-to-end tests.",
		"scopes": []string{"space:content:read"}, "visibility": "private", "secrets": secrets,
		"script": "export default {};",
	}, nil)
}

// integrationToken mints a token of an integration through the extension.
func integrationToken(t testing.TB, s *Server, token, name string) string {
	t.Helper()
	var out struct {
		Token string `json:"token"`
	}
	s.Expect(t, http.StatusCreated, "POST", "/ext/integrations/"+name+"/tokens", token, nil, &out)
	return out.Token
}

// setEventURL points the integration's events at url in format.
func setEventURL(t testing.TB, s *Server, token, name, url, format string) {
	t.Helper()
	s.Expect(t, http.StatusOK, "PUT", "/ext/integrations/"+name+"/event-settings", token,
		map[string]string{"url": url, "format": format}, nil)
}

// install installs an integration on an organization and returns the
// installation's id.
func install(t testing.TB, s *Server, token, name, org string) string {
	t.Helper()
	var out struct {
		ID string `json:"id"`
	}
	s.Expect(t, http.StatusCreated, "POST", "/v1/integrations/"+name+"/installations", token, map[string]string{"organization": org}, &out)
	return out.ID
}

// apiEvent is an event as listIntegrationEvents and getIntegrationEvent
// show it.
type apiEvent struct {
	ID             string `json:"id"`
	Status         string `json:"status"`
	InstallationID string `json:"installationId"`
	Payload        struct {
		EventID    string          `json:"eventId"`
		Type       string          `json:"type"`
		SpaceID    string          `json:"spaceId"`
		Visibility string          `json:"visibility"`
		Task       json.RawMessage `json:"task"`
	} `json:"payload"`
}

// listEvents lists every event of an integration, following the pages.
func listEvents(t testing.TB, s *Server, token, name string) []apiEvent {
	t.Helper()
	var all []apiEvent
	page := ""
	for {
		var out struct {
			Items []apiEvent `json:"items"`
			Next  *struct {
				Page string `json:"page"`
			} `json:"next"`
		}
		s.Expect(t, http.StatusOK, "GET", "/v1/integrations/"+name+"/events?limit=1000&page="+url.QueryEscape(page), token, nil, &out)
		all = append(all, out.Items...)
		if out.Next == nil {
			return all
		}
		page = out.Next.Page
	}
}

// eventTrace is an event with its trace (getIntegrationEvent).
type eventTrace struct {
	Event apiEvent `json:"event"`
	Trace struct {
		Logs []struct {
			Message string `json:"message"`
			Level   string `json:"level"`
		} `json:"logs"`
	} `json:"trace"`
}

// attempts returns the trace's lines about attempts, and whether it says
// the event is pending another attempt.
func (e eventTrace) attempts() (lines []string, pending bool) {
	for _, l := range e.Trace.Logs {
		switch {
		case strings.HasPrefix(l.Message, "attempt "):
			lines = append(lines, l.Message)
		case strings.HasPrefix(l.Message, "pending"):
			pending = true
		}
	}
	return lines, pending
}

// getEvent returns an event with its trace.
func getEvent(t testing.TB, s *Server, token, name, id string) eventTrace {
	t.Helper()
	var out eventTrace
	s.Expect(t, http.StatusOK, "GET", "/v1/integrations/"+name+"/events/"+id, token, nil, &out)
	return out
}

// receiver is an event receiver that counts the deliveries of each event,
// in either format: the runtime's multipart form or a JSON webhook.
type receiver struct {
	URL string

	// hold, when above 0, holds back the answer to each delivery until
	// deliveries from hold senders have arrived, for up to holdFor.
	hold    int
	holdFor time.Duration
	joined  chan struct{} // closed once hold senders were seen

	mu      sync.Mutex
	counts  map[string]int // deliveries by event id
	events  map[string]receivedEvent
	senders map[string]int // runtime deliveries by environment.apiEndpoint: by server
}

// receivedEvent is the part of a received event's payload that the tests
// compare with the changes that caused it.
type receivedEvent struct {
	EventID    string          `json:"eventId"`
	Type       string          `json:"type"`
	SpaceID    string          `json:"spaceId"`
	Visibility string          `json:"visibility"`
	Task       json.RawMessage `json:"task"`
}

func newReceiver(t testing.TB) *receiver { return startReceiver(t, &receiver{}) }

// newHoldingReceiver returns a receiver that answers no delivery until
// deliveries from n servers have arrived (or wait has passed): a server that
// takes events cannot take them all while another has not delivered any.
func newHoldingReceiver(t testing.TB, n int, wait time.Duration) *receiver {
	return startReceiver(t, &receiver{hold: n, holdFor: wait})
}

func startReceiver(t testing.TB, r *receiver) *receiver {
	r.counts, r.events, r.senders, r.joined = map[string]int{}, map[string]receivedEvent{}, map[string]int{}, make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		payload := body
		var env struct{ APIEndpoint string }
		if mt, params, _ := mime.ParseMediaType(req.Header.Get("Content-Type")); mt == "multipart/form-data" {
			form, err := multipart.NewReader(bytes.NewReader(body), params["boundary"]).ReadForm(1 << 20)
			if err != nil || len(form.Value["event"]) != 1 || len(form.Value["environment"]) != 1 ||
				json.Unmarshal([]byte(form.Value["environment"][0]), &env) != nil {
				http.Error(w, "not the runtime's form", http.StatusBadRequest)
				return
			}
			payload = []byte(form.Value["event"][0])
		}
		var e receivedEvent
		if err := json.Unmarshal(payload, &e); err != nil || e.EventID == "" || e.EventID != req.Header.Get("X-GitBook-Event-Id") {
			http.Error(w, "no event, or not the one of X-GitBook-Event-Id", http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.counts[e.EventID]++
		r.events[e.EventID] = e
		if env.APIEndpoint != "" {
			r.senders[env.APIEndpoint]++
		}
		if r.hold > 0 && len(r.senders) == r.hold && r.senders[env.APIEndpoint] == 1 {
			close(r.joined) // the last sender to join, on its first delivery
		}
		r.mu.Unlock()
		if r.hold > 0 {
			select {
			case <-r.joined:
			case <-time.After(r.holdFor):
			}
		}
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

// deliveriesBy returns the number of runtime deliveries by each server, by
// the apiEndpoint of their environment.
func (r *receiver) deliveriesBy() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.senders)
}

// snapshot returns a copy of the deliveries by event id and of the events.
func (r *receiver) snapshot() (map[string]int, map[string]receivedEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	counts := make(map[string]int, len(r.counts))
	events := make(map[string]receivedEvent, len(r.events))
	for id, n := range r.counts {
		counts[id] = n
		events[id] = r.events[id]
	}
	return counts, events
}

// absPath returns the absolute path of a file of the e2e folder.
func absPath(t testing.TB, name string) string {
	t.Helper()
	p, err := filepath.Abs(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
