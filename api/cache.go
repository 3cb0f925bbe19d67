package api

import (
	"bytes"
	"container/list"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"integrations"
)

// The server keeps the answers to GET requests for as long as the store's
// version (integrations.Store.Version) does not change: any commit, in this
// process or another replica, makes them stale. Each request reads the
// version once, so no answer is ever served from memory after a write that
// changes it has returned, whichever replica served the write. It keeps the
// callers of tokens likewise, for as long as the store's generation
// (integrations.Store.Generation) does not change: only a change to what
// identifies callers makes them stale, not the writes that come and go.

// DefaultCacheBytes bounds the memory the cache of answers takes.
const DefaultCacheBytes = 64 << 20

// maxCachedCallers bounds the cache of token callers.
const maxCachedCallers = 100_000

type cache struct {
	mu      sync.Mutex
	max     int64
	size    int64
	lru     *list.List // of *answer, most recently used first
	answers map[string]*list.Element
	callers map[[sha256.Size]byte]cachedCaller // by the SHA-256 of the token
}

// answer is a cached response body, with the values of its ETag and
// Content-Length headers, made once for every response that sends it.
type answer struct {
	key, version, etag string
	body               []byte
	etagHeader         []string
	lengthHeader       []string
}

func newAnswer(key, version string, body []byte) *answer {
	etag := etagOf(body)
	return &answer{key: key, version: version, etag: etag, body: body,
		etagHeader: []string{etag}, lengthHeader: []string{strconv.Itoa(len(body))}}
}

// cachedCaller is the caller of a token, with its ID (Caller.ID), resolved
// at generation.
type cachedCaller struct {
	caller     *integrations.Caller
	id         string
	generation int64
}

func newCache(maxBytes int64) *cache {
	return &cache{max: maxBytes, lru: list.New(), answers: map[string]*list.Element{}, callers: map[[sha256.Size]byte]cachedCaller{}}
}

// answer returns the answer for key if it was computed at version.
func (c *cache) answer(key, version string) *answer {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.answers[key]
	if !ok {
		return nil
	}
	a := el.Value.(*answer)
	if a.version != version {
		c.remove(el)
		return nil
	}
	c.lru.MoveToFront(el)
	return a
}

func (c *cache) putAnswer(a *answer) {
	size := int64(len(a.body) + len(a.key) + 128)
	if size > c.max/8 {
		return // one answer may not take a large part of the cache
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.answers[a.key]; ok {
		c.remove(el)
	}
	c.answers[a.key] = c.lru.PushFront(a)
	c.size += size
	for c.size > c.max {
		c.remove(c.lru.Back())
	}
}

func (c *cache) remove(el *list.Element) {
	a := el.Value.(*answer)
	c.lru.Remove(el)
	delete(c.answers, a.key)
	c.size -= int64(len(a.body) + len(a.key) + 128)
}

// dropAnswers forgets every answer, once a write has returned without an
// error. Such a write committed a change (but for the few that found
// nothing to change, after which dropping costs misses only), which changed
// the version, so that no answer kept before can serve a request that
// reads the version after it. Under a load of writes the cache would
// otherwise keep answers that nothing asks for again until the LRU order
// reaches them, a heap that the garbage collector works around, near the
// memory limit, by running far more often (bench/HISTORY.md, an eleventh
// session).
func (c *cache) dropAnswers() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.answers) == 0 {
		return
	}
	c.lru.Init()
	c.answers = map[string]*list.Element{}
	c.size = 0
}

// caller returns the caller of a token hash if it was resolved at
// generation. Only tokens that never expire are kept.
func (c *cache) caller(hash [sha256.Size]byte, generation int64) (cachedCaller, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cc, ok := c.callers[hash]
	if !ok || cc.generation != generation {
		return cachedCaller{}, false
	}
	return cc, true
}

func (c *cache) putCaller(hash [sha256.Size]byte, cc cachedCaller) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.callers) >= maxCachedCallers {
		c.callers = map[[sha256.Size]byte]cachedCaller{}
	}
	c.callers[hash] = cc
}

// etagOf returns the strong ETag of a body.
func etagOf(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
}

// matches reports whether an If-None-Match header names the ETag.
func matches(ifNoneMatch, etag string) bool {
	for _, candidate := range strings.Split(ifNoneMatch, ",") {
		candidate = strings.TrimPrefix(strings.TrimSpace(candidate), "W/")
		if candidate == etag || candidate == "*" {
			return true
		}
	}
	return false
}

// Header values that never change, shared by every response that sends
// them: net/http copies a handler's header map before it writes it, and
// nothing in this server changes a header value in place (Set replaces the
// slice, Add appends to a full one, which copies it).
var (
	cacheControlPrivate = []string{"private, no-cache"}
	contentTypeJSON     = []string{"application/json"}
)

// writeAnswer writes a JSON answer with its ETag, or 304 when the request
// already has it. The headers go in under their canonical names, as Set
// would put them, without Set's work: this is every cached answer's path.
func writeAnswer(w http.ResponseWriter, r *http.Request, a *answer) {
	h := w.Header()
	h["Etag"] = a.etagHeader
	h["Cache-Control"] = cacheControlPrivate
	if inm := r.Header.Get("If-None-Match"); inm != "" && matches(inm, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h["Content-Type"] = contentTypeJSON
	h["Content-Length"] = a.lengthHeader
	w.WriteHeader(http.StatusOK)
	w.Write(a.body)
}

// recorder keeps a handler's response so that it can be cached.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// replay writes a recorded response that is not cached.
func (r *recorder) replay(w http.ResponseWriter) {
	for k, v := range r.header {
		w.Header()[k] = v
	}
	w.WriteHeader(r.status)
	w.Write(r.body.Bytes())
}
