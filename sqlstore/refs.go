package sqlstore

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"integrations"
)

// The reference cache. Every request reads a few rows that change rarely —
// its token and user, the organization's member row, the space, the
// integration and its installation — and writes elsewhere (space
// installations, events) far more often. Those tables carry triggers that
// raise a counter, the reference generation (migration 0003), in the
// transaction of every change to them. A transaction reads the generation
// once, in its own snapshot, and takes from the cache what another
// transaction read at the same generation: rows that are then exactly the
// ones it would read itself, in this process or any replica.
//
// Three rules keep that true:
//   - only transactions that see one snapshot use the cache (not the READ
//     COMMITTED ones of UpdateLeases on PostgreSQL);
//   - a transaction stops using the cache once it changes one of those
//     tables: what it reads there after that may be its own uncommitted
//     change;
//   - what a transaction reads goes into the cache only once it has
//     committed: a transaction that rolls back may have seen, in a batch,
//     the writes of others that roll back with it.
//
// Cached values are shared: lookups hand out copies, and callers may change
// a copy's fields but not the slices and maps it shares (no caller does).
//
// On PostgreSQL, a row taken from the cache is not a read that the checks of
// serializable transactions see: a transaction may act on a member's role
// that a concurrent one is changing, as it may when a request's access was
// checked a moment before its change. What the cache holds serves access
// checks and references; the integrity of the data rests on the database's
// own constraints, which every write meets.

// GenerationQuery reads the reference generation (exported for a
// dialect's Begin).
const GenerationQuery = `SELECT n FROM generation`

// maxRefs bounds the entries of one generation. Past it, a quarter of
// them make room for more: the first ones of the map's order, which Go
// draws at random, so that a working set larger than the cache still finds
// most of what it holds (emptied instead, the cache would hold half of it
// on average, and every reading after the emptying would miss at once).
const maxRefs = 100_000

type refs struct {
	mu      sync.RWMutex // read by every lookup, written by commits that read rows
	gen     int64
	entries map[string]refEntry
	max     int // maxRefs, but in tests
}

// refEntry is a cached lookup: a value, or the error it answered (a row
// that does not exist is cached too).
type refEntry struct {
	value any
	err   error
}

func newRefs() *refs { return &refs{entries: map[string]refEntry{}, max: maxRefs} }

func (r *refs) get(gen int64, key string) (refEntry, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if gen != r.gen {
		return refEntry{}, false
	}
	e, ok := r.entries[key]
	return e, ok
}

// add keeps what a committed transaction read at gen. Entries of an older
// generation than the cache's are useless; a newer one replaces them all.
func (r *refs) add(gen int64, read map[string]refEntry) {
	if len(read) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case gen < r.gen:
		return
	case gen > r.gen:
		r.gen, r.entries = gen, make(map[string]refEntry, len(read))
	}
	if len(r.entries)+len(read) > r.max {
		evict := len(r.entries) + len(read) - r.max*3/4
		for k := range r.entries {
			if evict == 0 {
				break
			}
			delete(r.entries, k)
			evict--
		}
	}
	for k, e := range read {
		r.entries[k] = e
	}
}

// ref returns the value of a lookup by key, from the cache when the
// transaction may use it, else from load, which reads it on the
// transaction it is given. cacheMisses says whether a lookup that found
// nothing may be cached: not for tokens, whose creation leaves the
// generation alone.
func ref[T any](t *tx, key string, cacheMisses bool, copy func(*T) *T, load func(*tx) (*T, error)) (*T, error) {
	if t.db.refs == nil || t.wrote || t.perStatement {
		return load(t)
	}
	if !t.genRead {
		var err error
		switch {
		case t.tx == nil && t.pipe != nil && t.db.latestGeneration(&t.gen):
			// A write of the pipeline that has not begun: the generation
			// last read, which its BEGIN checks, as for any lazy
			// transaction whose lookups came first. The generation moves
			// seldom (and the readings before a move made here are not
			// taken), and a reading of the generation now would wait for
			// a query whenever a write returned since the last one (see
			// Presence).
			t.genLast = true
		case t.tx == nil:
			// A lazy View that has not begun: the generation now (see
			// generation).
			t.gen, err = t.db.generation(t.ctx)
		default:
			err = t.queryRow(GenerationQuery).Scan(&t.gen)
		}
		if err != nil {
			return nil, err
		}
		t.genRead = true
	}
	// What the transaction read itself, at its generation, before the
	// cache: a row that missed the cache is not read twice (the cache gets
	// it only once the transaction commits).
	e, ok := t.reads[key]
	if !ok {
		e, ok = t.db.refs.get(t.gen, key)
	}
	if ok {
		if e.err != nil {
			return nil, e.err
		}
		return copy(e.value.(*T)), nil
	}
	var v *T
	var err error
	if t.tx == nil && t.pipe != nil && t.stop == nil {
		err = t.aside(func(a *tx) (err error) {
			v, err = load(a)
			return err
		})
	} else {
		v, err = load(t)
	}
	switch {
	case err == nil:
		t.read(key, refEntry{value: copy(v)})
	case cacheMisses && isNotFound(err):
		t.read(key, refEntry{err: err})
	}
	return v, err
}

