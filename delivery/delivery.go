// Package delivery sends integration events from the outbox to their
// receivers: a development tunnel, or the publisher's event URL. Delivery is
// at least once: retried with exponential backoff and jitter on network
// errors, timeouts, 408, 429 and 5xx, final on other answers (a redirect to
// another host included), and given up after a bounded number of attempts.
// Every attempt is recorded.
package delivery

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"syscall"
	"time"

	"integrations"
	"integrations/service"
)

// Config configures a Dispatcher. Zero values take the defaults.
type Config struct {
	Workers     int           // deliveries in flight at once (default 8)
	MaxAttempts int           // attempts before an event fails (default 8)
	BaseBackoff time.Duration // delay before the first retry (default 1s); doubles each time
	MaxBackoff  time.Duration // longest delay between attempts (default 10m)
	Timeout     time.Duration // of one attempt, response included (default 10s)
	// Lease is how long a worker holds an event it took (default
	// integrations.EventLeaseDuration). After a crash, the events that were
	// in flight wait that long for another worker. Keep it well above
	// Timeout: a lease that runs out during an attempt lets another worker
	// send the event a second time.
	Lease time.Duration
	// MaxResponseBytes bounds what is read of a receiver's answer (default 64 KiB).
	MaxResponseBytes int64
	// BlockPrivateTargets refuses receivers on loopback, private and
	// link-local addresses. Off by default: local development sends events
	// to localhost.
	BlockPrivateTargets bool
	// PollInterval is how often the outbox is checked when nothing wakes the
	// dispatcher: for events of other replicas and for scheduled tasks (default 250ms).
	PollInterval time.Duration
	Logger       *slog.Logger
}

func (c *Config) defaults() {
	if c.Workers <= 0 {
		c.Workers = 8
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 8
	}
	if c.BaseBackoff <= 0 {
		c.BaseBackoff = time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 10 * time.Minute
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Lease <= 0 {
		c.Lease = integrations.EventLeaseDuration
	}
	if c.MaxResponseBytes <= 0 {
		c.MaxResponseBytes = 64 << 10
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 250 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Encoder encodes the runtime's environment of a job (the spec's
// IntegrationEnvironment); the api package implements it.
type Encoder interface {
	Environment(job *service.Job) ([]byte, error)
}

// Dispatcher delivers events in background workers.
type Dispatcher struct {
	svc    *service.Service
	enc    Encoder
	cfg    Config
	client *http.Client
	id     string // this dispatcher's name in event leases
	wake   chan struct{}
}

// New returns a dispatcher; Run starts it.
func New(svc *service.Service, enc Encoder, cfg Config) *Dispatcher {
	cfg.defaults()
	d := &Dispatcher{svc: svc, enc: enc, cfg: cfg, id: "worker-" + integrations.NewID(), wake: make(chan struct{}, 1)}
	dialer := &net.Dialer{Timeout: cfg.Timeout}
	if cfg.BlockPrivateTargets {
		dialer.Control = refusePrivate
	}
	d.client = &http.Client{
		Timeout: cfg.Timeout,
		Transport: &http.Transport{
			DialContext:           dialer.DialContext,
			MaxIdleConnsPerHost:   cfg.Workers,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   cfg.Timeout,
			ResponseHeaderTimeout: cfg.Timeout,
		},
		// Follow redirects only on the same host: a receiver may not send
		// the server, or the tokens in an event, somewhere else.
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return &refusedRedirect{"too many redirects (3 on the same host)"}
			}
			if req.URL.Host != via[0].URL.Host || req.URL.Scheme != via[0].URL.Scheme {
				return &refusedRedirect{fmt.Sprintf("redirect to another host (%s://%s) refused", req.URL.Scheme, req.URL.Host)}
			}
			return nil
		},
	}
	return d
}

// refusedRedirect is a redirect that the client does not follow. It is final:
// the receiver would answer the same way again.
type refusedRedirect struct{ reason string }

func (r *refusedRedirect) Error() string { return r.reason }

// Wake tells the dispatcher that new events may be due, so that it looks now
// instead of at its next poll.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers events until ctx ends, then waits for the deliveries in
// flight to finish (each bounded by the attempt timeout) and returns.
func (d *Dispatcher) Run(ctx context.Context) {
	sem := make(chan struct{}, d.cfg.Workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	cleanup := time.NewTicker(time.Minute)
	defer cleanup.Stop()
	for {
		// Claim only what free workers can take, so that no lease runs out
		// while its event waits for a worker.
		free := d.cfg.Workers - len(sem)
		var jobs []*service.Job
		if free > 0 {
			var err error
			jobs, err = d.svc.ClaimJobs(ctx, d.id, free, d.cfg.Lease)
			if err != nil && ctx.Err() == nil {
				d.cfg.Logger.Error("claim events", "error", err)
			}
		}
		for _, job := range jobs {
			if job.Settled {
				d.logAttempt(job.Event, job.Event.Attempts+1, integrations.EventFailed, "", 0, "not delivered: "+job.Why, 0)
				continue
			}
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done(); d.Wake() }()
				// A delivery started before shutdown runs to its end: its
				// outcome must be recorded, or it would be sent again.
				d.deliver(context.WithoutCancel(ctx), job)
			}()
		}
		if len(jobs) == free && free > 0 {
			continue // there may be more
		}
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		case <-time.After(d.cfg.PollInterval):
		case <-cleanup.C:
			if _, err := d.svc.DeleteExpiredTokens(ctx); err != nil && ctx.Err() == nil {
				d.cfg.Logger.Error("delete expired tokens", "error", err)
			}
		}
	}
}

