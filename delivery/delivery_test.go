package delivery_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"integrations"
	"integrations/delivery"
	"integrations/internal/apitest"
	"integrations/internal/storetest"
)

const world = `
users:
  - {id: alice, displayName: Alice, email: alice@example.com, tokens: [alice-token]}
  - {id: dave, displayName: Dave, email: dave@example.com, tokens: [dave-token]}
organizations:
  - {id: acme, title: Acme, members: [{user: alice, role: admin}]}
  - {id: globex, title: Globex, members: [{user: dave, role: admin}]}
spaces:
  - {id: handbook, organization: acme, title: Handbook}
  - {id: lab, organization: globex, title: Lab}
integrations:
  - {name: hooks, organization: acme, title: Hooks, visibility: public, scopes: [space:content:read],
     secrets: {API_KEY: k123}}
`

// received is a request that reached a receiver.
type received struct {
	Event       map[string]any
	Environment map[string]any
	Header      http.Header
	Body        []byte
}

// receiver answers with the statuses of answers in turn (200 once they run
// out) and records what it gets.
type receiver struct {
	mu      sync.Mutex
	got     []received
	answers []int
	notify  chan received
	srv     *httptest.Server
	onEvent func(r received) // called before answering
}

func newReceiver(t *testing.T, answers ...int) *receiver {
	rc := &receiver{answers: answers, notify: make(chan received, 100)}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	got := received{Header: r.Header, Body: body}
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "multipart/form-data" {
		form, err := multipart.NewReader(strings.NewReader(string(body)), params["boundary"]).ReadForm(1 << 20)
		if err == nil {
			json.Unmarshal([]byte(form.Value["event"][0]), &got.Event)
			json.Unmarshal([]byte(form.Value["environment"][0]), &got.Environment)
		}
	} else {
		json.Unmarshal(body, &got.Event)
	}
	if rc.onEvent != nil {
		rc.onEvent(got)
	}
	rc.mu.Lock()
	rc.got = append(rc.got, got)
	status := 200
	if len(rc.answers) > 0 {
		status, rc.answers = rc.answers[0], rc.answers[1:]
	}
	rc.mu.Unlock()
	rc.notify <- got
	w.WriteHeader(status)
	fmt.Fprintf(w, "answer %d", status)
}

// next waits for the next request of a given event type.
func (rc *receiver) next(t *testing.T, eventType string) received {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case r := <-rc.notify:
			if r.Event["type"] == eventType {
				return r
			}
		case <-timeout:
			t.Fatalf("no %s event arrived", eventType)
		}
	}
}

// start runs a dispatcher for the test's server until the test ends.
func start(t *testing.T, e *apitest.Env, cfg delivery.Config) *delivery.Dispatcher {
	if cfg.BaseBackoff == 0 {
		cfg.BaseBackoff = 10 * time.Millisecond
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 20 * time.Millisecond
	}
	d := delivery.New(e.Svc, e.API, cfg)
	e.Svc.OnEvent(d.Wake)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return d
}