// latestGeneration sets *n to the reference generation last read, if any,
// however long ago, and reports whether it did.
func (db *DB) latestGeneration(n *int64) bool {
	if db.version != nil {
		return false
	}
	r, ok := db.readings.latest()
	if ok {
		*n = r.Generation
	}
	return ok
}

// generation returns the reference generation now, read outside any
// transaction. Where the store's version costs next to nothing (SQLite's
// WAL-index header), the generation read after the version last changed
// still holds while the version stays the same, since nothing committed
// meanwhile: then no query runs.
func (db *DB) generation(ctx context.Context) (int64, error) {
	if db.version == nil {
		r, err := db.readings.get(ctx, db.refFloor.get())
		return r.Generation, err
	}
	v, err := db.Version(ctx)
	if err != nil {
		return 0, err
	}
	if n, ok := db.genAt.get(v); ok {
		return n, nil
	}
	// The shared read begins after this call asked, so after the version
	// was read: what it finds is at least as new as that version.
	n, err := db.generations.get(ctx, db.refFloor.get())
	if err == nil {
		db.genAt.set(v, n)
	}
	return n, err
}

// aside runs read in a read-only transaction of its own at t's reference
// generation, for a write transaction of the pipeline (pipeline.go) that
// has not begun or is the member of a batch. A lookup that missed the cache
// would otherwise be a statement of t's own: the first, which a read leaves
// out of the batches, so that t would run alone; or a second statement of
// a member, which ends its batch and makes every member run again alone.
// A row of the cache's tables read in a snapshot of the same generation is
// the row that t reads (see above), as a cached one is; a member's
// generation is its batch's. When the generation moved meanwhile, t stops
// with errGenerationMoved, to run again. A member's read is bound to no
// context of its caller's, as its batch is not: a caller going away must
// not end the batch of the others.
func (t *tx) aside(read func(*tx) error) error {
	ctx := t.ctx
	if t.member != nil {
		ctx = context.WithoutCancel(ctx)
	}
	a := &tx{ctx: ctx, db: t.db, stmts: t.db.readStmts, now: t.now, lazy: t.db.read, lazyOpts: t.db.dialect.ReadTx,
		gen: t.gen, genRead: true}
	err := a.do(func(integrations.Tx) error { return read(a) })
	if errors.Is(err, errGenerationMoved) {
		t.stop = errGenerationMoved
	}
	return err
}

// copyOf returns a shallow copy of v.
func copyOf[T any](v *T) *T {
	c := *v
	return &c
}

// shared returns v itself, for a lookup whose caller reads nothing of it
// or only reads.
func shared[T any](v *T) *T { return v }

// read notes a lookup, for the cache once the transaction commits.
func (t *tx) read(key string, e refEntry) {
	if t.reads == nil {
		t.reads = map[string]refEntry{}
	}
	t.reads[key] = e
}

// committed hands what the transaction read to the cache. A transaction
// that changed the cache's tables moved the generation: the readings before
// it no longer give the generation last read (see ref).
func (t *tx) committed() {
	if t.wrote {
		t.db.readings.markStale(time.Now())
	}
	if t.db.refs != nil && t.genRead {
		t.db.refs.add(t.gen, t.reads)
	}
}

// refTables are the tables whose rows the cache holds, with the generation
// itself: the tables with the triggers of migration 0003.
var refTables = map[string]bool{
	"users": true, "organizations": true, "members": true, "spaces": true, "integrations": true,
	"installations": true, "deliveries": true, "tokens": true, "generation": true,
}

// statementKinds remembers, per statement, what kind it is.
var statementKinds sync.Map // query -> statementKind

type statementKind struct {
	writes bool   // INSERT, UPDATE or DELETE, or of a shape unknown here
	refs   bool   // and of a table of refTables (or of an unknown one)
	table  string // the table an INSERT, UPDATE or DELETE writes
}

// changes notes what a statement of the transaction may change: whether it
// writes at all (changed), and whether it writes a table of the cache, after
// which the transaction may no longer use the cache (wrote). Reads change
// nothing; INSERT, UPDATE and DELETE change their table, and no change to a
// table outside refTables changes those, even by a cascade (their foreign
// keys point the other way). A statement of another shape counts as one
// that may change anything.
func (t *tx) changes(query string) {
	k := kindOf(query)
	t.changed = t.changed || k.writes
	t.wrote = t.wrote || k.refs
	if k.refs {
		t.db.refWrites.Add(1)
	}
}

func kindOf(query string) statementKind {
	if v, ok := statementKinds.Load(query); ok {
		return v.(statementKind)
	}
	w := strings.Fields(strings.ToLower(query))
	var k statementKind
	switch {
	case len(w) == 0 || w[0] == "select":
	case w[0] == "insert" && len(w) > 2 && w[1] == "into", w[0] == "delete" && len(w) > 2 && w[1] == "from":
		table := strings.SplitN(w[2], "(", 2)[0]
		k = statementKind{writes: true, refs: refTables[table], table: table}
	case w[0] == "update" && len(w) > 1:
		k = statementKind{writes: true, refs: refTables[w[1]], table: w[1]}
	default:
		k = statementKind{writes: true, refs: true}
	}
	statementKinds.Store(query, k)
	return k
}
