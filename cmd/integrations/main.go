// Command integrations serves GitBook's integrations API v1.
//
//	integrations serve [flags]       start the server
//	integrations seed [flags] FILE   load a fixture file (YAML or JSON)
//	integrations bench [flags]       benchmark the server (see package bench)
//	integrations bench compare A B   compare the results of two runs
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"integrations"
	"integrations/api"
	"integrations/bench"
	"integrations/delivery"
	"integrations/fixture"
	"integrations/postgres"
	"integrations/service"
	"integrations/sqlite"
)

const usage = `Usage:
  integrations serve [flags]        start the API server
  integrations seed [flags] FILE    load a fixture file (YAML or JSON) into the database
  integrations bench [flags]        seed a fresh database, run the server and measure it
  integrations bench compare OLD.json NEW.json
                                    compare the results of two runs (bench --json)

Run "integrations <command> -h" for the flags of a command. Every flag can
also be set with the environment variable named in its description.
`

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "integrations:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stderr)
	case "seed":
		return seed(ctx, args[1:], stderr)
	case "bench":
		// The benchmark runs this very binary as the server and the baseline.
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		return bench.Main(ctx, exe, args[1:], os.Stdout, stderr)
	case "bench-baseline": // hidden: the benchmark's baseline server
		return bench.ServeBaseline(ctx, args[1:], stderr)
	case "bench-write-baseline": // hidden: the benchmark's baseline of the writes
		return bench.ServeWriteBaseline(ctx, args[1:], stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stderr, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// env returns the value of an environment variable, or def.
func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// database holds the flags that choose and tune the database.
type database struct {
	url string
	pg  postgres.Options
}

func databaseFlags(fs *flag.FlagSet) *database {
	d := &database{}
	fs.StringVar(&d.url, "database", env("INTEGRATIONS_DATABASE", "sqlite:integrations.db"),
		"database URL: sqlite:PATH[?synchronous=full] or postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=...] ($INTEGRATIONS_DATABASE)")
	fs.IntVar(&d.pg.MaxConns, "db-max-conns", int(envInt("INTEGRATIONS_DB_MAX_CONNS", 0)),
		fmt.Sprintf("PostgreSQL: most connections this process opens, at least 2; 0 for %d ($INTEGRATIONS_DB_MAX_CONNS)", postgres.DefaultMaxConns))
	fs.DurationVar(&d.pg.StatementTimeout, "db-statement-timeout", envDuration("INTEGRATIONS_DB_STATEMENT_TIMEOUT", 0),
		fmt.Sprintf("PostgreSQL: longest a statement may run; 0 for the URL's statement_timeout (ms) or %v ($INTEGRATIONS_DB_STATEMENT_TIMEOUT)", postgres.DefaultStatementTimeout))
	fs.DurationVar(&d.pg.ConnectTimeout, "db-connect-timeout", envDuration("INTEGRATIONS_DB_CONNECT_TIMEOUT", 0),
		fmt.Sprintf("PostgreSQL: longest opening a connection may take; 0 for the URL's connect_timeout (s) or %v ($INTEGRATIONS_DB_CONNECT_TIMEOUT)", postgres.DefaultConnectTimeout))
	return d
}

// openStore opens the store named by the database URL.
func openStore(ctx context.Context, d *database) (integrations.Store, error) {
	switch {
	case strings.HasPrefix(d.url, "sqlite:"):
		return sqlite.Open(ctx, d.url)
	case strings.HasPrefix(d.url, "postgres://"), strings.HasPrefix(d.url, "postgresql://"):
		return postgres.Open(ctx, d.url, d.pg)
	}
	return nil, fmt.Errorf("unsupported database URL %q: expected sqlite:PATH or postgres://...", redact(d.url))
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	args, pprofAddr := cutFlag(args, "pprof-addr")
	addr := fs.String("addr", env("INTEGRATIONS_ADDR", "127.0.0.1:8080"), "address to listen on ($INTEGRATIONS_ADDR)")
	db := databaseFlags(fs)
	publicURL := fs.String("public-url", env("INTEGRATIONS_PUBLIC_URL", ""), "base of the absolute URLs in responses; default http://ADDR ($INTEGRATIONS_PUBLIC_URL)")
	adminToken := fs.String("admin-token", env("INTEGRATIONS_ADMIN_TOKEN", ""), "API token of the staff user, its only one (a new value revokes the old); created and printed once if empty on a new database ($INTEGRATIONS_ADMIN_TOKEN)")
	maxBody := fs.Int64("max-body-bytes", envInt("INTEGRATIONS_MAX_BODY_BYTES", api.DefaultMaxBodyBytes), "largest request body accepted ($INTEGRATIONS_MAX_BODY_BYTES)")
	cacheBytes := fs.Int64("cache-bytes", envInt("INTEGRATIONS_CACHE_BYTES", api.DefaultCacheBytes), "memory for cached answers; -1 turns the cache off ($INTEGRATIONS_CACHE_BYTES)")
	memoryLimit := fs.Int64("memory-limit", envInt("INTEGRATIONS_MEMORY_LIMIT", 0), "soft limit of the process's memory, in bytes, near which the garbage collector works harder; 0 for the answer cache plus 128 MiB (or GOMEMLIMIT when set), -1 for none ($INTEGRATIONS_MEMORY_LIMIT)")
	gcPercent := fs.Int("gc-percent", int(envInt("INTEGRATIONS_GC_PERCENT", 0)), "how much the heap grows, in percent of what it holds, before the garbage collector runs; 0 for 400 (or GOGC when set), -1 to run it only near --memory-limit ($INTEGRATIONS_GC_PERCENT)")
	rateLimit := fs.Float64("rate-limit", envFloat("INTEGRATIONS_RATE_LIMIT", api.DefaultRateLimit), "requests per second per token; -1 turns rate limiting off ($INTEGRATIONS_RATE_LIMIT)")
	rateBurst := fs.Int("rate-burst", int(envInt("INTEGRATIONS_RATE_BURST", api.DefaultRateBurst)), "requests a token may send at once before the rate applies ($INTEGRATIONS_RATE_BURST)")
	var hs http.Server // the HTTP server, with its limits from the flags
	fs.DurationVar(&hs.ReadHeaderTimeout, "read-header-timeout", envDuration("INTEGRATIONS_READ_HEADER_TIMEOUT", 10*time.Second), "longest a client may take to send a request's headers ($INTEGRATIONS_READ_HEADER_TIMEOUT)")
	fs.DurationVar(&hs.ReadTimeout, "read-timeout", envDuration("INTEGRATIONS_READ_TIMEOUT", 60*time.Second), "longest a client may take to send a whole request, body included ($INTEGRATIONS_READ_TIMEOUT)")
	fs.DurationVar(&hs.WriteTimeout, "write-timeout", envDuration("INTEGRATIONS_WRITE_TIMEOUT", 60*time.Second), "longest from the end of a request's headers to the end of its answer ($INTEGRATIONS_WRITE_TIMEOUT)")
	fs.DurationVar(&hs.IdleTimeout, "idle-timeout", envDuration("INTEGRATIONS_IDLE_TIMEOUT", 120*time.Second), "longest a keep-alive connection waits for its next request ($INTEGRATIONS_IDLE_TIMEOUT)")
	fs.IntVar(&hs.MaxHeaderBytes, "max-header-bytes", int(envInt("INTEGRATIONS_MAX_HEADER_BYTES", 64<<10)), "largest request headers accepted; larger get 431 ($INTEGRATIONS_MAX_HEADER_BYTES)")
	trustedProxies := fs.String("trusted-proxies", env("INTEGRATIONS_TRUSTED_PROXIES", ""), "comma-separated networks (CIDRs) of the proxies in front of the server: for their requests the client's address is taken from X-Forwarded-For; none by default ($INTEGRATIONS_TRUSTED_PROXIES)")
	logLevel := fs.String("log-level", env("INTEGRATIONS_LOG_LEVEL", "info"), "debug, info, warn or error ($INTEGRATIONS_LOG_LEVEL)")
	var dc delivery.Config
	fs.IntVar(&dc.Workers, "delivery-workers", int(envInt("INTEGRATIONS_DELIVERY_WORKERS", 8)), "event deliveries in flight at once ($INTEGRATIONS_DELIVERY_WORKERS)")
	fs.IntVar(&dc.MaxAttempts, "delivery-max-attempts", int(envInt("INTEGRATIONS_DELIVERY_MAX_ATTEMPTS", 8)), "attempts before an event fails ($INTEGRATIONS_DELIVERY_MAX_ATTEMPTS)")
	fs.DurationVar(&dc.Timeout, "delivery-timeout", envDuration("INTEGRATIONS_DELIVERY_TIMEOUT", 10*time.Second), "timeout of one delivery attempt ($INTEGRATIONS_DELIVERY_TIMEOUT)")
	fs.DurationVar(&dc.Lease, "delivery-lease", envDuration("INTEGRATIONS_DELIVERY_LEASE", integrations.EventLeaseDuration), "how long a replica holds an event it is delivering; after a crash, events in flight wait that long; must exceed --delivery-timeout ($INTEGRATIONS_DELIVERY_LEASE)")
	fs.DurationVar(&dc.BaseBackoff, "delivery-backoff", envDuration("INTEGRATIONS_DELIVERY_BACKOFF", time.Second), "delay before the first retry, doubled at each retry ($INTEGRATIONS_DELIVERY_BACKOFF)")
	fs.BoolVar(&dc.BlockPrivateTargets, "delivery-block-private", env("INTEGRATIONS_DELIVERY_BLOCK_PRIVATE", "") == "true", "refuse event receivers on loopback and private addresses ($INTEGRATIONS_DELIVERY_BLOCK_PRIVATE=true)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// net/http reads zero as "no limit" (or as another limit): refuse it.
	for _, l := range []struct {
		name string
		set  bool
	}{
		{"read-header-timeout", hs.ReadHeaderTimeout > 0}, {"read-timeout", hs.ReadTimeout > 0},
		{"write-timeout", hs.WriteTimeout > 0}, {"idle-timeout", hs.IdleTimeout > 0}, {"max-header-bytes", hs.MaxHeaderBytes > 0},
	} {
		if !l.set {
			return fmt.Errorf("--%s must be positive", l.name)
		}
	}
	proxies, err := api.ParseTrustedProxies(*trustedProxies)
	if err != nil {
		return err
	}
	if dc.Lease <= dc.Timeout {
		return fmt.Errorf("--delivery-lease (%v) must be longer than --delivery-timeout (%v): a lease that runs out during an attempt lets another replica send the event again", dc.Lease, dc.Timeout)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("log level: %w", err)
	}
	setMemoryLimit(*memoryLimit, *cacheBytes)
	setGCPercent(*gcPercent)
	logs := newLogWriter(stderr, 100*time.Millisecond)
	defer logs.Close()
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: level}))
	var accessLog io.Writer // the request lines, as logger would write them
	if level <= slog.LevelInfo {
		accessLog = logs
	}
	if pprofAddr != "" {
		go servePprof(pprofAddr, logger)
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	store, err := openStore(ctx, db)
	if err != nil {
		return err
	}
	defer store.Close()
	svc, err := service.New(ctx, store)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	created, err := svc.EnsureAdmin(ctx, *adminToken)
	if err != nil {
		return fmt.Errorf("admin token: %w", err)
	}
	if created != "" {
		fmt.Fprintf(stderr, "Created the admin user. Its API token, shown only this once:\n\n    %s\n\nPass it as --admin-token (or INTEGRATIONS_ADMIN_TOKEN) to keep using it.\n\n", created)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	if *publicURL == "" {
		*publicURL = "http://" + ln.Addr().String()
	}
	handler := api.New(svc, api.Config{PublicURL: *publicURL, MaxBodyBytes: *maxBody, CacheBytes: *cacheBytes,
		RateLimit: *rateLimit, RateBurst: *rateBurst, TrustedProxies: proxies, Logger: logger, AccessLog: accessLog})
	dc.Logger = logger
	dispatcher := delivery.New(svc, handler, dc)
	svc.OnEvent(dispatcher.Wake)
	deliveryCtx, stopDelivery := context.WithCancel(context.Background())
	deliveryDone := make(chan struct{})
	go func() { dispatcher.Run(deliveryCtx); close(deliveryDone) }()
	defer func() { stopDelivery(); <-deliveryDone }()
	srv := &hs
	srv.Handler = handler
	srv.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	logger.Info("listening", "addr", ln.Addr().String(), "public_url", *publicURL, "database", redact(db.url))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("shutting down: finishing event deliveries in flight")
	stopDelivery()
	<-deliveryDone
	return nil
}

// cutFlag removes a flag that usage does not show (--name VALUE or
// --name=VALUE) from args, and returns its value.
func cutFlag(args []string, name string) (rest []string, value string) {
	for n := 0; n < len(args); n++ {
		a := strings.TrimPrefix(strings.TrimPrefix(args[n], "-"), "-")
		switch {
		case a == name && n+1 < len(args):
			value = args[n+1]
			n++
		case strings.HasPrefix(a, name+"="):
			value = strings.TrimPrefix(a, name+"=")
		default:
			rest = append(rest, args[n])
		}
	}
	return rest, value
}

// setMemoryLimit sets the soft memory limit of the Go runtime: the garbage
// collector runs more often as the heap nears it, instead of letting the
// heap grow to five times what it holds (setGCPercent; most of what it
// holds is the answer cache), so that the process stays near what it needs.
// It never refuses memory.
func setMemoryLimit(limit, cacheBytes int64) {
	switch {
	case limit < 0:
		return
	case limit == 0 && os.Getenv("GOMEMLIMIT") != "":
		return // the runtime took it from the environment
	case limit == 0:
		limit = max(cacheBytes, 0) + 128<<20
		if cacheBytes == 0 {
			limit += api.DefaultCacheBytes
		}
	}
	debug.SetMemoryLimit(limit)
}

// defaultGCPercent is the server's GOGC: the heap may grow to five times
// what it holds before the garbage collector runs, rather than twice (Go's
// default), since the memory limit bounds it anyway. A server that writes
// holds little and allocates much for each request: under the benchmark's
// writes, Go's default ran a collection every tenth of a second, about a
// tenth of the server's CPU.
const defaultGCPercent = 400

// setGCPercent sets how much the heap grows before the garbage collector
// runs (debug.SetGCPercent): percent when above zero, the default or GOGC
// when 0, never but near the memory limit when -1.
func setGCPercent(percent int) {
	switch {
	case percent == 0 && os.Getenv("GOGC") != "":
		return // the runtime took it from the environment
	case percent == 0:
		percent = defaultGCPercent
	case percent < 0:
		percent = -1
	}
	debug.SetGCPercent(percent)
}

// servePprof serves net/http/pprof on addr, for the benchmark's profiles
// (the hidden --pprof-addr of serve).
func servePprof(addr string, logger *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	logger.Warn("serving pprof", "addr", addr)
	if err := http.ListenAndServe(addr, mux); err != nil {
		logger.Error("pprof", "error", err)
	}
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func envFloat(name string, def float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil {
		return v
	}
	return def
}

func envInt(name string, def int64) int64 {
	if v, err := strconv.ParseInt(os.Getenv(name), 10, 64); err == nil {
		return v
	}
	return def
}

// redact hides the password of a database URL for the logs.
func redact(url string) string {
	if at := strings.LastIndex(url, "@"); at > 0 {
		if scheme := strings.Index(url, "://"); scheme > 0 && scheme < at {
			if colon := strings.Index(url[scheme+3:at], ":"); colon >= 0 {
				return url[:scheme+3+colon] + ":***" + url[at:]
			}
		}
	}
	return url
}

func seed(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := databaseFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("seed needs exactly one fixture file")
	}
	data, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	f, err := fixture.Parse(data)
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	store, err := openStore(ctx, db)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := fixture.Apply(ctx, store, f); err != nil {
		return fmt.Errorf("%s: %w (nothing was changed)", fs.Arg(0), err)
	}
	fmt.Fprintf(stderr, "Seeded %s: %d users, %d organizations, %d spaces, %d integrations, %d installations.\n",
		fs.Arg(0), len(f.Users), len(f.Organizations), len(f.Spaces), len(f.Integrations), len(f.Installations))
	return nil
}

// logWriter buffers log lines and writes them out every interval (and when
// the buffer fills, and on Close), so that the log line of a request costs
// no system call of its own.
type logWriter struct {
	mu   sync.Mutex
	buf  *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

func newLogWriter(w io.Writer, every time.Duration) *logWriter {
	l := &logWriter{buf: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				l.flush()
			case <-l.stop:
				return
			}
		}
	}()
	return l
}

func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logWriter) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Flush()
}

// Close writes out what is buffered and stops the writer.
func (l *logWriter) Close() error {
	close(l.stop)
	<-l.done
	l.flush()
	return nil
}
