package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// maxStatements bounds the prepared statements kept per handle: queries are
// built from a fixed set of pieces, but the number of placeholders of an IN
// list varies.
const maxStatements = 2000

// statements caches the prepared statements of one database handle.
//
// A statement is prepared in the background the first time its query runs,
// never inside a transaction: the transaction's connection may be the only
// one of the handle (SQLite's writer), and preparing on the handle would wait
// for it forever. Until then the query runs unprepared. Transactions use the
// cached statement through sql.Tx.StmtContext, which prepares it once on each
// connection and reuses it after.
type statements struct {
	db      *sql.DB
	mu      sync.Mutex
	ready   map[string]*sql.Stmt
	pending map[string]bool
	closed  bool
	wg      sync.WaitGroup
}

func newStatements(db *sql.DB) *statements {
	return &statements{db: db, ready: map[string]*sql.Stmt{}, pending: map[string]bool{}}
}

// get returns the prepared statement of a query, or nil while it is not
// prepared yet.
func (s *statements) get(query string) *sql.Stmt {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.ready[query]; st != nil {
		return st
	}
	if !s.closed && !s.pending[query] && len(s.ready)+len(s.pending) < maxStatements {
		s.pending[query] = true
		s.wg.Add(1)
		go s.prepare(query)
	}
	return nil
}

func (s *statements) prepare(query string) {
	defer s.wg.Done()
	st, err := s.db.PrepareContext(context.Background(), query)
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.pending, query)
	switch {
	case err != nil:
		// Unprepared queries still run; a later use tries again.
	case s.closed:
		st.Close()
	default:
		s.ready[query] = st
	}
}

// close closes the statements, once the preparations under way are done.
func (s *statements) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.ready {
		st.Close()
	}
	s.ready = map[string]*sql.Stmt{}
}
