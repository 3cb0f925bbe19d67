package api

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"integrations"
)

// Rate limiting: a token bucket per API token (per client address for
// requests without a valid token, see clientAddr), in each replica's memory. A bucket holds
// up to burst requests and refills at rate per second.

// Default rate limits.
const (
	DefaultRateLimit = 100 // requests per second per token
	DefaultRateBurst = 200
	maxBuckets       = 100_000
)

type limiter struct {
	mu      sync.Mutex
	rate    float64
	burst   float64
	buckets map[string]*bucket

	burstHeader []string // the value of X-RateLimit-Limit, shared as writeAnswer's are
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(rate float64, burst int) *limiter {
	if burst < 1 {
		burst = 1
	}
	return &limiter{rate: rate, burst: float64(burst), buckets: map[string]*bucket{},
		burstHeader: []string{strconv.Itoa(burst)}}
}

// take spends one request of key's bucket. It returns whether the request may
// go on, what is left, how long until the next request is allowed, and how
// long until the bucket is full again.
func (l *limiter) take(key string, now time.Time) (ok bool, remaining int, retryAfter, reset time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxBuckets {
			l.prune(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	// A request that read the clock before another took the lock comes
	// with an earlier time: a negative refill would empty the bucket.
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = math.Min(l.burst, b.tokens+elapsed.Seconds()*l.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		ok = true
	} else {
		retryAfter = seconds((1 - b.tokens) / l.rate)
	}
	return ok, int(b.tokens), retryAfter, seconds((l.burst - b.tokens) / l.rate)
}

// prune forgets the buckets that are full again: they hold nothing a new
// bucket would not.
func (l *limiter) prune(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= maxBuckets {
		l.buckets = map[string]*bucket{} // under attack from many keys: start afresh
	}
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// limit applies the limiter to a request of key and sets the X-RateLimit
// headers: Limit is the size of the bucket (the burst, the most requests
// that may come at once), Remaining the requests the bucket holds after this
// one, and Reset the seconds until it is full again. It returns an
// ERATELIMIT error, with Retry-After, when the bucket is empty.
func (s *Server) limit(w http.ResponseWriter, key string) error {
	if s.limiter == nil {
		return nil
	}
	ok, remaining, retryAfter, reset := s.limiter.take(key, time.Now())
	// Under their canonical names, as Set would put them, without its work:
	// every request comes here.
	h := w.Header()
	h["X-Ratelimit-Limit"] = s.limiter.burstHeader
	h["X-Ratelimit-Remaining"] = []string{strconv.Itoa(remaining)}
	h["X-Ratelimit-Reset"] = []string{strconv.Itoa(int(math.Ceil(reset.Seconds())))}
	if ok {
		return nil
	}
	after := int(math.Ceil(retryAfter.Seconds()))
	h.Set("Retry-After", strconv.Itoa(after))
	return integrations.Errorf(integrations.ERATELIMIT, "Too many requests: retry in %d second(s).", after)
}

// clientKey is the rate-limit key of a request without a valid token: the
// client's address.
func (s *Server) clientKey(r *http.Request) string {
	return "client:" + clientAddr(r, s.cfg.TrustedProxies)
}

// clientAddr returns the address of the client that sent a request: the
// address it came from, unless that is a trusted proxy; then the rightmost
// address of X-Forwarded-For that is not a trusted proxy. Each proxy appends
// the address it got the request from, so what is left of the first address
// no trusted proxy wrote is the client's own say and is ignored. An entry
// that is not an address ends the walk at the proxy that passed it on: a
// client cannot choose its key by sending garbage.
func clientAddr(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil || !isTrusted(addr, trusted) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, ok := parseHop(hops[i])
		if !ok {
			break
		}
		addr = hop
		if !isTrusted(hop, trusted) {
			break
		}
	}
	return addr.String()
}

func isTrusted(addr netip.Addr, trusted []netip.Prefix) bool {
	addr = addr.Unmap()
	for _, p := range trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// parseHop parses an address of X-Forwarded-For, with or without a port.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// ParseTrustedProxies parses a comma-separated list of networks (CIDRs such
// as 10.0.0.0/8 or fd00::/8, or single addresses) for Config.TrustedProxies.
func ParseTrustedProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("trusted proxies: %q is neither a network (CIDR) nor an address", s)
			}
			a = a.Unmap()
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Is4In6() {
			return nil, fmt.Errorf("trusted proxies: %q: write IPv4 networks as such", s)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
