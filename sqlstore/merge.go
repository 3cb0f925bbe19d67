package sqlstore

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// Merged inserts. The members of a batch each hold back the insert of their
// event for the COMMIT (tx.holdBack): the same query, one row each. Sent as
// one INSERT of many rows, they cost the database one statement instead of
// one each (its executor's start and end, its locks, its trigger queue), and
// the server one message.

// insertShape is what a single-row insert that may merge with others is
// made of: INSERT INTO table (first, ...) VALUES (?, ...) RETURNING columns.
type insertShape struct {
	head      string // INSERT INTO table (columns) VALUES
	row       string // (?, ...)
	first     string // the first column, whose values tell the rows apart
	returning string // what the query returns
}

var insertPattern = regexp.MustCompile(`(?s)^\s*(INSERT INTO \w+ \(\s*(\w+)\s*(?:,\s*\w+\s*)*\))\s*VALUES\s*(\(\s*\?(?:\s*,\s*\?)*\s*\))\s*RETURNING\s+(\S.*?)\s*$`)

// insertShapes remembers, per query, its shape: nil for one that does not
// merge.
var insertShapes sync.Map // query -> *insertShape

func shapeOf(query string) *insertShape {
	if v, ok := insertShapes.Load(query); ok {
		return v.(*insertShape)
	}
	var s *insertShape
	if m := insertPattern.FindStringSubmatch(query); m != nil {
		s = &insertShape{head: m[1] + " VALUES ", row: m[3], first: m[2], returning: m[4]}
	}
	insertShapes.Store(query, s)
	return s
}

// mergeInserts returns the statements that send held, in order, with each
// run of two or more inserts of one shape (shapeOf) made one insert of many
// rows. A merged insert returns, before each row's own columns, its first
// column, which must tell the rows apart (distinct strings: the key that the
// events' ids are): check says, once the statements ran, whether each row
// came back to its own statement, as PostgreSQL returns the rows of an
// INSERT ... VALUES in their order.
func (db *DB) mergeInserts(held []*heldBack) (statements []*Statement, check func() error) {
	var checks []func() error
	for n := 0; n < len(held); {
		end := n + 1
		shape := shapeOf(held[n].query)
		if shape != nil {
			seen := map[any]bool{}
			for end = n; end < len(held) && held[end].query == held[n].query && distinctFirst(held[end].args, seen); end++ {
			}
			end = max(end, n+1)
		}
		if end-n == 1 {
			h := held[n]
			statements = append(statements, &Statement{Query: db.dialect.Placeholders(h.query), Args: h.args, Dest: h.dest})
			n++
			continue
		}
		run := held[n:end]
		st := &Statement{Rows: make([][]any, len(run))}
		keys := make([]string, len(run))
		var q strings.Builder
		q.WriteString(shape.head)
		for k, h := range run {
			if k > 0 {
				q.WriteString(", ")
			}
			q.WriteString(shape.row)
			st.Args = append(st.Args, h.args...)
			st.Rows[k] = append([]any{&keys[k]}, h.dest...)
		}
		q.WriteString(" RETURNING " + shape.first + ", " + shape.returning)
		st.Query = db.dialect.Placeholders(q.String())
		statements = append(statements, st)
		checks = append(checks, func() error {
			for k, h := range run {
				if keys[k] != h.args[0] {
					return fmt.Errorf("sqlstore: a merged insert returned its row %d as %q, want %q", k, keys[k], h.args[0])
				}
			}
			return nil
		})
		n = end
	}
	return statements, func() error {
		for _, c := range checks {
			if err := c(); err != nil {
				return err
			}
		}
		return nil
	}
}

// distinctFirst reports whether the first of args is a string that seen does
// not hold yet, and adds it.
func distinctFirst(args []any, seen map[any]bool) bool {
	if len(args) == 0 {
		return false
	}
	s, ok := args[0].(string)
	if !ok || seen[s] {
		return false
	}
	seen[s] = true
	return true
}
