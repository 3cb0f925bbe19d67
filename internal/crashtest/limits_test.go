package crashtest

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"integrations/e2e"
	"integrations/internal/apitest"
)

// TestConnectionLimits checks the limits of the server binary that only a
// real connection shows, set by a flag and by an environment variable: a
// header larger than --max-header-bytes gets 431, and clients that never
// finish their headers are cut off at --read-header-timeout while the others
// are served.
func TestConnectionLimits(t *testing.T) {
	const readHeaderTimeout = time.Second
	s := serve(t, "sqlite:"+filepath.Join(t.TempDir(), "limits.db"), "", e2e.Command{
		Args: []string{"--read-header-timeout", readHeaderTimeout.String()},
		Env:  []string{"INTEGRATIONS_MAX_HEADER_BYTES=16384"},
	})

	// net/http allows 4 KiB more than MaxHeaderBytes: 8 KiB pass, 32 KiB do not.
	for _, tt := range []struct{ padding, want int }{{8 << 10, http.StatusOK}, {32 << 10, http.StatusRequestHeaderFieldsTooLarge}} {
		req, err := http.NewRequest("GET", s.URL+"/v1/user", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+apitest.AdminToken)
		req.Header.Set("X-Padding", strings.Repeat("a", tt.padding))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tt.want {
			t.Errorf("a %d KiB header with --max-header-bytes 16384: status %d, want %d", tt.padding>>10, res.StatusCode, tt.want)
		}
	}

	// Slow clients: each sends the start of a request and then nothing.
	type slowClient struct {
		conn net.Conn
		sent time.Time
	}
	var slow []slowClient
	for range 50 {
		conn, err := net.Dial("tcp", s.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, "GET /v1/user HTTP/1.1\r\nHost: x\r\nAuthorization: Bear"); err != nil {
			t.Fatal(err)
		}
		slow = append(slow, slowClient{conn, time.Now()})
	}
	// Meanwhile the others are served.
	c := newClient(s.URL)
	if _, err := c.do("GET", "/v1/user", nil, nil); err != nil {
		t.Errorf("with slow clients connected: %v", err)
	}
	// The server cuts the slow clients off at its read-header timeout. Its
	// read timeout (60 s) would cut them too, much later: the bound fails a
	// server whose read-header timeout is not the one set.
	const bound = 5 * time.Second
	for n, sc := range slow {
		sc.conn.SetReadDeadline(sc.sent.Add(bound))
		res, err := http.ReadResponse(bufio.NewReader(sc.conn), nil)
		elapsed := time.Since(sc.sent)
		if err == nil {
			res.Body.Close()
			if res.StatusCode < 400 {
				t.Errorf("slow client %d: status %d", n, res.StatusCode)
			}
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("slow client %d: the connection was still open after %v (read-header timeout %v)", n, bound, readHeaderTimeout)
		}
		if elapsed < readHeaderTimeout/2 {
			t.Errorf("slow client %d: cut off after %v, before the read-header timeout (%v)", n, elapsed, readHeaderTimeout)
		}
	}
}