// waitEvent polls the events API until the event reaches a final state.
func waitEvent(t *testing.T, e *apitest.Env, token, eventID string, want string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var out map[string]any
		e.Expect(200, "GET", "/v1/integrations/hooks/events/"+eventID, token, nil).JSON(t, &out)
		ev := out["event"].(map[string]any)
		logs := out["trace"].(map[string]any)["logs"].([]any)
		pending := len(logs) > 0 && strings.HasPrefix(logs[len(logs)-1].(map[string]any)["message"].(string), "pending")
		if ev["status"] == want && !pending {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("event %s: %v, want %s", eventID, out, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func setTarget(t *testing.T, e *apitest.Env, url, format string) string {
	var settings map[string]any
	e.Expect(200, "PUT", "/ext/integrations/hooks/event-settings", "alice-token", map[string]string{"url": url, "format": format}).JSON(t, &settings)
	return settings["signingSecret"].(string)
}

func install(t *testing.T, e *apitest.Env, org, token string) string {
	var in map[string]any
	e.Expect(201, "POST", "/v1/integrations/hooks/installations", token, map[string]string{"organization": org}).JSON(t, &in)
	return in["id"].(string)
}

func TestRuntimeDeliveryAndCallBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		rc := newReceiver(t)
		// The receiver calls the API back with the tokens of the environment,
		// as an integration built on @gitbook/runtime does.
		callbacks := make(chan int, 10)
		rc.onEvent = func(r received) {
			env := r.Environment
			tokens, _ := env["apiTokens"].(map[string]any)
			inst, _ := tokens["installation"].(string)
			if inst == "" || r.Event["installationId"] == nil {
				return
			}
			req, _ := http.NewRequest("GET", env["apiEndpoint"].(string)+"/v1/integrations/hooks/installations/"+r.Event["installationId"].(string), nil)
			req.Header.Set("Authorization", "Bearer "+inst)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				callbacks <- 0
				return
			}
			res.Body.Close()
			callbacks <- res.StatusCode
		}
		setTarget(t, e, rc.srv.URL+"/v1", "runtime")
		start(t, e, delivery.Config{})

		id := install(t, e, "acme", "alice-token")
		got := rc.next(t, "installation_setup")
		if got.Event["installationId"] != id || got.Event["status"] != "active" || got.Event["eventId"] == "" {
			t.Errorf("installation_setup payload: %v", got.Event)
		}
		env := got.Environment
		if env["apiEndpoint"] != e.URL {
			t.Errorf("apiEndpoint %v, want %s", env["apiEndpoint"], e.URL)
		}
		if env["integration"].(map[string]any)["name"] != "hooks" || env["installation"].(map[string]any)["id"] != id {
			t.Errorf("environment: %v", env)
		}
		if env["secrets"].(map[string]any)["API_KEY"] != "k123" || env["signingSecrets"].(map[string]any)["integration"] == "" {
			t.Errorf("secrets: %v / %v", env["secrets"], env["signingSecrets"])
		}
		if status := <-callbacks; status != 200 {
			t.Errorf("call back with the installation token: %d", status)
		}
		// The environment validates against the spec's IntegrationEnvironment,
		// and the event against its Event.
		for name, v := range map[string]any{"IntegrationEnvironment": env, "Event": got.Event} {
			if err := e.Spec.ValidateSchema(name, v); err != nil {
				t.Errorf("%s does not match the spec: %v", name, err)
			}
		}

		// A space installation, an update, a visibility change, then removals.
		e.Expect(201, "POST", "/v1/integrations/hooks/installations/"+id+"/spaces", "alice-token", map[string]string{"space": "handbook"})
		si := rc.next(t, "space_installation_setup")
		if si.Event["spaceId"] != "handbook" || si.Environment["spaceInstallation"].(map[string]any)["space"] != "handbook" {
			t.Errorf("space_installation_setup: %v / %v", si.Event, si.Environment["spaceInstallation"])
		}
		<-callbacks
		e.Expect(200, "PATCH", "/v1/integrations/hooks/installations/"+id, "alice-token", map[string]any{"configuration": map[string]any{"x": 1}})
		up := rc.next(t, "installation_setup")
		if prev, _ := up.Event["previous"].(map[string]any); prev["status"] != "active" {
			t.Errorf("update carries no previous state: %v", up.Event)
		}
		<-callbacks
		e.Expect(200, "PATCH", "/v1/spaces/handbook", "alice-token", map[string]any{"visibility": "public"})
		vis := rc.next(t, "space_visibility_updated")
		if vis.Event["previousVisibility"] != "private" || vis.Event["visibility"] != "public" {
			t.Errorf("space_visibility_updated: %v", vis.Event)
		}
		<-callbacks
		e.Expect(205, "DELETE", "/v1/integrations/hooks/installations/"+id+"/spaces/handbook", "alice-token", nil)
		rc.next(t, "space_installation_deleted")
		<-callbacks
		e.Expect(205, "DELETE", "/v1/integrations/hooks/installations/"+id, "alice-token", nil)
		del := rc.next(t, "installation_deleted")
		if _, ok := del.Event["previous"].(map[string]any); !ok {
			t.Errorf("installation_deleted without previous: %v", del.Event)
		}
		for _, r := range append(rc.got, got) {
			if err := e.Spec.ValidateSchema("Event", r.Event); err != nil {
				t.Errorf("event %v does not match the spec: %v", r.Event["type"], err)
			}
		}
	})
}

