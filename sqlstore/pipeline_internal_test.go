package sqlstore

import (
	"testing"
)

// TestLastStatements checks the order of what a batch's members held back
// for the COMMIT, and that a batch ends when a member's first statement,
// which runs before the held-back statements of the members before it,
// names one of their tables.
func TestLastStatements(t *testing.T) {
	const (
		insertEvent = `INSERT INTO events (id, payload) VALUES ($1, $2) RETURNING seq`
		enable      = `INSERT INTO space_installations (installation_id, space_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`
		retry       = `UPDATE events SET status = 'pending' WHERE id = $1`
		fromEvents  = `DELETE FROM space_installations WHERE space_id IN (SELECT space_id FROM events WHERE id = $1)`
	)
	type m struct{ first, last string }
	for _, tt := range []struct {
		name      string
		members   []m
		wantLasts int
		wantAbort bool
	}{
		{"nothing held back", []m{{enable, ""}, {retry, ""}}, 0, false},
		{"events held back, in order", []m{{enable, insertEvent}, {enable, ""}, {enable, insertEvent}}, 2, false},
		{"an earlier first statement names a later held-back table", []m{{retry, ""}, {enable, insertEvent}}, 1, false},
		{"a first statement writes a held-back table", []m{{enable, insertEvent}, {retry, ""}}, 0, true},
		{"a first statement reads a held-back table", []m{{enable, insertEvent}, {enable, ""}, {fromEvents, ""}}, 0, true},
		{"a held-back statement of unknown shape", []m{{enable, "WITH x AS (SELECT 1) SELECT 1"}, {enable, ""}}, 0, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var batch []*member
			var want []*Statement
			for _, mm := range tt.members {
				b := &member{first: &Statement{Query: mm.first}}
				if mm.last != "" {
					b.last = &Statement{Query: mm.last}
					want = append(want, b.last)
				}
				batch = append(batch, b)
			}
			lasts, abort := lastStatements(batch)
			if abort != tt.wantAbort {
				t.Fatalf("abort %v, want %v", abort, tt.wantAbort)
			}
			if abort {
				return
			}
			if len(lasts) != tt.wantLasts {
				t.Fatalf("%d last statements, want %d", len(lasts), tt.wantLasts)
			}
			for n := range lasts {
				if lasts[n] != want[n] {
					t.Errorf("last statement %d is not the member's", n)
				}
			}
		})
	}
}