// outcome classifies the answer to an attempt.
type outcome int

const (
	delivered outcome = iota // 2xx
	final                    // refused for good: give up now
	retry                    // try again later
)

// deliver makes one attempt and records it.
func (d *Dispatcher) deliver(ctx context.Context, job *service.Job) {
	e := job.Event
	start := time.Now()
	attempt := &integrations.EventAttempt{EventID: e.ID, Attempt: e.Attempts + 1, At: start, Target: job.URL}
	var result outcome
	result, attempt.StatusCode, attempt.Error = d.send(ctx, job)
	attempt.Duration = time.Since(start)
	attempt.Error = integrations.TruncateAttemptError(attempt.Error)

	next := *e
	next.Attempts++
	switch {
	case result == delivered:
		next.Status = integrations.EventSuccess
	case result == retry && next.Attempts < d.cfg.MaxAttempts:
		next.Status = integrations.EventPending
		next.NextAttemptAt = time.Now().Add(d.backoff(next.Attempts))
	default:
		next.Status = integrations.EventFailed
	}
	held, err := d.svc.RecordAttempt(ctx, &next, attempt, d.id)
	if err != nil {
		d.cfg.Logger.Error("record event attempt", "event", e.ID, "error", err)
		return
	}
	if !held {
		d.cfg.Logger.Warn("event lease lost during delivery; another worker owns it now", "event", e.ID)
	}
	d.logAttempt(e, attempt.Attempt, next.Status, attempt.Target, attempt.StatusCode, attempt.Error, attempt.Duration)
}

// logAttempt logs one line per attempt.
func (d *Dispatcher) logAttempt(e *integrations.Event, attempt int, status integrations.EventStatus, target string, code int, errText string, took time.Duration) {
	d.cfg.Logger.Info("event delivery", "event", e.ID, "type", e.Type, "attempt", attempt, "status", status,
		"target", redactURL(target), "http_status", code, "error", errText, "duration_ms", float64(took.Microseconds())/1000)
}

// backoff returns the delay before attempt n+1: exponential, capped, with
// full jitter over its upper half so that retries of many events spread out.
func (d *Dispatcher) backoff(n int) time.Duration {
	delay := d.cfg.BaseBackoff << min(n-1, 30)
	if delay <= 0 || delay > d.cfg.MaxBackoff {
		delay = d.cfg.MaxBackoff
	}
	half := int64(delay / 2)
	j, _ := rand.Int(rand.Reader, big.NewInt(half+1))
	return time.Duration(half + j.Int64())
}