func TestRetriesThenSuccess(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		rc := newReceiver(t, 500, 429, 408, 503) // four failures that deserve a retry, then 200
		setTarget(t, e, rc.srv.URL, "runtime")
		start(t, e, delivery.Config{MaxAttempts: 6})
		install(t, e, "acme", "alice-token")
		eventID := rc.next(t, "installation_setup").Event["eventId"].(string)
		out := waitEvent(t, e, "alice-token", eventID, "success")
		logs := out["trace"].(map[string]any)["logs"].([]any)
		if len(logs) != 5 {
			t.Fatalf("want 5 attempts in the trace, got %v", logs)
		}
		for n, want := range []string{"500", "429", "408", "503", ": 200"} {
			if msg := logs[n].(map[string]any)["message"].(string); !strings.Contains(msg, want) {
				t.Errorf("attempt %d: %q does not mention %s", n+1, msg, want)
			}
		}
	})
}

func TestFinalAnswersAndGivingUp(t *testing.T) {
	tests := []struct {
		name     string
		answers  []int
		attempts int
		message  string
	}{
		{"406 not handled", []int{406}, 1, "does not handle installation_setup"},
		{"400 refused", []int{400}, 1, "400"},
		{"404 refused", []int{404}, 1, "404"},
		{"gives up after the last attempt", []int{500, 500, 500, 500}, 3, "500"},
	}
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e := apitest.New(t, open(t))
				e.Seed(world)
				rc := newReceiver(t, tt.answers...)
				setTarget(t, e, rc.srv.URL, "runtime")
				start(t, e, delivery.Config{MaxAttempts: 3})
				install(t, e, "acme", "alice-token")
				eventID := rc.next(t, "installation_setup").Event["eventId"].(string)
				out := waitEvent(t, e, "alice-token", eventID, "failed")
				logs := out["trace"].(map[string]any)["logs"].([]any)
				if len(logs) != tt.attempts {
					t.Fatalf("want %d attempts, got %v", tt.attempts, logs)
				}
				if msg := logs[len(logs)-1].(map[string]any)["message"].(string); !strings.Contains(msg, tt.message) {
					t.Errorf("last attempt %q does not mention %q", msg, tt.message)
				}
				rc.mu.Lock()
				n := len(rc.got)
				rc.mu.Unlock()
				if n != tt.attempts {
					t.Errorf("receiver got %d requests, want %d", n, tt.attempts)
				}
			})
		}
	})
}

// A redelivered event goes out again at once, with a fresh budget of
// attempts, and its trace keeps every attempt.
func TestRedeliver(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		// 406 is final; after the first redelivery 200; after the second
		// 500, which deserves a retry, then 200.
		rc := newReceiver(t, 406, 200, 500)
		setTarget(t, e, rc.srv.URL, "runtime")
		// No poll in the test's time, and no wait before a retry: only a wake
		// (a write, a redelivery, a worker that finished) makes the
		// dispatcher look.
		start(t, e, delivery.Config{MaxAttempts: 2, BaseBackoff: time.Nanosecond, PollInterval: time.Hour})
		install(t, e, "acme", "alice-token")
		eventID := rc.next(t, "installation_setup").Event["eventId"].(string)
		waitEvent(t, e, "alice-token", eventID, "failed")

		redeliver := func(token string) {
			t.Helper()
			var out struct{ Event map[string]any }
			e.Expect(202, "POST", "/ext/integrations/hooks/events/"+eventID+"/redeliver", token, nil).JSON(t, &out)
			if out.Event["id"] != eventID || out.Event["status"] != "pending" {
				t.Errorf("redeliver answered %v, want the event, pending", out.Event)
			}
		}
		messages := func(out map[string]any) []string {
			var lines []string
			for _, l := range out["trace"].(map[string]any)["logs"].([]any) {
				lines = append(lines, l.(map[string]any)["message"].(string))
			}
			return lines
		}
		redeliver("alice-token")
		if got := rc.next(t, "installation_setup"); got.Event["eventId"] != eventID {
			t.Errorf("after the redelivery the receiver got %v", got.Event)
		}
		lines := messages(waitEvent(t, e, "alice-token", eventID, "success"))
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "attempt 1 ") || !strings.Contains(lines[0], "406") ||
			!strings.HasPrefix(lines[1], "attempt 2 ") || !strings.Contains(lines[1], ": 200 in") {
			t.Errorf("trace after one redelivery: %q, want the 406 and the 200", lines)
		}

		// Two attempts made, as many as MaxAttempts: a second redelivery
		// still gets a retry after its 500, since it starts a new budget.
		var tok map[string]string
		e.Expect(201, "POST", "/ext/integrations/hooks/tokens", "alice-token", nil).JSON(t, &tok)
		redeliver(tok["token"])
		rc.next(t, "installation_setup")
		rc.next(t, "installation_setup")
		lines = messages(waitEvent(t, e, "alice-token", eventID, "success"))
		if len(lines) != 4 || !strings.Contains(lines[2], "500") || !strings.HasPrefix(lines[3], "attempt 4 ") || !strings.Contains(lines[3], ": 200 in") {
			t.Errorf("trace after a second redelivery: %q, want 406, 200, 500, 200", lines)
		}
		rc.mu.Lock()
		n := len(rc.got)
		rc.mu.Unlock()
		if n != 4 {
			t.Errorf("the receiver got %d requests, want 4", n)
		}
		e.Expect(404, "POST", "/ext/integrations/hooks/events/nothere/redeliver", "alice-token", nil)
	})
}

