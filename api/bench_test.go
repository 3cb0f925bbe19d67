package api_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"integrations/internal/apitest"
	"integrations/internal/storetest"
)

// BenchmarkCachedAnswer measures the server's own cost of an answer served
// from its cache (the steady state of GitBook's editor opening spaces), with
// no network: the request goes straight to the handler.
//
//	go test -run '^$' -bench CachedAnswer -benchmem ./api/
func BenchmarkCachedAnswer(b *testing.B) {
	for _, path := range []string{"/v1/spaces/handbook/integrations", "/v1/spaces/handbook/integration-blocks"} {
		b.Run(path, func(b *testing.B) {
			e := apitest.New(b, storetest.SQLite(b))
			e.Seed(world)
			req := httptest.NewRequest("GET", path, nil)
			req.Header.Set("Authorization", "Bearer alice-token")
			serve := func() *httptest.ResponseRecorder {
				w := httptest.NewRecorder()
				e.API.ServeHTTP(w, req)
				return w
			}
			if w := serve(); w.Code != http.StatusOK {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if w := serve(); w.Code != http.StatusOK {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}

// BenchmarkEnableDisable measures a pair of writes: enabling an integration
// on a space, then disabling it.
func BenchmarkEnableDisable(b *testing.B) {
	for _, backend := range storetest.Backends() {
		b.Run(backend.Name, func(b *testing.B) {
			e := apitest.New(b, backend.Open(b))
			e.Seed(world)
			do := sender(b, e)
			b.ReportAllocs()
			for b.Loop() {
				do("POST", "/v1/integrations/slack/installations/slack-acme/spaces", `{"space":"blog"}`, 201)
				do("DELETE", "/v1/integrations/slack/installations/slack-acme/spaces/blog", "", 205)
			}
		})
	}
}

// BenchmarkEnableDisableParallel measures enable-then-disable pairs sent by
// 64 callers at once, each on a space of its own, as the load of the bench
// command does: concurrent writes, and what they cost in CPU time (this
// process's: on PostgreSQL the database's own is not counted), on each store.
//
//	go test -run '^$' -bench EnableDisableParallel ./api/
func BenchmarkEnableDisableParallel(b *testing.B) {
	for _, backend := range storetest.Backends() {
		b.Run(backend.Name, func(b *testing.B) {
			e := apitest.New(b, backend.Open(b))
			e.Seed(world)
			var spaces strings.Builder
			spaces.WriteString("spaces:\n")
			const callers = 64
			for n := range callers {
				fmt.Fprintf(&spaces, "  - {id: bench-%d, organization: acme, title: Bench %d}\n", n, n)
			}
			e.Seed(spaces.String())
			do := sender(b, e)
			var next atomic.Int32
			cpu := cpuTime()
			b.SetParallelism(callers / runtime.GOMAXPROCS(0))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				space := fmt.Sprintf("bench-%d", next.Add(1)-1)
				for pb.Next() {
					do("POST", "/v1/integrations/slack/installations/slack-acme/spaces", `{"space":"`+space+`"}`, 201)
					do("DELETE", "/v1/integrations/slack/installations/slack-acme/spaces/"+space, "", 205)
				}
			})
			b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(b.N), "cpu-µs/pair")
		})
	}
}

// sender returns a function that sends a request as alice straight to the
// handler, and fails the benchmark unless it gets the status it wants.
func sender(b *testing.B, e *apitest.Env) func(method, path, body string, want int) {
	return func(method, path, body string, want int) {
		req := httptest.NewRequest(method, path, nil)
		if body != "" {
			req = httptest.NewRequest(method, path, strings.NewReader(body))
		}
		req.Header.Set("Authorization", "Bearer alice-token")
		w := httptest.NewRecorder()
		e.API.ServeHTTP(w, req)
		if w.Code != want {
			b.Errorf("%s %s: %d %s", method, path, w.Code, w.Body)
		}
	}
}

// cpuTime returns the CPU time this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
