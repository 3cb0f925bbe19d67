// Package apitest runs the HTTP API on a real store and a real HTTP server for
// tests, and checks every response to a GitBook path against the official
// OpenAPI document.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"integrations"
	"integrations/api"
	"integrations/fixture"
	"integrations/internal/spectest"
	"integrations/service"
)

// AdminToken is the token of the staff user of every test server.
const AdminToken = "test-admin-token"

// Env is a running server.
type Env struct {
	t      testing.TB
	Store  integrations.Store
	Svc    *service.Service
	API    *api.Server
	Server *httptest.Server
	URL    string
	Spec   *spectest.Spec // GitBook's document
	Ext    *spectest.Spec // the server's own, of the paths outside /v1
	logs   *lockedWriter
}

// New starts a server on the store; it stops when the test ends.
func New(t testing.TB, store integrations.Store) *Env {
	t.Helper()
	spec, err := spectest.Load()
	if err != nil {
		t.Fatal(err)
	}
	ext, err := spectest.Extensions()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	svc, err := service.New(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.EnsureAdmin(ctx, AdminToken); err != nil {
		t.Fatal(err)
	}
	logs := &lockedWriter{}
	e := &Env{t: t, Store: store, Svc: svc, Spec: spec, Ext: ext, logs: logs}
	e.Server = httptest.NewUnstartedServer(nil)
	e.Server.Start()
	e.URL = e.Server.URL
	// Tests send bursts that real clients do not: rate limiting has tests of its own.
	e.API = api.New(svc, api.Config{PublicURL: e.URL, RateLimit: -1, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	e.Server.Config.Handler = e.API
	t.Cleanup(e.Server.Close)
	return e
}

// Seed loads a fixture (YAML or JSON) into the store.
func (e *Env) Seed(text string) {
	e.t.Helper()
	f, err := fixture.Parse([]byte(text))
	if err != nil {
		e.t.Fatal(err)
	}
	if err := fixture.Apply(context.Background(), e.Store, f); err != nil {
		e.t.Fatal(err)
	}
}

// Response is an answer of the server.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v.
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("response is not JSON: %v: %s", err, r.Body)
	}
}

// Map decodes the body as a JSON object.
func (r *Response) Map(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.JSON(t, &m)
	return m
}

// ErrorMessage returns the message of an error body.
func (r *Response) ErrorMessage(t testing.TB) string {
	t.Helper()
	var e struct {
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	r.JSON(t, &e)
	return e.Error.Message
}

// Do sends a request with a bearer token ("" for none) and a body: nil for
// none, a string or []byte as is, anything else as JSON. Responses to GitBook
// paths must match the spec; the test fails when they do not.
func (e *Env) Do(method, path, token string, body any) *Response {
	e.t.Helper()
	return e.DoWith(method, path, token, body, nil)
}

// DoWith is Do with more request headers. A 304 answer to a request with
// If-None-Match is checked to have no body rather than against the spec,
// which leaves HTTP's conditional requests out.
func (e *Env) DoWith(method, path, token string, body any, header http.Header) *Response {
	e.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.URL+path, r)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := e.Server.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	out := &Response{Status: res.StatusCode, Header: res.Header, Body: data}
	if out.Status == http.StatusNotModified && req.Header.Get("If-None-Match") != "" {
		if len(data) > 0 {
			e.t.Errorf("%s %s: 304 with a body", method, path)
		}
		return out
	}
	e.CheckSpec(method, req.URL, out)
	return out
}

// CheckSpec fails the test if a response to a GitBook path does not match
// the spec. Every error must have the spec's error shape, on any path.
func (e *Env) CheckSpec(method string, u *url.URL, res *Response) {
	e.t.Helper()
	err := e.Spec.ValidateResponse(method, u.Path, u.RawQuery, res.Status, res.Header, res.Body)
	if err == spectest.ErrNotInSpec {
		// Outside /v1: the server's own document.
		err = e.Ext.ValidateResponse(method, u.Path, u.RawQuery, res.Status, res.Header, res.Body)
	}
	if err != nil {
		e.t.Errorf("%s %s: response does not match the spec: %v\nbody: %s", method, u.RequestURI(), err, truncate(res.Body))
	}
}

func truncate(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "..."
	}
	return string(b)
}

// Expect sends a request and fails the test unless the status is want.
func (e *Env) Expect(want int, method, path, token string, body any) *Response {
	e.t.Helper()
	res := e.Do(method, path, token, body)
	if res.Status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, res.Status, want, truncate(res.Body))
	}
	return res
}

// CreateUser creates a user through the admin extension and returns its token.
func (e *Env) CreateUser(displayName, email string) (id, token string) {
	e.t.Helper()
	res := e.Expect(http.StatusCreated, "POST", "/admin/users", AdminToken, map[string]string{"displayName": displayName, "email": email})
	var out struct {
		User  struct{ ID string }
		Token string
	}
	res.JSON(e.t, &out)
	return out.User.ID, out.Token
}

// Logs returns what the server has logged so far.
func (e *Env) Logs() string {
	e.logs.mu.Lock()
	defer e.logs.mu.Unlock()
	return e.logs.buf.String()
}

// lockedWriter collects logs written from many goroutines.
type lockedWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}