func TestWebhookSignature(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		rc := newReceiver(t)
		secret := setTarget(t, e, rc.srv.URL, "webhook")
		start(t, e, delivery.Config{})
		install(t, e, "acme", "alice-token")
		got := rc.next(t, "installation_setup")
		if ct := got.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("webhook content type %q", ct)
		}
		sig := got.Header.Get("X-GitBook-Signature")
		if err := delivery.Verify(secret, sig, got.Body, time.Now(), 5*time.Minute); err != nil {
			t.Errorf("signature %q does not verify: %v", sig, err)
		}
		if err := delivery.Verify("wrong-secret", sig, got.Body, time.Now(), 5*time.Minute); err == nil {
			t.Error("a wrong secret verifies")
		}
		if err := delivery.Verify(secret, sig, append(got.Body, ' '), time.Now(), 5*time.Minute); err == nil {
			t.Error("a changed body verifies")
		}
		if err := delivery.Verify(secret, sig, got.Body, time.Now().Add(time.Hour), 5*time.Minute); err == nil {
			t.Error("an old signature verifies")
		}
	})
}

func TestDevModeRouting(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		tunnel := newReceiver(t)
		target := newReceiver(t)
		setTarget(t, e, target.srv.URL, "runtime")
		start(t, e, delivery.Config{})
		e.Expect(204, "PUT", "/v1/integrations/hooks/dev", "alice-token", map[string]any{"tunnelUrl": tunnel.srv.URL})
		// The owner's events go to the tunnel, another organization's to the URL.
		acme := install(t, e, "acme", "alice-token")
		if got := tunnel.next(t, "installation_setup"); got.Event["installationId"] != acme {
			t.Errorf("tunnel got %v", got.Event)
		}
		globex := install(t, e, "globex", "dave-token")
		if got := target.next(t, "installation_setup"); got.Event["installationId"] != globex {
			t.Errorf("event URL got %v", got.Event)
		}
		// With all, every organization's events go to the tunnel.
		e.Expect(204, "PUT", "/v1/integrations/hooks/dev", "alice-token", map[string]any{"tunnelUrl": tunnel.srv.URL, "all": true})
		e.Expect(201, "POST", "/v1/integrations/hooks/installations/"+globex+"/spaces", "dave-token", map[string]string{"space": "lab"})
		if got := tunnel.next(t, "space_installation_setup"); got.Event["spaceId"] != "lab" {
			t.Errorf("tunnel got %v", got.Event)
		}
		// Ending development mode sends events back to the URL.
		e.Expect(205, "DELETE", "/v1/integrations/hooks/dev", "alice-token", nil)
		e.Expect(205, "DELETE", "/v1/integrations/hooks/installations/"+acme, "alice-token", nil)
		target.next(t, "installation_deleted")
		// Only admins of the owner may turn development mode on.
		e.Expect(404, "PUT", "/v1/integrations/nothere/dev", "alice-token", map[string]any{"tunnelUrl": tunnel.srv.URL})
		e.Expect(403, "PUT", "/v1/integrations/hooks/dev", "dave-token", map[string]any{"tunnelUrl": tunnel.srv.URL})
		e.Expect(400, "PUT", "/v1/integrations/hooks/dev", "alice-token", map[string]any{"tunnelUrl": ""})
	})
}

