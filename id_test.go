package integrations

import (
	"sort"
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
