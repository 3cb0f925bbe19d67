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

	"integrations/internal/apitest"
)

// TestConnectionLimits checks the limits of the server binary that only a
// real connection shows: a header larger than MaxHeaderBytes (64 KiB) gets
// 431, and clients that send their headers slowly, or never finish them, are
// cut off at the read-header timeout while the others are served.
func TestConnectionLimits(t *testing.T) {
	s := serve(t, "sqlite:"+filepath.Join(t.TempDir(), "limits.db"), "")

	req, err := http.NewRequest("GET", s.URL+"/v1/user", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+apitest.AdminToken)
	req.Header.Set("X-Padding", strings.Repeat("a", 100<<10))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a 100 KiB header: status %d, want 431", res.StatusCode)
	}

	// Slow clients: each sends the start of a request and then nothing.
	var slow []net.Conn
	for range 50 {
		conn, err := net.Dial("tcp", s.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, "GET /v1/user HTTP/1.1\r\nHost: x\r\nAuthorization: Bear"); err != nil {
			t.Fatal(err)
		}
		slow = append(slow, conn)
	}
	// Meanwhile the others are served.
	c := newClient(s.URL)
	if _, err := c.do("GET", "/v1/user", nil, nil); err != nil {
		t.Errorf("with slow clients connected: %v", err)
	}
	// The server cuts the slow clients off (after its read-header timeout of
	// 10s); the deadline only turns a server that never does into a failure.
	for n, conn := range slow {
		conn.SetReadDeadline(time.Now().Add(time.Minute))
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err == nil {
			res.Body.Close()
			if res.StatusCode < 400 {
				t.Errorf("slow client %d: status %d", n, res.StatusCode)
			}
			continue
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("slow client %d: the server kept the connection open for a minute", n)
		}
	}
}