func TestTasks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		rc := newReceiver(t)
		setTarget(t, e, rc.srv.URL, "runtime")
		start(t, e, delivery.Config{})
		var tok map[string]string
		e.Expect(201, "POST", "/ext/integrations/hooks/tokens", "alice-token", nil).JSON(t, &tok)
		e.Expect(204, "POST", "/v1/integrations/hooks/tasks", tok["token"], map[string]any{"task": map[string]any{"type": "sync", "n": 1}})
		got := rc.next(t, "task")
		if task, _ := got.Event["task"].(map[string]any); task["type"] != "sync" {
			t.Errorf("task event: %v", got.Event)
		}
		// A scheduled task waits.
		before := time.Now()
		e.Expect(204, "POST", "/v1/integrations/hooks/tasks", tok["token"], map[string]any{"task": map[string]any{"type": "later"}, "schedule": 1})
		rc.next(t, "task")
		if waited := time.Since(before); waited < time.Second {
			t.Errorf("a task scheduled in 1s arrived after %v", waited)
		}
		e.Expect(400, "POST", "/v1/integrations/hooks/tasks", tok["token"], map[string]any{"task": map[string]any{}, "schedule": 86401})
		e.Expect(400, "POST", "/v1/integrations/hooks/tasks", tok["token"], map[string]any{"task": "not an object"})
		e.Expect(403, "POST", "/v1/integrations/hooks/tasks", "alice-token", map[string]any{"task": map[string]any{}})
	})
}

func TestReceiverCannotHarmTheServer(t *testing.T) {
	t.Run("private targets refused when asked", func(t *testing.T) {
		e := apitest.New(t, storetest.SQLite(t))
		e.Seed(world)
		rc := newReceiver(t)
		setTarget(t, e, rc.srv.URL, "runtime")
		start(t, e, delivery.Config{BlockPrivateTargets: true, MaxAttempts: 1})
		install(t, e, "acme", "alice-token")
		out := waitFirstEvent(t, e, "failed")
		if msg := lastLog(out); !strings.Contains(msg, "not public") {
			t.Errorf("trace %q does not say the target is private", msg)
		}
		if len(rc.got) != 0 {
			t.Error("the private receiver was reached")
		}
	})
	t.Run("no redirect to another host, and no retry", func(t *testing.T) {
		e := apitest.New(t, storetest.SQLite(t))
		e.Seed(world)
		other := newReceiver(t)
		var hits atomic.Int32
		redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			http.Redirect(w, r, other.srv.URL, http.StatusTemporaryRedirect)
		}))
		t.Cleanup(redirect.Close)
		setTarget(t, e, redirect.URL, "runtime")
		// Room for retries: a refused redirect must use none of them.
		start(t, e, delivery.Config{MaxAttempts: 5})
		install(t, e, "acme", "alice-token")
		out := waitFirstEvent(t, e, "failed")
		logs := out["trace"].(map[string]any)["logs"].([]any)
		if len(logs) != 1 {
			t.Errorf("a refused redirect was attempted %d times, want once: %v", len(logs), logs)
		}
		msg := lastLog(out)
		if !strings.Contains(msg, "redirect to another host ("+other.srv.URL+") refused") ||
			!strings.Contains(msg, "not retried") {
			t.Errorf("trace %q does not say that the redirect to %s was refused for good", msg, other.srv.URL)
		}
		if n := hits.Load(); n != 1 {
			t.Errorf("the redirecting receiver got %d requests, want 1", n)
		}
		if n := len(other.notify); n != 0 {
			t.Errorf("the other host got %d requests", n)
		}
	})
	t.Run("slow receivers time out", func(t *testing.T) {
		e := apitest.New(t, storetest.SQLite(t))
		e.Seed(world)
		release := make(chan struct{})
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
		t.Cleanup(func() { close(release); slow.Close() })
		setTarget(t, e, slow.URL, "runtime")
		start(t, e, delivery.Config{MaxAttempts: 1, Timeout: 200 * time.Millisecond})
		install(t, e, "acme", "alice-token")
		out := waitFirstEvent(t, e, "failed")
		if msg := lastLog(out); !strings.Contains(msg, "request failed") {
			t.Errorf("trace %q does not report the timeout", msg)
		}
	})
}

func waitFirstEvent(t *testing.T, e *apitest.Env, want string) map[string]any {
	t.Helper()
	var list struct{ Items []struct{ ID string } }
	deadline := time.Now().Add(10 * time.Second)
	for len(list.Items) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no event")
		}
		e.Expect(200, "GET", "/v1/integrations/hooks/events", "alice-token", nil).JSON(t, &list)
	}
	return waitEvent(t, e, "alice-token", list.Items[len(list.Items)-1].ID, want)
}

