package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"testing"
	"time"

	"integrations/fixture"
	"integrations/internal/storetest"
	"integrations/service"
)

func TestLimiterBucket(t *testing.T) {
	l := newLimiter(10, 3) // 10 per second, bursts of 3
	now := time.Unix(1000, 0)
	for i := 2; i >= 0; i-- {
		ok, remaining, _, _ := l.take("a", now)
		if !ok || remaining != i {
			t.Fatalf("request %d: ok=%v remaining=%d", 3-i, ok, remaining)
		}
	}
	ok, _, retry, reset := l.take("a", now)
	if ok || retry != 100*time.Millisecond || reset != 300*time.Millisecond {
		t.Errorf("empty bucket: ok=%v retry=%v reset=%v", ok, retry, reset)
	}
	if ok, _, _, _ := l.take("b", now); !ok {
		t.Error("another key shares the bucket")
	}
	if ok, _, _, _ := l.take("a", now.Add(100*time.Millisecond)); !ok {
		t.Error("the bucket did not refill")
	}
	// Pruning forgets full buckets only.
	l.prune(now.Add(150 * time.Millisecond))
	if _, ok := l.buckets["a"]; !ok {
		t.Error("a partly empty bucket was pruned")
	}
	l.prune(now.Add(time.Second))
	if len(l.buckets) != 0 {
		t.Errorf("full buckets kept: %d", len(l.buckets))
	}
}

