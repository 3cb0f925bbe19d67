// Package api serves GitBook's API v1 for integrations over HTTP, with the
// server's own extensions outside /v1. Handlers decode input, call the
// service and encode output; access rules live in the service.
package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"

	"integrations"
	"integrations/service"
)

// Config configures the HTTP API.
type Config struct {
	// PublicURL is the base of every absolute URL in responses, without a
	// trailing slash, e.g. http://127.0.0.1:8080.
	PublicURL string
	// MaxBodyBytes bounds request bodies; larger ones get 413.
	MaxBodyBytes int64
	// CacheBytes bounds the memory of the cache of answers (default
	// DefaultCacheBytes); a negative value turns caching off.
	CacheBytes int64
	// RateLimit is the number of requests per second each token may make
	// (default DefaultRateLimit), with bursts of up to RateBurst; a negative
	// RateLimit turns rate limiting off.
	RateLimit float64
	RateBurst int
	// TrustedProxies are the networks of the proxies in front of the
	// server: for a request from one of them, the client's address (the key
	// of the failed-authentication rate limit) is taken from
	// X-Forwarded-For. None by default: the address the request came from.
	TrustedProxies []netip.Prefix
	Logger         *slog.Logger
	// AccessLog, if set, receives the line of each request, as the JSON
	// that a slog.NewJSONHandler writing there would give it (accesslog.go),
	// instead of Logger; leave it nil where Logger is not such a handler or
	// does not log at the info level.
	AccessLog io.Writer
}

// DefaultMaxBodyBytes is the default limit on request bodies. It leaves room
// for a published integration: a script of up to 5 MiB plus its base64 icon
// and preview images.
const DefaultMaxBodyBytes = 16 << 20

// Server is the HTTP API.
type Server struct {
	svc     *service.Service
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	routes  []Route
	cache   *cache     // nil when off
	limiter *limiter   // nil when off
	access  *accessLog // nil: request lines go to log
}

// Schemes is the set of token kinds an operation accepts: the spec's security
// schemes.
type Schemes uint8

// The schemes. Public routes need no token at all.
const (
	User Schemes = 1 << iota
	Integration
	Installation
	Public
	Any = User | Integration | Installation // the spec's global security
)

// Route is one operation of the server.
type Route struct {
	Method    string
	Pattern   string // a net/http pattern path, e.g. /v1/spaces/{spaceId}
	Operation string // the spec's operationId, or a name of our own outside /v1
	Schemes   Schemes
	handle    func(w http.ResponseWriter, r *http.Request) error
}

// New returns the HTTP API of the service.
func New(svc *service.Service, cfg Config) *Server {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	s := &Server{svc: svc, cfg: cfg, log: cfg.Logger, mux: http.NewServeMux()}
	if cfg.AccessLog != nil {
		s.access = newAccessLog(cfg.AccessLog)
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = DefaultRateLimit
	}
	if cfg.RateBurst == 0 {
		cfg.RateBurst = DefaultRateBurst
	}
	if cfg.RateLimit > 0 {
		s.limiter = newLimiter(cfg.RateLimit, cfg.RateBurst)
	}
	switch {
	case cfg.CacheBytes == 0:
		s.cache = newCache(DefaultCacheBytes)
	case cfg.CacheBytes > 0:
		s.cache = newCache(cfg.CacheBytes)
	}
	s.routes = s.routeTable()
	byPath := map[string]map[string]Route{}
	for _, rt := range s.routes {
		if byPath[rt.Pattern] == nil {
			byPath[rt.Pattern] = map[string]Route{}
		}
		byPath[rt.Pattern][rt.Method] = rt
	}
	for pattern, methods := range byPath {
		s.mux.Handle(pattern, s.dispatch(methods))
	}
	s.mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, integrations.Errorf(integrations.ENOTFOUND, "No route for %s %s.", r.Method, r.URL.Path))
	}))
	return s
}

// Routes returns every route the server serves.
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