func lastLog(out map[string]any) string {
	logs := out["trace"].(map[string]any)["logs"].([]any)
	return logs[len(logs)-1].(map[string]any)["message"].(string)
}

// A change that fails emits nothing; one that commits always has its event.
func TestOutboxFollowsTheTransaction(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		store := &failAfterEvent{Store: open(t)}
		e := apitest.New(t, store)
		e.Seed(`
users: [{id: alice, displayName: Alice, email: alice@example.com, tokens: [alice-token]}]
organizations: [{id: acme, title: Acme, members: [{user: alice, role: admin}]}]
spaces: [{id: handbook, organization: acme, title: Handbook}]
integrations:
  - {name: hooks, organization: acme, title: Hooks, visibility: public, scopes: [],
     configurations: {account: {properties: {mode: {type: string, enum: [a, b]}}}}}
`)
		id := install(t, e, "acme", "alice-token")
		count := func() int {
			var list struct{ Count int }
			e.Expect(200, "GET", "/v1/integrations/hooks/events", "alice-token", nil).JSON(t, &list)
			return list.Count
		}
		if n := count(); n != 1 {
			t.Fatalf("after install: %d events", n)
		}
		// Refused before anything is written.
		e.Expect(400, "PATCH", "/v1/integrations/hooks/installations/"+id, "alice-token", map[string]any{"configuration": map[string]any{"mode": "c"}})
		if n := count(); n != 1 {
			t.Errorf("a refused change emitted an event: %d events", n)
		}
		// Failing after its change and its event were written: both go.
		store.armed.Store(true)
		e.Expect(500, "PATCH", "/v1/integrations/hooks/installations/"+id, "alice-token", map[string]any{"configuration": map[string]any{"mode": "b"}})
		e.Expect(500, "POST", "/v1/integrations/hooks/installations/"+id+"/spaces", "alice-token", map[string]string{"space": "handbook"})
		store.armed.Store(false)
		if n := store.written.Load(); n != 2 {
			t.Fatalf("the failing transactions wrote %d events, want 2: the failure came too early", n)
		}
		if n := count(); n != 1 {
			t.Errorf("a transaction that failed after writing its event left it: %d events", n)
		}
		var in struct{ Configuration map[string]any }
		e.Expect(200, "GET", "/v1/integrations/hooks/installations/"+id, "alice-token", nil).JSON(t, &in)
		if in.Configuration["mode"] != nil {
			t.Errorf("the failed change stayed: configuration %v", in.Configuration)
		}
		e.Expect(404, "GET", "/v1/integrations/hooks/installations/"+id+"/spaces/handbook", "alice-token", nil)
		// Committed changes have their events.
		e.Expect(200, "PATCH", "/v1/integrations/hooks/installations/"+id, "alice-token", map[string]any{"configuration": map[string]any{"mode": "a"}})
		if n := count(); n != 2 {
			t.Errorf("a committed change has no event: %d events", n)
		}
	})
}

// failAfterEvent is a store whose write transactions, while armed, fail at
// their very end when they wrote an event, once it is in the transaction.
type failAfterEvent struct {
	integrations.Store
	armed   atomic.Bool
	written atomic.Int32 // events written, and seen in their transaction, before a failure
}

func (s *failAfterEvent) Update(ctx context.Context, fn func(integrations.Tx) error) error {
	return s.Store.Update(ctx, func(tx integrations.Tx) error {
		w := &eventsTx{Tx: tx}
		if err := fn(w); err != nil || !s.armed.Load() || len(w.ids) == 0 {
			return err
		}
		for _, id := range w.ids {
			if _, err := tx.Event(id); err != nil {
				return fmt.Errorf("the event is not in its transaction: %w", err)
			}
			s.written.Add(1)
		}
		return errors.New("injected failure after the event was written")
	})
}

// eventsTx notes the events written in a transaction.
type eventsTx struct {
	integrations.Tx
	ids []string
}

func (t *eventsTx) CreateEvent(e *integrations.Event, attempts ...*integrations.EventAttempt) error {
	err := t.Tx.CreateEvent(e, attempts...)
	if err == nil {
		t.ids = append(t.ids, e.ID)
	}
	return err
}

