package api

import (
	"context"
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
	srv := httptest.NewServer(New(svc, Config{PublicURL: "http://x", RateLimit: 0.5, RateBurst: 2, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer srv.Close()
	get := func(token string) *http.Response {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/user", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	for want := 1; want >= 0; want-- {
		res := get("alice-token")
		if res.StatusCode != 200 || res.Header.Get("X-RateLimit-Limit") != "2" || res.Header.Get("X-RateLimit-Remaining") != strconv.Itoa(want) {
			t.Fatalf("status %d, limit %q, remaining %q", res.StatusCode, res.Header.Get("X-RateLimit-Limit"), res.Header.Get("X-RateLimit-Remaining"))
		}
	}
	res := get("alice-token")
	if res.StatusCode != 429 || res.Header.Get("Retry-After") != "2" || res.Header.Get("X-RateLimit-Reset") == "" {
		t.Errorf("third request: %d, Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
	// Another token has its own bucket.
	if res := get("bob-token"); res.StatusCode != 200 {
		t.Errorf("bob: %d", res.StatusCode)
	}
	// Bad tokens spend the client's bucket: guessing is slowed down too.
	statuses := []int{}
	for i := 0; i < 3; i++ {
		statuses = append(statuses, get("guess").StatusCode)
	}
	if statuses[0] != 401 || statuses[2] != 429 {
		t.Errorf("bad tokens: %v", statuses)
	}
}
