package integrations

import (
	"crypto/rand"
	"regexp"
	"time"
)

// The spec's patterns for ids (EntityId) and integration names.
var (
	idPattern   = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)
	namePattern = regexp.MustCompile(`^[a-zA-Z0-9-_.]+$`)
)

// MaxIDLength bounds every id this server accepts. The spec sets no length for
// EntityId; a bound keeps indexes and logs sane.
const MaxIDLength = 100

// MaxNameLength is the spec's maxLength for integration names.
const MaxNameLength = 100

// ValidID reports whether s is a well-formed EntityId.
func ValidID(s string) bool {
	return len(s) <= MaxIDLength && idPattern.MatchString(s)
}

// ValidName reports whether s is a well-formed integration name.
func ValidName(s string) bool {
	return len(s) <= MaxNameLength && namePattern.MatchString(s)
}

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// NewID returns a random 20-character id, shaped like GitBook's own ids.
func NewID() string { return randomString(20) }

// NewEventID returns an id for an event: 20 characters like NewID's, whose
// first 9 are the time in microseconds, so that ids made later sort after
// (byte by byte), and the index of event ids grows at its end as events
// come instead of at random places.
func NewEventID() string {
	const n = 9
	b := make([]byte, n, 20)
	for i, t := n-1, time.Now().UnixMicro(); i >= 0; i-- {
		b[i] = alphabet[t%int64(len(alphabet))]
		t /= int64(len(alphabet))
	}
	return string(append(b, randomString(20-n)...))
}

// randomString returns n characters drawn uniformly from alphabet.
func randomString(n int) string {
	b := make([]byte, n)
	buf := make([]byte, 2*n)
	for i := 0; i < n; {
		rand.Read(buf) // never fails (crypto/rand panics rather than return short reads)
		for _, c := range buf {
			// 248 is the largest multiple of 62 below 256: rejecting above it keeps
			// the distribution uniform.
			if c < 248 && i < n {
				b[i] = alphabet[int(c)%len(alphabet)]
				i++
			}
		}
	}
	return string(b)
}