// Two dispatchers on one store deliver each event once.
func TestTwoDispatchersDeliverOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		rc := newReceiver(t)
		setTarget(t, e, rc.srv.URL, "runtime")
		start(t, e, delivery.Config{Workers: 4})
		start(t, e, delivery.Config{Workers: 4})
		id := install(t, e, "acme", "alice-token")
		const n = 40
		for i := 0; i < n; i++ {
			e.Expect(200, "PATCH", "/v1/integrations/hooks/installations/"+id, "alice-token", map[string]any{"externalIds": []string{fmt.Sprint(i)}})
		}
		seen := map[string]int{}
		for len(seen) < n+1 {
			r := rc.next(t, "installation_setup")
			seen[r.Event["eventId"].(string)]++
		}
		// Every delivery records an attempt: one attempt per event means that
		// no event went out twice.
		for eventID := range seen {
			out := waitEvent(t, e, "alice-token", eventID, "success")
			if logs := out["trace"].(map[string]any)["logs"].([]any); len(logs) != 1 {
				t.Errorf("event %s was attempted %d times: %v", eventID, len(logs), logs)
			}
		}
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if len(rc.got) != n+1 {
			t.Errorf("%d deliveries for %d events", len(rc.got), n+1)
		}
	})
}

// A receiver that answers with an endless body gets its attempt recorded
// after the first MaxResponseBytes: the rest is never read, and the server
// goes on delivering.
func TestHugeAnswersAreCut(t *testing.T) {
	e := apitest.New(t, storetest.SQLite(t))
	e.Seed(world)
	const huge = 1 << 30 // what the receiver would send, if it were read
	var sent atomic.Int64
	var answers atomic.Int32
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		// The first answer deserves a retry, the second is a success: both
		// are cut.
		if answers.Add(1) == 1 {
			w.WriteHeader(http.StatusInternalServerError)
		}
		chunk := []byte(strings.Repeat("x", 32<<10))
		for sent.Load() < huge {
			n, err := w.Write(chunk)
			sent.Add(int64(n))
			if err != nil {
				return // the server hung up: what it must do
			}
		}
	}))
	t.Cleanup(receiver.Close)
	setTarget(t, e, receiver.URL, "runtime")
	start(t, e, delivery.Config{MaxAttempts: 2})

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	install(t, e, "acme", "alice-token")
	out := waitFirstEvent(t, e, "success")
	runtime.ReadMemStats(&after)

	logs := out["trace"].(map[string]any)["logs"].([]any)
	if len(logs) != 2 {
		t.Fatalf("want 2 attempts, got %v", logs)
	}
	first := logs[0].(map[string]any)["message"].(string)
	if !strings.Contains(first, "500") || !strings.Contains(first, "xxx...") || len(first) > 500 {
		t.Errorf("first attempt %q: want the 500 with a short excerpt of the answer", first)
	}
	// The receiver wrote until the server closed the connection: kernel
	// buffers hold a few MiB, nowhere near what it had to send.
	if n := sent.Load(); n >= 64<<20 {
		t.Errorf("the receiver sent %d MiB: the server read far beyond 64 KiB", n>>20)
	}
	if grown := after.TotalAlloc - before.TotalAlloc; grown >= 64<<20 {
		t.Errorf("the process allocated %d MiB while delivering: answers are not cut", grown>>20)
	}
	// The server is fine: another event goes out, the API answers.
	e.Expect(200, "PATCH", "/v1/integrations/hooks/installations/"+out["event"].(map[string]any)["installationId"].(string),
		"alice-token", map[string]any{"externalIds": []string{"after"}})
	deadline := time.Now().Add(10 * time.Second)
	for answers.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := answers.Load(); n != 3 {
		t.Errorf("the receiver got %d requests, want 3", n)
	}
}

