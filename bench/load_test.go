package bench

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestPassSendsEachStepOnce checks the warm-up pass: each connection sends
// its first n steps once, every request of each, whatever they answer.
func TestPassSendsEachStepOnce(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Method+" "+r.URL.Path]++
		mu.Unlock()
		w.WriteHeader(http.StatusConflict) // not what the step wants: no matter
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	const connections, n = 3, 4
	var requests []request
	for s := range connections * 8 {
		base := "/slot/" + string(rune('a'+s))
		requests = append(requests, request{method: "POST", uri: base, body: []byte(`{}`), want: 201},
			request{method: "DELETE", uri: base, want: 205})
	}
	wires := make([][]byte, len(requests))
	for k, r := range requests {
		wires[k] = r.wire(addr)
	}
	if err := pass(t.Context(), addr, connections, n, pairSteps(wires, connections)); err != nil {
		t.Fatal(err)
	}
	// Connection w takes slots w, w+3, w+6, ... of its own.
	if len(seen) != 2*connections*n {
		t.Errorf("%d distinct requests, want %d: %v", len(seen), 2*connections*n, seen)
	}
	for w := range connections {
		for k := range n {
			base := "/slot/" + string(rune('a'+w+connections*k))
			if seen["POST "+base] != 1 || seen["DELETE "+base] != 1 {
				t.Errorf("%s: %d POST, %d DELETE, want one each", base, seen["POST "+base], seen["DELETE "+base])
			}
		}
	}
}

// TestPassReportsAConnectionError checks that a pass against nothing
// fails rather than warming nothing in silence.
func TestPassReportsAConnectionError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := strings.TrimPrefix(srv.URL, "http://")
	srv.Close()
	wires := [][]byte{request{method: "GET", uri: "/", want: 200}.wire(addr), request{method: "GET", uri: "/", want: 200}.wire(addr)}
	if err := pass(t.Context(), addr, 2, 1, pairSteps(wires, 2)); err == nil {
		t.Error("a pass to a closed server succeeded")
	}
}