// dispatch routes a request on a path to the route of its method: 405 for
// the others.
func (s *Server) dispatch(methods map[string]Route) http.Handler {
	var allowed []string
	var pattern string
	for m, rt := range methods {
		allowed = append(allowed, m)
		pattern = rt.Pattern
	}
	sort.Strings(allowed)
	// Each route's name in the log line, made once.
	labels := map[string]string{}
	for m, rt := range methods {
		labels[m] = rt.Method + " " + rt.Pattern
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := r.Method
		rt, ok := methods[m]
		if !ok && m == http.MethodHead {
			m = http.MethodGet
			rt, ok = methods[m]
		}
		if !ok {
			setPattern(r, r.Method+" "+pattern)
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			s.writeError(w, r, &httpError{http.StatusMethodNotAllowed, "Method " + r.Method + " is not allowed here; allowed: " + strings.Join(allowed, ", ") + "."})
			return
		}
		setPattern(r, labels[m])
		s.serveRoute(w, r, rt)
	})
}

func (s *Server) serveRoute(w http.ResponseWriter, r *http.Request, rt Route) {
	if rt.Schemes&Public != 0 {
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		if err := rt.handle(w, r); err != nil {
			s.writeError(w, r, err)
		}
		return
	}
	// The version read before anything else labels what this request
	// computes: a commit after it makes the labels stale, never the answers.
	// Only the answers to GET are kept.
	var version string
	if s.cache != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		var err error
		if version, err = s.svc.Version(r.Context()); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	c, id, err := s.authenticate(r)
	if err != nil {
		// Failed attempts count against the client's address, so that
		// nobody tries tokens at full speed.
		if limitErr := s.limit(w, s.clientKey(r)); limitErr != nil {
			err = limitErr
		}
		s.writeError(w, r, err)
		return
	}
	if err := s.limit(w, id); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := checkScheme(c, rt); err != nil {
		s.writeError(w, r, err)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if err := rt.handle(w, s.forHandler(w, r, c)); err != nil {
			s.writeError(w, r, err)
		} else if s.cache != nil {
			s.cache.dropAnswers()
		}
		return
	}
	// GET: answer from the cache when it holds this caller's answer at this
	// version; otherwise compute, and keep successful answers. The request
	// line as the client sent it names the answer (the handler's URL is
	// parsed from it); a request made in the process may lack it.
	uri := r.RequestURI
	if uri == "" {
		uri = r.URL.RequestURI()
	}
	key := id + " " + uri
	if s.cache != nil {
		if a := s.cache.answer(key, version); a != nil {
			writeAnswer(w, r, a)
			return
		}
	}
	rec := &recorder{header: http.Header{}}
	if err := rt.handle(rec, s.forHandler(w, r, c)); err != nil {
		s.writeError(w, r, err)
		return
	}
	if rec.status != http.StatusOK || rec.header.Get("Content-Type") != "application/json" {
		rec.replay(w)
		return
	}
	// The cache keeps a copy of the exact size: the recorder's buffer
	// grew by doubling, and may be twice as large as the body.
	a := newAnswer(key, version, bytes.Clone(rec.body.Bytes()))
	if s.cache != nil {
		s.cache.putAnswer(a)
	}
	writeAnswer(w, r, a)
}

// forHandler returns the request as a handler gets it: with its caller in
// its context and its body bounded.
func (s *Server) forHandler(w http.ResponseWriter, r *http.Request, c *integrations.Caller) *http.Request {
	r = r.WithContext(integrations.NewContextWithCaller(r.Context(), c))
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	return r
}

