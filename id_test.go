package integrations

import (
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestNewEventIDSortsByTime(t *testing.T) {
	var ids []string
	for range 50 {
		ids = append(ids, NewEventID())
		time.Sleep(10 * time.Microsecond) // the next id's time is later
	}
	if !sort.StringsAreSorted(ids) {
		t.Errorf("event ids made one after the other do not sort in order: %v", ids)
	}
	for _, id := range ids {
		if len(id) != 20 || !ValidID(id) {
			t.Errorf("event id %q: want 20 characters of the EntityId pattern", id)
		}
	}
	if ids[0][9:] == ids[1][9:] {
		t.Errorf("two event ids share their random part: %s, %s", ids[0], ids[1])
	}
}

// TestValidIDAndNameFollowThePatterns compares ValidID and ValidName with
// the spec's patterns, as regular expressions, on every byte and on text
// that mixes them.
func TestValidIDAndNameFollowThePatterns(t *testing.T) {
	id, name := regexp.MustCompile(idPattern), regexp.MustCompile(namePattern)
	inputs := []string{"", "a", "Z9", "a-b_c", "a.b", "a b", "é", "a\x00", "-", "_", ".", "..", "a/b", "a\n", strings.Repeat("x", MaxIDLength)}
	for c := range 256 {
		inputs = append(inputs, string(rune(c)), "a"+string([]byte{byte(c)})+"b")
	}
	for _, s := range inputs {
		if got, want := ValidID(s), id.MatchString(s); got != want {
			t.Errorf("ValidID(%q) = %v, the pattern says %v", s, got, want)
		}
		if got, want := ValidName(s), name.MatchString(s); got != want {
			t.Errorf("ValidName(%q) = %v, the pattern says %v", s, got, want)
		}
	}
	if ValidID(strings.Repeat("x", MaxIDLength+1)) || ValidName(strings.Repeat("x", MaxNameLength+1)) {
		t.Error("an id or name over the length limit is valid")
	}
}

func BenchmarkValidID(b *testing.B) {
	re := regexp.MustCompile(idPattern)
	id := NewID()
	b.Run("loop", func(b *testing.B) {
		for b.Loop() {
			ValidID(id)
		}
	})
	b.Run("regexp", func(b *testing.B) {
		for b.Loop() {
			re.MatchString(id)
		}
	})
}