// send posts the event and classifies the answer.
func (d *Dispatcher) send(ctx context.Context, job *service.Job) (outcome, int, string) {
	body, contentType, err := d.encode(job)
	if err != nil {
		return final, 0, "encoding the event failed: " + err.Error()
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, job.URL, bytes.NewReader(body))
	if err != nil {
		return final, 0, "bad target URL: " + err.Error()
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "integrations-server (GitBook API compatible)")
	req.Header.Set("X-GitBook-Event-Id", job.Event.ID)
	req.Header.Set("X-GitBook-Event-Type", job.Event.Type)
	if job.Format == integrations.FormatWebhook {
		req.Header.Set("X-GitBook-Signature", Sign(job.SigningSecrets.Integration, time.Now(), body))
	}
	res, err := d.client.Do(req)
	var refused *refusedRedirect
	if errors.As(err, &refused) {
		return final, 0, refused.reason + ": the receiver answered with a redirect that is not followed; not retried"
	} else if err != nil {
		return retry, 0, "request failed: " + err.Error()
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(res.Body, d.cfg.MaxResponseBytes))
	switch code := res.StatusCode; {
	case code >= 200 && code < 300:
		return delivered, code, ""
	case code == http.StatusNotAcceptable:
		return final, code, "the integration does not handle " + job.Event.Type + " events (406)" + excerpt(answer)
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return retry, code, res.Status + excerpt(answer)
	default:
		return final, code, res.Status + excerpt(answer)
	}
}

func excerpt(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > 200 {
		b = append(b[:200:200], "..."...)
	}
	return ": " + string(b)
}

// encode builds the request body: multipart with the event and the runtime's
// environment, as GitBook's dispatcher sends it; or the event alone as JSON
// for webhooks.
func (d *Dispatcher) encode(job *service.Job) ([]byte, string, error) {
	if job.Format == integrations.FormatWebhook {
		return job.Event.Payload, "application/json", nil
	}
	env, err := d.enc.Environment(job)
	if err != nil {
		return nil, "", err
	}
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	if err := w.WriteField("event", string(job.Event.Payload)); err != nil {
		return nil, "", err
	}
	if err := w.WriteField("environment", string(env)); err != nil {
		return nil, "", err
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	return b.Bytes(), w.FormDataContentType(), nil
}

// Sign returns the X-GitBook-Signature header of a webhook body sent at t:
// t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "."))
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks an X-GitBook-Signature header against a body, refusing
// signatures older than maxAge: what a receiver does.
func Verify(secret, header string, body []byte, now time.Time, maxAge time.Duration) error {
	var ts, sig string
	for _, part := range bytes.Split([]byte(header), []byte(",")) {
		k, v, _ := bytes.Cut(bytes.TrimSpace(part), []byte("="))
		switch string(k) {
		case "t":
			ts = string(v)
		case "v1":
			sig = string(v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return errors.New("malformed signature header")
	}
	if age := now.Sub(time.Unix(sec, 0)); age > maxAge || age < -maxAge {
		return errors.New("signature too old")
	}
	want := Sign(secret, time.Unix(sec, 0), body)
	if !hmac.Equal([]byte(want), []byte("t="+ts+",v1="+sig)) {
		return errors.New("signature mismatch")
	}
	return nil
}

// refusePrivate refuses connections to loopback, private, link-local and
// unspecified addresses. It runs after DNS resolution, so a name that
// resolves to such an address is refused too.
func refusePrivate(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsUnspecified() || ip.IsMulticast() {
		return fmt.Errorf("target address %s is not public; private targets are refused", host)
	}
	return nil
}

// redactURL drops the query and credentials of a URL for the logs.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || s == "" {
		return s
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}
