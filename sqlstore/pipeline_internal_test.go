package sqlstore

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestLastStatements checks the order of what a batch's members held back
// for the COMMIT, and that a batch ends when a member's first statement,
// which runs before the held-back statements of the members before it,
// names one of their tables.
func TestLastStatements(t *testing.T) {
	const (
		insertEvent = `INSERT INTO events (id, payload) VALUES (?, ?) RETURNING seq`
		enable      = `INSERT INTO space_installations (installation_id, space_id) VALUES (?, ?) ON CONFLICT DO NOTHING`
		retry       = `UPDATE events SET status = 'pending' WHERE id = ?`
		fromEvents  = `DELETE FROM space_installations WHERE space_id IN (SELECT space_id FROM events WHERE id = ?)`
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
			var want []*heldBack
			for _, mm := range tt.members {
				b := &member{first: &Statement{Query: mm.first}}
				if mm.last != "" {
					b.last = &heldBack{query: mm.last}
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

// TestMergeInserts checks which held-back statements merge: runs of two or
// more single-row inserts of one query that returns something, whose first
// values are distinct strings; and that each row comes back to its own.
func TestMergeInserts(t *testing.T) {
	const (
		event = `INSERT INTO events (id, integration_id, payload)
		VALUES (?, ?, ?) RETURNING seq`
		attempt = `INSERT INTO event_attempts (event_id, attempt) VALUES (?, ?)`
	)
	db := &DB{dialect: Dialect{Placeholders: func(q string) string { return q }}}
	held := func(query string, first any) *heldBack {
		var seq int64
		return &heldBack{query: query, args: []any{first, "i", "{}"}, dest: []any{&seq}}
	}
	for _, tt := range []struct {
		name string
		held []*heldBack
		want []string // the statements' queries, shortened to their rows
	}{
		{"one event", []*heldBack{held(event, "e1")}, []string{"1 row"}},
		{"events", []*heldBack{held(event, "e1"), held(event, "e2"), held(event, "e3")}, []string{"3 rows"}},
		{"runs apart", []*heldBack{held(event, "e1"), held(event, "e2"), held(attempt, "e2"), held(event, "e3")},
			[]string{"2 rows", "1 row", "1 row"}},
		{"a first value twice", []*heldBack{held(event, "e1"), held(event, "e1"), held(event, "e2")}, []string{"1 row", "2 rows"}},
		{"a first value that is not a string", []*heldBack{held(event, 1), held(event, 2)}, []string{"1 row", "1 row"}},
		{"nothing returned", []*heldBack{held(attempt, "e1"), held(attempt, "e2")}, []string{"1 row", "1 row"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			statements, check := db.mergeInserts(tt.held)
			var got []string
			for _, st := range statements {
				n := strings.Count(st.Query, "(?, ?")
				switch {
				case n == 1 && st.Rows == nil && st.Dest != nil:
					got = append(got, "1 row")
				case n == 1 && st.Rows == nil:
					got = append(got, "1 row")
				case n > 1 && len(st.Rows) == n && strings.HasSuffix(st.Query, "RETURNING id, seq"):
					got = append(got, strconv.Itoa(n)+" rows")
				default:
					got = append(got, "unexpected: "+st.Query)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("statements %q, want %q", got, tt.want)
			}
			// The database returns the merged rows in their order: each
			// gets its own seq, and check agrees.
			for _, st := range statements {
				for k, row := range st.Rows {
					*row[0].(*string) = st.Args[3*k].(string)
					*row[1].(*int64) = int64(100 + k)
				}
			}
			if err := check(); err != nil {
				t.Fatal(err)
			}
			// Rows out of their order: check says so.
			for _, st := range statements {
				if len(st.Rows) > 1 {
					a, b := st.Rows[0][0].(*string), st.Rows[1][0].(*string)
					*a, *b = *b, *a
					if err := check(); err == nil {
						t.Error("check passed rows that came back out of order")
					}
				}
			}
		})
	}
}

// TestLoneMemberWaitsForCompany checks that a lane that finds a single
// member waiting waits for more while another lane runs a batch, and does
// not when none does.
func TestLoneMemberWaitsForCompany(t *testing.T) {
	for _, tt := range []struct {
		name        string
		busy        int32
		linger      time.Duration
		second      bool // a second member comes a little after the first
		wantMembers int
	}{
		{"another lane busy: the next member joins", 1, 500 * time.Millisecond, true, 2},
		{"no other lane busy: the member goes alone", 0, time.Hour, false, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := &pipeline{joins: make(chan *member), quit: make(chan struct{}), linger: tt.linger}
			p.busy.Store(tt.busy)
			go func() {
				p.joins <- &member{}
				if tt.second {
					time.Sleep(20 * time.Millisecond)
					p.joins <- &member{}
				}
			}()
			done := make(chan []*member, 1)
			go func() {
				batch, _ := p.next()
				done <- batch
			}()
			select {
			case batch := <-done:
				if len(batch) != tt.wantMembers {
					t.Fatalf("a batch of %d members, want %d", len(batch), tt.wantMembers)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no batch: the lane waited for company it should not have waited for")
			}
		})
	}
}
