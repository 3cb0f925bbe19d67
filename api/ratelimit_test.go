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
