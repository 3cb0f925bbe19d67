package sqlstore

import (
	"fmt"
	"testing"
)

// TestReferenceCacheStaysBounded fills the cache past its bound: it makes
// room by dropping a quarter of what it holds, not all of it, keeps what
// came last, and starts over at a newer generation only.
func TestReferenceCacheStaysBounded(t *testing.T) {
	r := newRefs()
	r.max = 100
	keys := func(from, to int) map[string]refEntry {
		m := map[string]refEntry{}
		for n := from; n < to; n++ {
			m[fmt.Sprint("k", n)] = refEntry{value: n}
		}
		return m
	}
	held := func(from, to int) int {
		n := 0
		for k := from; k < to; k++ {
			if _, ok := r.get(1, fmt.Sprint("k", k)); ok {
				n++
			}
		}
		return n
	}
	for n := 0; n < 100; n += 10 {
		r.add(1, keys(n, n+10))
	}
	if got := held(0, 100); got != 100 {
		t.Fatalf("the cache holds %d of its first 100 entries, want all", got)
	}
	r.add(1, keys(100, 110))
	if len(r.entries) != 75 || held(100, 110) != 10 || held(0, 100) != 65 {
		t.Errorf("past its bound, the cache holds %d entries, %d of the 10 new and %d of the 100 before; want 75, 10 and 65",
			len(r.entries), held(100, 110), held(0, 100))
	}
	// Readings at an older generation are dropped; a newer one starts over.
	r.add(0, keys(200, 210))
	if held(200, 210) != 0 || len(r.entries) != 75 {
		t.Errorf("entries of an older generation went in: %d entries", len(r.entries))
	}
	r.add(2, keys(300, 301))
	if _, ok := r.get(2, "k300"); !ok || len(r.entries) != 1 {
		t.Errorf("at a newer generation the cache holds %d entries, want its one", len(r.entries))
	}
	if _, ok := r.get(1, "k100"); ok {
		t.Error("an entry of the older generation is still served")
	}
	// Steady overflow stays within the bound.
	for n := 0; n < 1000; n += 7 {
		r.add(2, keys(1000+n, 1000+n+7))
		if len(r.entries) > r.max {
			t.Fatalf("%d entries, over the bound of %d", len(r.entries), r.max)
		}
	}
}