// authenticate resolves the request's bearer token, from the cache when it
// was resolved at the store's generation now, and returns its caller with
// the caller's ID.
func (s *Server) authenticate(r *http.Request) (*integrations.Caller, string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, "", integrations.Errorf(integrations.EUNAUTHORIZED, "Authentication required: send an API token as Authorization: Bearer <token>.")
	}
	scheme, token, ok := strings.Cut(h, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil, "", integrations.Errorf(integrations.EUNAUTHORIZED, "The Authorization header must be Bearer <token>.")
	}
	if s.cache == nil {
		c, err := s.svc.Authenticate(r.Context(), token)
		if err != nil {
			return nil, "", err
		}
		return c, c.ID(), nil
	}
	// The generation read before the caller is resolved labels it: a
	// change after it makes the label stale, never the caller.
	gen, err := s.svc.Generation(r.Context())
	if err != nil {
		return nil, "", err
	}
	hash := sha256.Sum256([]byte(token))
	if cc, ok := s.cache.caller(hash, gen); ok {
		return cc.caller, cc.id, nil
	}
	c, err := s.svc.Authenticate(r.Context(), token)
	if err != nil {
		return nil, "", err
	}
	id := c.ID()
	// Temporary tokens are checked against the store's clock every time.
	if c.Expires.IsZero() {
		s.cache.putCaller(hash, cachedCaller{caller: c, id: id, generation: gen})
	}
	return c, id, nil
}

// checkScheme refuses a caller whose kind of token the operation does not accept.
func checkScheme(c *integrations.Caller, rt Route) error {
	var kind Schemes
	var name string
	switch {
	case c.IsUser():
		kind, name = User, "user"
	case c.IsIntegration():
		kind, name = Integration, "integration"
	case c.IsInstallation():
		kind, name = Installation, "installation"
	}
	if rt.Schemes&kind == 0 {
		return integrations.Errorf(integrations.EFORBIDDEN, "%s does not accept %s tokens.", rt.Operation, name)
	}
	return nil
}

// cleanPath reports whether a path is in its clean form. ServeMux would
// redirect other paths to their clean form, which could route an id such as
// ".." to another operation; such paths get 404 instead.
func cleanPath(p string) bool {
	return p == "/" || (path.Clean(p) == p || path.Clean(p)+"/" == p)
}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// ServeHTTP serves a request: it assigns a request id, recovers from panics
// and logs one line per request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := r.Header.Get("X-Request-Id")
	if !requestIDPattern.MatchString(id) {
		var b [12]byte
		var x [2 * len(b)]byte
		rand.Read(b[:])
		hex.Encode(x[:], b[:])
		id = string(x[:])
	}
	w.Header()["X-Request-Id"] = []string{id}
	sw := &statusWriter{ResponseWriter: w}
	info := &sw.info
	info.id = id
	r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("panic", "request_id", id, "panic", p)
			if sw.status == 0 {
				s.writeError(sw, r, integrations.Errorf(integrations.EINTERNAL, "Internal error."))
			}
		}
		route := info.pattern
		if route == "" {
			route = "unmatched"
		}
		if s.access != nil {
			now := time.Now()
			s.access.write(entry{time: now, method: r.Method, route: route, status: sw.code(), duration: now.Sub(start), bytes: sw.bytes, id: id})
			return
		}
		s.log.LogAttrs(context.Background(), slog.LevelInfo, "request", slog.String("method", r.Method), slog.String("route", route),
			slog.Int("status", sw.code()), slog.Float64("duration_ms", durationMS(time.Since(start))),
			slog.Int("bytes", sw.bytes), slog.String("request_id", id))
	}()
	if !cleanPath(r.URL.Path) {
		s.writeError(sw, r, integrations.Errorf(integrations.ENOTFOUND, "No route for %s %s.", r.Method, r.URL.Path))
		return
	}
	s.mux.ServeHTTP(sw, r)
}

type requestInfoKey struct{}

// requestInfo is what the log line learns while the request is served.
type requestInfo struct {
	id      string
	pattern string
}

// setPattern names the route of a request in its log line.
func setPattern(r *http.Request, pattern string) {
	if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
		info.pattern = pattern
	}
}

func requestID(r *http.Request) string {
	if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
		return info.id
	}
	return ""
}

// statusWriter records the status and size of a response, and holds what
// the log line learns of the request (one allocation for both).
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
	info   requestInfo
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