// On shutdown the dispatcher takes no new event, lets the delivery in
// flight finish and records it, then Run returns.
func TestShutdownFinishesDeliveriesInFlight(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		arrived := make(chan string, 10)
		release := make(chan struct{})
		receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			arrived <- r.Header.Get("X-GitBook-Event-Type")
			<-release
			w.WriteHeader(http.StatusOK)
		}))
		t.Cleanup(receiver.Close)
		t.Cleanup(func() {
			select {
			case <-release:
			default:
				close(release)
			}
		})
		setTarget(t, e, receiver.URL, "runtime")
		d := delivery.New(e.Svc, e.API, delivery.Config{PollInterval: 20 * time.Millisecond, BaseBackoff: 10 * time.Millisecond})
		e.Svc.OnEvent(d.Wake)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { d.Run(ctx); close(done) }()
		defer func() { cancel(); <-done }()

		id := install(t, e, "acme", "alice-token")
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
			t.Fatal("no delivery started")
		}
		cancel()
		// Run waits for the delivery in flight.
		select {
		case <-done:
			t.Fatal("Run returned with a delivery in flight")
		case <-time.After(200 * time.Millisecond):
		}
		// A change made now stays in the outbox: the dispatcher is stopping.
		e.Expect(201, "POST", "/v1/integrations/hooks/installations/"+id+"/spaces", "alice-token", map[string]string{"space": "handbook"})
		close(release)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after the delivery in flight ended")
		}
		select {
		case typ := <-arrived:
			t.Errorf("a %s event was sent after shutdown began", typ)
		default:
		}

		var list struct {
			Items []struct {
				ID      string
				Payload struct{ Type string }
			}
		}
		e.Expect(200, "GET", "/v1/integrations/hooks/events", "alice-token", nil).JSON(t, &list)
		if len(list.Items) != 2 {
			t.Fatalf("want 2 events, got %+v", list.Items)
		}
		for _, ev := range list.Items {
			var out map[string]any
			e.Expect(200, "GET", "/v1/integrations/hooks/events/"+ev.ID, "alice-token", nil).JSON(t, &out)
			logs := out["trace"].(map[string]any)["logs"].([]any)
			switch ev.Payload.Type {
			case "installation_setup": // in flight at shutdown: finished and recorded
				if out["event"].(map[string]any)["status"] != "success" || len(logs) != 1 || !strings.Contains(lastLog(out), ": 200 in") {
					t.Errorf("the delivery in flight at shutdown: %v", out)
				}
			case "space_installation_setup": // made during shutdown: waits, untried
				if len(logs) != 1 || !strings.HasPrefix(lastLog(out), "pending: attempt 1") {
					t.Errorf("the event made during shutdown: %v", out)
				}
			default:
				t.Errorf("unexpected event %s", ev.Payload.Type)
			}
		}
	})
}

// TestEventsWithNowhereToGo checks that an event of an integration with no
// event URL and no development tunnel is recorded as failed as it is
// written, with the reason in its trace, without any dispatcher; and that a
// task due later waits for one, since a tunnel may open meanwhile.
func TestEventsWithNowhereToGo(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func(testing.TB) integrations.Store) {
		e := apitest.New(t, open(t))
		e.Seed(world)
		install(t, e, "acme", "alice-token") // no dispatcher runs
		var list struct {
			Items []struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"items"`
		}
		e.Expect(200, "GET", "/v1/integrations/hooks/events", "alice-token", nil).JSON(t, &list)
		if len(list.Items) != 1 || list.Items[0].Status != "failed" {
			t.Fatalf("events of an integration with nowhere to send them: %+v, want one failed", list.Items)
		}
		out := e.Expect(200, "GET", "/v1/integrations/hooks/events/"+list.Items[0].ID, "alice-token", nil).Map(t)
		logs := out["trace"].(map[string]any)["logs"].([]any)
		if len(logs) != 1 || !strings.Contains(lastLog(out), "no development tunnel for this organization and no event URL") {
			t.Errorf("trace %v: want one attempt that says there is nowhere to go", logs)
		}

		tok := e.Expect(201, "POST", "/ext/integrations/hooks/tokens", "alice-token", nil).Map(t)
		e.Expect(204, "POST", "/v1/integrations/hooks/tasks", tok["token"].(string), map[string]any{"task": map[string]any{"n": 1}, "schedule": 60})
		e.Expect(200, "GET", "/v1/integrations/hooks/events", "alice-token", nil).JSON(t, &list)
		if len(list.Items) != 2 {
			t.Fatalf("events after a task: %+v, want 2", list.Items)
		}
		task := e.Expect(200, "GET", "/v1/integrations/hooks/events/"+list.Items[0].ID, "alice-token", nil).Map(t) // newest first
		if msg := lastLog(task); !strings.HasPrefix(msg, "pending: attempt 1 is due") {
			t.Errorf("a task due in a minute has the trace %q, want it pending", msg)
		}
	})
}
