package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
)

// versioner tells whether the database changed: the API reads it before
// every request, so it must cost next to nothing.
//
// In WAL mode SQLite keeps, at the start of the -shm file that every
// connection of every process shares, the WAL-index header: a commit counter
// (iChange), the last frame of the log (mxFrame) and the log's salts, which
// change when the log restarts. A committing writer updates the header before
// its commit returns, writing two copies in turn; a reader that finds both
// copies equal and the header's checksum right has a consistent header
// (https://www.sqlite.org/walformat.html, "The WAL-Index Header"). Reading it
// is one pread, with no lock: far cheaper than a query.
//
// When the header cannot be read consistently (a commit is writing it, or
// the file is not there), the versioner falls back to PRAGMA data_version on
// a connection of its own that never writes: its value changes whenever
// another connection commits. Values of the two kinds never compare equal,
// which at worst makes a cache recompute.
type versioner struct {
	shm  *os.File // nil when the -shm file could not be opened
	db   *sql.DB
	mu   sync.Mutex
	conn *sql.Conn
	stmt *sql.Stmt // PRAGMA data_version, prepared on conn
	gen  int       // a new connection starts a new generation of data_version values
	// last is the header read last and its value: a header that has not
	// changed since gives the same value, made once.
	last atomic.Pointer[headerValue]
}

type headerValue struct {
	header [walIndexHeaderSize]byte
	value  string
}

func newVersioner(path string, db *sql.DB) *versioner {
	v := &versioner{db: db}
	// Open's connections have created the -shm file, and it stays while any
	// connection is open: the versioner keeps its own (conn) for good.
	if f, err := os.Open(path + "-shm"); err == nil {
		v.shm = f
	}
	return v
}

func (v *versioner) version(ctx context.Context) (string, error) {
	if s, ok := v.header(); ok {
		return s, nil
	}
	return v.dataVersion(ctx)
}

// walIndexHeaderSize is the size of one copy of the WAL-index header.
const walIndexHeaderSize = 48

// header reads the WAL-index header and returns its commit counter, last
// frame and salts, if both copies agree and the checksum holds.
func (v *versioner) header() (string, bool) {
	if v.shm == nil {
		return "", false
	}
	var b [2 * walIndexHeaderSize]byte
	if n, err := v.shm.ReadAt(b[:], 0); n != len(b) || err != nil {
		return "", false
	}
	h, copy2 := b[:walIndexHeaderSize], b[walIndexHeaderSize:]
	if string(h) != string(copy2) || h[12] == 0 { // torn, or isInit is 0
		return "", false
	}
	// The checksum is over the first 40 bytes as native 32-bit words,
	// summed in pairs (walChecksumBytes with nativeCksum set).
	native := binary.NativeEndian
	var s1, s2 uint32
	for i := 0; i < 40; i += 8 {
		s1 += native.Uint32(h[i:]) + s2
		s2 += native.Uint32(h[i+4:]) + s1
	}
	if s1 != native.Uint32(h[40:]) || s2 != native.Uint32(h[44:]) {
		return "", false
	}
	if last := v.last.Load(); last != nil && string(last.header[:]) == string(h) {
		return last.value, true
	}
	iChange, mxFrame := native.Uint32(h[8:]), native.Uint32(h[16:])
	salt1, salt2 := native.Uint32(h[32:]), native.Uint32(h[36:])
	hv := &headerValue{value: "w" + strconv.FormatUint(uint64(iChange), 10) + "." + strconv.FormatUint(uint64(mxFrame), 10) +
		"." + strconv.FormatUint(uint64(salt1), 16) + "." + strconv.FormatUint(uint64(salt2), 16)}
	copy(hv.header[:], h)
	v.last.Store(hv)
	return hv.value, true
}

// dataVersion reads PRAGMA data_version on the versioner's own connection.
func (v *versioner) dataVersion(ctx context.Context) (string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.conn == nil {
		c, err := v.db.Conn(ctx)
		if err != nil {
			return "", err
		}
		st, err := c.PrepareContext(ctx, "PRAGMA data_version")
		if err != nil {
			c.Close()
			return "", err
		}
		v.conn, v.stmt, v.gen = c, st, v.gen+1
	}
	var n int64
	if err := v.stmt.QueryRowContext(ctx).Scan(&n); err != nil {
		v.stmt.Close()
		v.conn.Close()
		v.conn, v.stmt = nil, nil
		return "", err
	}
	return "d" + strconv.Itoa(v.gen) + "." + strconv.FormatInt(n, 10), nil
}

func (v *versioner) close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.conn != nil {
		v.stmt.Close()
		v.conn.Close()
		v.conn = nil
	}
	if v.shm != nil {
		v.shm.Close()
	}
	return v.db.Close()
}
