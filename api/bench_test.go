package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
	e := apitest.New(b, storetest.SQLite(b))
	e.Seed(world)
	do := func(method, path, body string, want int) {
		req := httptest.NewRequest(method, path, nil)
		if body != "" {
			req = httptest.NewRequest(method, path, strings.NewReader(body))
		}
		req.Header.Set("Authorization", "Bearer alice-token")
		w := httptest.NewRecorder()
		e.API.ServeHTTP(w, req)
		if w.Code != want {
			b.Fatalf("%s %s: %d %s", method, path, w.Code, w.Body)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		do("POST", "/v1/integrations/slack/installations/slack-acme/spaces", `{"space":"blog"}`, 201)
		do("DELETE", "/v1/integrations/slack/installations/slack-acme/spaces/blog", "", 205)
	}
}
