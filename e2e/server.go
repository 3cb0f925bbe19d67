// Package e2e tests the built server binary as a user meets it: started as a
// process, configured with flags and environment variables, and driven over
// real HTTP by GitBook's own JavaScript client and CLI (see e2e_test.go and
// lifecycle.test.mjs).
//
// Its exported helpers build and run the binary; the tests of
// cmd/integrations use them too.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long a server may take to become ready, and
// stopTimeout how long it may take to exit after SIGTERM. They only turn a
// hung process into a failure; nothing waits for them to pass.
const (
	startTimeout = 60 * time.Second
	stopTimeout  = 60 * time.Second
)

// Build compiles the server into dir and returns the binary's path. With
// race set (see RaceEnabled) the binary itself runs under the race detector,
// so that a data race in the server fails the test that started it (exit
// status 66).
func Build(dir string, race bool) (string, error) {
	bin := filepath.Join(dir, "integrations")
	args := []string{"build", "-o", bin}
	if race {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "integrations/cmd/integrations")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

// BuildMain builds the binary into a temporary directory, runs the tests and
// removes the directory. Call it from TestMain; *bin is set before the tests
// run.
func BuildMain(m *testing.M, bin *string) int {
	dir, err := os.MkdirTemp("", "integrations-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	*bin, err = Build(dir, RaceEnabled)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// Environ returns the test process's environment without the server's own
// variables, so that a developer's INTEGRATIONS_* settings never leak into a
// test, plus extra (KEY=VALUE).
func Environ(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "INTEGRATIONS_") && !strings.HasPrefix(kv, "GITBOOK_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// Result is how a command that ran to its end went.
type Result struct {
	Code           int // exit status; -1 when killed by a signal
	Stdout, Stderr string
}

// Run runs the binary with args and env (KEY=VALUE, added to Environ) to its
// end.
func Run(t testing.TB, bin string, env []string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = Environ(env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("%s %s: %v", bin, strings.Join(args, " "), err)
	}
	return Result{Code: cmd.ProcessState.ExitCode(), Stdout: stdout.String(), Stderr: stderr.String()}
}

// Command is how to start the server on a given address.
type Command struct {
	Args []string // after "serve"
	Env  []string // KEY=VALUE, added to Environ
}

// Flags returns a Command that passes the address and the database as flags,
// followed by extra flags.
func Flags(database string, extra ...string) func(addr string) Command {
	return func(addr string) Command {
		return Command{Args: append([]string{"--addr", addr, "--database", database}, extra...)}
	}
}

// Server is a running `integrations serve` process.
type Server struct {
	Addr string // host:port it listens on
	URL  string // http://Addr

	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{} // closed when the process has exited
}

// Start starts `bin serve` with the command that command returns for a free
// loopback address, and returns once GET /healthz answers 200. The process
// is killed when the test ends, if it is still running.
func Start(t testing.TB, bin string, command func(addr string) Command) *Server {
	t.Helper()
	// Another process may take the free port between the check and the
	// server's listen; then try another one.
	for attempt := 0; ; attempt++ {
		s, err := start(t, bin, command(freeAddr(t)))
		if err == nil {
			return s
		}
		if attempt < 3 && strings.Contains(s.Stderr(), "address already in use") {
			continue
		}
		t.Fatalf("server did not start: %v\nstderr:\n%s", err, s.Stderr())
	}
}

func start(t testing.TB, bin string, c Command) (*Server, error) {
	t.Helper()
	addr := ""
	for i, a := range c.Args {
		if a == "--addr" && i+1 < len(c.Args) {
			addr = c.Args[i+1]
		}
	}
	for _, kv := range c.Env {
		if v, ok := strings.CutPrefix(kv, "INTEGRATIONS_ADDR="); ok && addr == "" {
			addr = v
		}
	}
	if addr == "" {
		t.Fatal("the command gives the server no address")
	}
	s := &Server{Addr: addr, URL: "http://" + addr, stderr: &syncBuffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(bin, append([]string{"serve"}, c.Args...)...)
	s.cmd.Env = Environ(c.Env...)
	s.cmd.Stdout = s.stderr
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		return s, err
	}
	go func() {
		s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		if !s.exited() {
			s.cmd.Process.Kill()
			<-s.done
		}
	})
	deadline := time.Now().Add(startTimeout)
	client := &http.Client{Timeout: time.Second}
	for {
		if s.exited() {
			return s, fmt.Errorf("exited with status %d before it was ready", s.cmd.ProcessState.ExitCode())
		}
		if res, err := client.Get(s.URL + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			return s, fmt.Errorf("GET /healthz did not answer 200 within %v", startTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freeAddr returns a loopback address with a port that is free right now.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (s *Server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Stderr returns what the server has written so far (its standard output
// and error: logs and the generated admin token).
func (s *Server) Stderr() string { return s.stderr.String() }

// Signal sends sig to the server.
func (s *Server) Signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// Wait waits for the server to exit and returns its exit status.
func (s *Server) Wait(t testing.TB) int {
	t.Helper()
	select {
	case <-s.done:
		return s.cmd.ProcessState.ExitCode()
	case <-time.After(stopTimeout):
		s.cmd.Process.Kill()
		<-s.done
		t.Fatalf("server did not exit within %v; output:\n%s", stopTimeout, s.Stderr())
		return -1
	}
}

// Stop stops the server with SIGTERM, as a service manager does, and fails
// the test unless it exits with status 0.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.Signal(t, syscall.SIGTERM)
	if code := s.Wait(t); code != 0 {
		t.Fatalf("server exited with status %d after SIGTERM; output:\n%s", code, s.Stderr())
	}
}

// Response is an answer of the server.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Decode decodes the JSON body into v.
func (r Response) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("response is not JSON: %v: %s", err, r.Body)
	}
}

// requestTimeout bounds every request of Do: a request that waits longer
// has hung, and fails the test.
const requestTimeout = 30 * time.Second

var client = &http.Client{Timeout: requestTimeout}

// Do sends a request with a bearer token ("" for none) and a JSON body (nil
// for none), bounded by requestTimeout.
func (s *Server) Do(t testing.TB, method, path, token string, body any) Response {
	t.Helper()
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, s.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return Response{Status: res.StatusCode, Header: res.Header, Body: data}
}

// Expect sends a request like Do, fails the test unless the status is want,
// and decodes the JSON body into out unless out is nil.
func (s *Server) Expect(t testing.TB, want int, method, path, token string, body, out any) Response {
	t.Helper()
	res := s.Do(t, method, path, token, body)
	if res.Status != want {
		t.Fatalf("%s %s %s: status %d, want %d: %s", s.URL, method, path, res.Status, want, res.Body)
	}
	if out != nil {
		res.Decode(t, out)
	}
	return res
}

// User is a user created through the admin extension, with its API token.
type User struct {
	ID    string
	Token string
}

// CreateUser creates a user with POST /admin/users.
func (s *Server) CreateUser(t testing.TB, adminToken, name, email string) User {
	t.Helper()
	var out struct {
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		Token string `json:"token"`
	}
	s.Expect(t, http.StatusCreated, "POST", "/admin/users", adminToken,
		map[string]string{"displayName": name, "email": email}, &out)
	if out.User.ID == "" || out.Token == "" {
		t.Fatalf("POST /admin/users gave no user id or token")
	}
	return User{ID: out.User.ID, Token: out.Token}
}

// CreateOrg creates an organization with POST /v1/orgs; the caller becomes
// its admin. It returns the organization's id.
func (s *Server) CreateOrg(t testing.TB, token, title string) string {
	t.Helper()
	var out struct {
		ID string `json:"id"`
	}
	s.Expect(t, http.StatusCreated, "POST", "/v1/orgs", token, map[string]string{"title": title}, &out)
	return out.ID
}

// CreateSpace creates a space with POST /v1/orgs/{org}/spaces and returns its
// id.
func (s *Server) CreateSpace(t testing.TB, token, org, title string) string {
	t.Helper()
	var out struct {
		ID string `json:"id"`
	}
	s.Expect(t, http.StatusCreated, "POST", "/v1/orgs/"+org+"/spaces", token, map[string]string{"title": title}, &out)
	return out.ID
}

// syncBuffer is a bytes.Buffer that a process writes while a test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