func TestRateLimitedRequests(t *testing.T) {
	store := storetest.SQLite(t)
	ctx := context.Background()
	f, err := fixture.Parse([]byte(`
users:
  - {id: alice, displayName: Alice, email: alice@example.com, tokens: [alice-token]}
  - {id: bob, displayName: Bob, email: bob@example.com, tokens: [bob-token]}
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := fixture.Apply(ctx, store, f); err != nil {
		t.Fatal(err)
	}
	svc, err := service.New(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	// Bursts of 2, refilled at one request every 2 seconds: the test's
	// requests come in well under a second, so the bucket barely refills.
	srv := httptest.NewServer(New(svc, Config{PublicURL: "http://x", RateLimit: 0.5, RateBurst: 2, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer srv.Close()
	get := func(token string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+"/v1/user", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		data, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		res.Body = io.NopCloser(bytes.NewReader(data))
		return res
	}
	header := func(res *http.Response, name string) int {
		t.Helper()
		n, err := strconv.Atoi(res.Header.Get(name))
		if err != nil {
			t.Fatalf("%s: %q is not a number", name, res.Header.Get(name))
		}
		return n
	}
	// check checks the X-RateLimit headers of an answer: the limit is the
	// burst, what remains is below it and below what remained before, and
	// the bucket is full again in at most burst/rate = 4 seconds.
	check := func(who string, res *http.Response, remaining int) {
		t.Helper()
		if got := header(res, "X-RateLimit-Limit"); got != 2 {
			t.Errorf("%s: X-RateLimit-Limit %d, want the burst, 2", who, got)
		}
		if got := header(res, "X-RateLimit-Remaining"); got != remaining {
			t.Errorf("%s: X-RateLimit-Remaining %d, want %d", who, got, remaining)
		}
		if reset := header(res, "X-RateLimit-Reset"); reset < 1 || reset > 4 {
			t.Errorf("%s: X-RateLimit-Reset %d, want 1 to 4 seconds", who, reset)
		}
	}
	// check429 checks a refusal: the API's error shape, and a Retry-After
	// that is the time one request takes to refill (2 s), no later than the
	// reset.
	check429 := func(who string, res *http.Response) {
		t.Helper()
		if res.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("%s: status %d, want 429", who, res.StatusCode)
		}
		var body struct {
			Error struct {
				Code    int
				Message string
			}
		}
		if err := json.NewDecoder(res.Body).Decode(&body); err != nil || body.Error.Code != 429 || body.Error.Message == "" {
			t.Errorf("%s: body %+v (%v), want {\"error\":{\"code\":429,\"message\":...}}", who, body, err)
		}
		if after := header(res, "Retry-After"); after != 2 || after > header(res, "X-RateLimit-Reset") {
			t.Errorf("%s: Retry-After %d, X-RateLimit-Reset %s; want 2, at most the reset", who, after, res.Header.Get("X-RateLimit-Reset"))
		}
		check(who, res, 0)
	}
	// X-RateLimit-Limit requests pass at once, the next is refused.
	for n, remaining := range []int{1, 0} {
		res := get("alice-token")
		if res.StatusCode != 200 {
			t.Fatalf("alice's request %d: status %d", n+1, res.StatusCode)
		}
		check(fmt.Sprintf("alice's request %d", n+1), res, remaining)
	}
	check429("alice's third request", get("alice-token"))
	// Another token has its own bucket.
	if res := get("bob-token"); res.StatusCode != 200 {
		t.Errorf("bob: %d", res.StatusCode)
	} else {
		check("bob", res, 1)
	}
	// Bad tokens spend the client's bucket: guessing is slowed down too.
	for n, remaining := range []int{1, 0} {
		res := get("guess")
		if res.StatusCode != 401 {
			t.Fatalf("bad token %d: status %d, want 401", n+1, res.StatusCode)
		}
		check(fmt.Sprintf("bad token %d", n+1), res, remaining)
	}
	check429("third bad token", get("guess"))
}

func TestClientAddr(t *testing.T) {
	trusted, err := ParseTrustedProxies("10.0.0.0/8, 192.0.2.7, fd00::/8")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		remote  string
		xff     []string // X-Forwarded-For headers, in order
		trusted bool     // whether the trusted proxies apply
		want    string
	}{
		{"no trusted proxies: the header is ignored", "10.1.1.1:5000", []string{"203.0.113.1"}, false, "10.1.1.1"},
		{"from an untrusted address: the header is ignored", "198.51.100.1:5000", []string{"203.0.113.1"}, true, "198.51.100.1"},
		{"through a trusted proxy", "10.1.1.1:5000", []string{"203.0.113.1"}, true, "203.0.113.1"},
		{"a single trusted address", "192.0.2.7:5000", []string{"203.0.113.1"}, true, "203.0.113.1"},
		{"what the client wrote is ignored", "10.1.1.1:5000", []string{"1.1.1.1, 203.0.113.1"}, true, "203.0.113.1"},
		{"through two trusted proxies", "10.1.1.1:5000", []string{"1.1.1.1, 203.0.113.1, 10.2.2.2"}, true, "203.0.113.1"},
		{"several headers, in order", "10.1.1.1:5000", []string{"1.1.1.1", "203.0.113.1", "10.2.2.2"}, true, "203.0.113.1"},
		{"every hop trusted: the first", "10.1.1.1:5000", []string{"10.3.3.3, 10.2.2.2"}, true, "10.3.3.3"},
		{"no header: the proxy", "10.1.1.1:5000", nil, true, "10.1.1.1"},
		{"garbage ends at the proxy that passed it", "10.1.1.1:5000", []string{"203.0.113.1, mallory-chooses-this"}, true, "10.1.1.1"},
		{"garbage after a trusted hop", "10.1.1.1:5000", []string{"nonsense, 10.2.2.2"}, true, "10.2.2.2"},
		{"an empty entry is garbage", "10.1.1.1:5000", []string{"203.0.113.1, "}, true, "10.1.1.1"},
		{"a hop with a port", "10.1.1.1:5000", []string{"203.0.113.1:4711"}, true, "203.0.113.1"},
		{"IPv6", "[fd00::1]:5000", []string{"2001:db8::1, fd00::2"}, true, "2001:db8::1"},
		{"IPv6 with a port", "[fd00::1]:5000", []string{"[2001:db8::1]:4711"}, true, "2001:db8::1"},
		{"an IPv4-mapped proxy", "[::ffff:10.1.1.1]:5000", []string{"::ffff:203.0.113.1"}, true, "203.0.113.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v1/user", nil)
			r.RemoteAddr = tt.remote
			for _, h := range tt.xff {
				r.Header.Add("X-Forwarded-For", h)
			}
			var proxies []netip.Prefix
			if tt.trusted {
				proxies = trusted
			}
			if got := clientAddr(r, proxies); got != tt.want {
				t.Errorf("client address %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseTrustedProxies(t *testing.T) {
	tests := []struct {
		list string
		want string // the networks, or the error
	}{
		{"", "[]"},
		{"10.0.0.0/8", "[10.0.0.0/8]"},
		{" 10.1.2.3/8 , 2001:db8::/32,192.0.2.1 ", "[10.0.0.0/8 2001:db8::/32 192.0.2.1/32]"},
		{"::1", "[::1/128]"},
		{"10.0.0.0/33", `trusted proxies: "10.0.0.0/33" is neither a network (CIDR) nor an address`},
		{"example.com", `trusted proxies: "example.com" is neither a network (CIDR) nor an address`},
		{"::ffff:10.0.0.0/104", `trusted proxies: "::ffff:10.0.0.0/104": write IPv4 networks as such`},
	}
	for _, tt := range tests {
		got, err := ParseTrustedProxies(tt.list)
		s := fmt.Sprint(got)
		if err != nil {
			s = err.Error()
		}
		if s != tt.want {
			t.Errorf("ParseTrustedProxies(%q) = %s, want %s", tt.list, s, tt.want)
		}
	}
}

// TestTrustedProxies checks that behind a trusted proxy each client has its
// own failed-authentication bucket, keyed on its X-Forwarded-For address,
// and that without it every client behind the proxy shares one.
func TestTrustedProxies(t *testing.T) {
	svc, err := service.New(context.Background(), storetest.SQLite(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		trusted string
		want    []int // the statuses of: client 1, client 1, client 1, client 2, client 1 claiming to be client 2
	}{
		{"trusted", "127.0.0.0/8", []int{401, 401, 429, 401, 429}},
		{"not trusted", "", []int{401, 401, 429, 429, 429}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			proxies, err := ParseTrustedProxies(tt.trusted)
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(New(svc, Config{PublicURL: "http://x", RateLimit: 0.5, RateBurst: 2, TrustedProxies: proxies,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
			defer srv.Close()
			var got []int
			for _, xff := range []string{"203.0.113.1", "203.0.113.1", "203.0.113.1", "203.0.113.2", "203.0.113.2, 203.0.113.1"} {
				req, _ := http.NewRequest("GET", srv.URL+"/v1/user", nil)
				req.Header.Set("Authorization", "Bearer guess")
				req.Header.Set("X-Forwarded-For", xff)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				got = append(got, res.StatusCode)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("statuses %v, want %v", got, tt.want)
			}
		})
	}
}
