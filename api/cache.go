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

// The server keeps the answers to GET requests, and the callers of tokens,
// for as long as the store's version (integrations.Store.Version) does not
// change: any commit, in this process or another replica, makes them stale.
// Each request reads the version once, so no answer is ever served from
// memory after a write that changes it has returned, whichever replica
// served the write.

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
	callers map[string]cachedCaller // by token hash
}

// answer is a cached response body.
type answer struct {
	key, version, etag string
	body               []byte
}

type cachedCaller struct {
	caller  *integrations.Caller
	version string
}

func newCache(maxBytes int64) *cache {
	return &cache{max: maxBytes, lru: list.New(), answers: map[string]*list.Element{}, callers: map[string]cachedCaller{}}
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

// caller returns the caller of a token hash if it was resolved at version.
// Only tokens that never expire are kept.
func (c *cache) caller(hash, version string) *integrations.Caller {
	c.mu.Lock()
	defer c.mu.Unlock()
	cc, ok := c.callers[hash]
	if !ok || cc.version != version {
		return nil
	}
	return cc.caller
}

func (c *cache) putCaller(hash, version string, caller *integrations.Caller) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.callers) >= maxCachedCallers {
		c.callers = map[string]cachedCaller{}
	}
	c.callers[hash] = cachedCaller{caller: caller, version: version}
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

// writeAnswer writes a JSON answer with its ETag, or 304 when the request
// already has it.
func writeAnswer(w http.ResponseWriter, r *http.Request, a *answer) {
	h := w.Header()
	h.Set("ETag", a.etag)
	h.Set("Cache-Control", "private, no-cache")
	if inm := r.Header.Get("If-None-Match"); inm != "" && matches(inm, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(a.body)))
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
