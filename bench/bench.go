// Package bench is the benchmark of the server: it seeds a fresh database
// at a chosen scale through the store's bulk path, starts the real server
// and a baseline (a minimal net/http server that answers the same bytes from
// memory, the physical limit of HTTP on the machine) as processes of their
// own, drives both with the same load, and reports requests per second,
// latencies, ratios to the baseline, the server's peak memory and the rate
// of event delivery, as a table and as JSON.
//
// Run it with `integrations bench` (see Main).
package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"integrations/postgres"
	"integrations/sqlite"
	"integrations/sqlstore"
)

// Config configures a run.
type Config struct {
	// Binary is the integrations binary, run as `serve`, `bench-baseline`
	// and, on PostgreSQL, `bench-write-baseline`.
	Binary string
	// Database is "" for a SQLite file in a temporary directory, or the URL
	// of a PostgreSQL server (postgres://...) on which a fresh database is
	// created, and dropped at the end.
	Database    string
	Scale       Scale
	Duration    time.Duration // of each operation's measured load
	Connections int
	// Requests is the number of distinct requests of each read operation
	// (spaces and callers drawn at random); Events the number of events of
	// the delivery measure.
	Requests, Events int
	// ServerLogLevel is the server's --log-level.
	ServerLogLevel string
	// ServerArgs are more flags of serve, such as --cache-bytes -1.
	ServerArgs []string
	// ProfileDir, when set, receives CPU profiles of the server under each
	// operation's load, and a heap profile at the end.
	ProfileDir string
	// Only, when not empty, names the operations to run ("event-delivery"
	// for the delivery measure); the others are skipped.
	Only []string
	// Command is the command line, for the results.
	Command string
	// Out receives the results table; Log the progress.
	Out, Log io.Writer
}

// Main is the command `integrations bench`: binary is the integrations
// binary itself. `integrations bench compare OLD.json NEW.json` compares two
// runs' results instead of running.
func Main(ctx context.Context, binary string, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "compare" {
		return compareMain(args[1:], stdout)
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	database := fs.String("database", "", "PostgreSQL server to run on (postgres://...; a fresh database is created and dropped); default: SQLite in a temporary directory")
	scale := fs.String("scale", "default", "size of the seeded database: tiny, small (10,000 space installations), default (100,000) or large (1,000,000)")
	duration := fs.Duration("duration", 10*time.Second, "measured load per operation")
	connections := fs.Int("connections", 64, "concurrent keep-alive connections")
	jsonPath := fs.String("json", "", "also write the results as JSON to this file")
	requests := fs.Int("requests", 0, "distinct requests per read operation; 0 for the scale's default")
	events := fs.Int("events", 0, "events of the delivery measure; 0 for the scale's default")
	logLevel := fs.String("server-log-level", "info", "the server's --log-level (info logs every request, as serve does by default)")
	serverArgs := fs.String("server-args", "", "more flags of serve, separated by spaces (e.g. \"--cache-bytes -1\")")
	profiles := fs.String("pprof", "", "directory for CPU profiles of the server under each operation, and a heap profile")
	only := fs.String("only", "", "run only these operations, comma-separated (e.g. enable-disable-pair,event-delivery)")
	comparePath := fs.String("compare", "", "after the run, compare it with the results of another (a file that --json wrote)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	sc, ok := Scales[*scale]
	if !ok {
		return fmt.Errorf("unknown scale %q: tiny, small, default or large", *scale)
	}
	if *duration <= 0 || *connections <= 0 || *requests < 0 || *events < 0 {
		return errors.New("duration and connections must be positive, requests and events not negative")
	}
	var old *Results
	if *comparePath != "" {
		var err error
		if old, err = ReadResults(*comparePath); err != nil {
			return err
		}
	}
	cfg := Config{
		Binary: binary, Database: *database, Scale: sc, Duration: *duration, Connections: *connections,
		Requests: *requests, Events: *events, ServerLogLevel: *logLevel, ServerArgs: strings.Fields(*serverArgs), ProfileDir: *profiles,
		Only:    splitList(*only),
		Command: strings.Join(append([]string{"integrations", "bench"}, args...), " "),
		Out:     stdout, Log: stderr,
	}
	// Interrupted, the run stops its load and its servers before it exits.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := Run(ctx, cfg)
	if err != nil {
		return err
	}
	if *jsonPath != "" {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*jsonPath, append(b, '\n'), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "results written to %s\n", *jsonPath)
	}
	if old != nil {
		fmt.Fprintf(stdout, "\ncompared with %s:\n", *comparePath)
		Compare(stdout, old, res)
	}
	return nil
}

// Results are the figures of a run.
type Results struct {
	Date        time.Time   `json:"date"`
	Command     string      `json:"command"`
	Machine     Machine     `json:"machine"`
	Store       string      `json:"store"`
	Scale       Scale       `json:"scale"`
	Rows        int         `json:"rows"`
	Duration    string      `json:"duration"`
	Connections int         `json:"connections"`
	Requests    int         `json:"requestsPerReadOperation"`
	LogLevel    string      `json:"serverLogLevel"`
	ServerArgs  []string    `json:"serverArgs,omitempty"`
	Seed        Seed        `json:"seed"`
	Operations  []Operation `json:"operations"`
	Events      Events      `json:"events"`
	// OthersCPUShare is the share of the machine's CPU time that processes
	// other than the benchmark, the server and the baseline used while the
	// servers ran (PostgreSQL's included): the figures are only as good as
	// it is small.
	OthersCPUShare float64 `json:"othersCpuShare"`
	// ServerPeakRSS and BaselinePeakRSS are VmHWM at the end, in bytes.
	ServerPeakRSS   int64 `json:"serverPeakRssBytes"`
	BaselinePeakRSS int64 `json:"baselinePeakRssBytes"`
}

// Machine describes where the benchmark ran.
type Machine struct {
	CPU        string `json:"cpu"`
	CPUs       int    `json:"cpus"`
	MemoryMB   int64  `json:"memoryMB"`
	OS         string `json:"os"`
	Kernel     string `json:"kernel,omitempty"`
	Go         string `json:"go"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	// LoadBefore and LoadAfter are the 1-minute load averages when the run
	// began and ended: other work on the machine skews the figures.
	LoadBefore float64 `json:"loadAverageBefore"`
	LoadAfter  float64 `json:"loadAverageAfter"`
}

// Seed is the timing of the seeding.
type Seed struct {
	GenerateSeconds float64 `json:"generateSeconds"`
	LoadSeconds     float64 `json:"loadSeconds"`
	RowsPerSecond   float64 `json:"rowsPerSecond"`
}

// Operation is the figures of one operation.
type Operation struct {
	Name string `json:"name"`
	Kind string `json:"kind"` // read or write
	// Unit is what Rate counts per second: requests, pairs (an
	// enable-then-disable pair is two requests) or tokens.
	Unit string `json:"unit"`
	// Distinct is the number of distinct requests of the load, and
	// ResponseBytes the mean size of their answers' bodies (reads).
	Distinct      int     `json:"distinctRequests,omitempty"`
	ResponseBytes int     `json:"responseBytes,omitempty"`
	Server        figures `json:"server"`
	// Baseline, Ratio (of requests/s) and P99Ratio are set for reads, and
	// for the pairs on PostgreSQL, whose baseline is PostgreSQL alone: the
	// same transactions without the server (see measureCeiling; its CPU is
	// PostgreSQL's, and CPURatio stays unset).
	Baseline *figures `json:"baseline,omitempty"`
	Ratio    float64  `json:"ratio,omitempty"`
	P99Ratio float64  `json:"p99Ratio,omitempty"`
	// WriteBaseline and WriteRatio (of pairs/s) are set for the pairs on
	// PostgreSQL: the same transactions behind a minimal net/http server
	// (see ServeWriteBaseline), the most that pairs over HTTP make on the
	// machine with this design.
	WriteBaseline *figures `json:"writeBaseline,omitempty"`
	WriteRatio    float64  `json:"writeRatio,omitempty"`
	// CPURatio is the baseline's CPU time per request over the server's:
	// the ratio of requests/s the two would reach with the machine to
	// themselves, whatever else ran meanwhile.
	CPURatio float64 `json:"cpuRatio,omitempty"`
	// PeakRSS is the server's VmHWM after this operation, in bytes.
	PeakRSS int64 `json:"serverPeakRssBytes"`
}

// Events is the measure of event delivery to a local receiver.
type Events struct {
	Count int `json:"count"`
	// CreateSeconds is how long enabling and disabling took to create them
	// (deliveries were held meanwhile), Seconds from the first to the last
	// delivery, PerSecond the rate of delivery.
	CreateSeconds float64 `json:"createSeconds"`
	Seconds       float64 `json:"seconds"`
	PerSecond     float64 `json:"perSecond"`
	Duplicates    int     `json:"duplicates"`
	CreateErrors  int     `json:"createErrors"`
}

// Run runs the benchmark and prints its table to cfg.Out.
func Run(ctx context.Context, cfg Config) (*Results, error) {
	if cfg.Requests == 0 {
		cfg.Requests = 2000
		if cfg.Scale.Name == "tiny" {
			cfg.Requests = 200
		}
	}
	if cfg.Events == 0 {
		cfg.Events = 2000
		if cfg.Scale.Name == "tiny" {
			cfg.Events = 100
		}
	}
	if cfg.ServerLogLevel == "" {
		cfg.ServerLogLevel = "info"
	}
	res := &Results{
		Date: time.Now().UTC().Truncate(time.Second), Command: cfg.Command, Machine: machine(), Scale: cfg.Scale,
		Duration: cfg.Duration.String(), Connections: cfg.Connections, Requests: cfg.Requests, LogLevel: cfg.ServerLogLevel, ServerArgs: cfg.ServerArgs,
	}
	dir, err := os.MkdirTemp("", "integrations-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if cfg.ProfileDir != "" {
		if err := os.MkdirAll(cfg.ProfileDir, 0o755); err != nil {
			return nil, err
		}
	}

	// Seed.
	fmt.Fprintf(cfg.Log, "generating the %s dataset...\n", cfg.Scale.Name)
	t := time.Now()
	w := generate(cfg.Scale)
	res.Seed.GenerateSeconds = time.Since(t).Seconds()
	res.Rows = w.rows()
	dbURL, store, dbCPU, cleanup, err := freshDatabase(ctx, cfg.Database, dir)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	res.Store = store
	fmt.Fprintf(cfg.Log, "seeding %s (%d rows: %d organizations, %d spaces, %d integrations, %d space installations)\n",
		store, res.Rows, cfg.Scale.Organizations, cfg.Scale.Spaces(), cfg.Scale.Integrations, cfg.Scale.SpaceInstallations())
	if res.Seed.LoadSeconds, err = seed(ctx, dbURL, w, cfg.Log); err != nil {
		return nil, err
	}
	res.Seed.RowsPerSecond = float64(res.Rows) / res.Seed.LoadSeconds
	fmt.Fprintf(cfg.Log, "seeded in %.1fs (%.0f rows/s; generated in %.1fs)\n", res.Seed.LoadSeconds, res.Seed.RowsPerSecond, res.Seed.GenerateSeconds)

	// The real server.
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	// The rate limit stays on, so that its cost is measured, but so high
	// that the load, thousands of requests per second on a few tokens at
	// the tiny scale, never reaches it.
	args := []string{"serve", "--addr", addr, "--database", dbURL, "--admin-token", "gb_api_bench_admin_" + randomHex(16),
		"--log-level", cfg.ServerLogLevel, "--rate-limit", "1000000"}
	args = append(args, cfg.ServerArgs...)
	var pprofAddr string
	if cfg.ProfileDir != "" {
		if pprofAddr, err = freeAddr(); err != nil {
			return nil, err
		}
		args = append(args, "--pprof-addr", pprofAddr)
	}
	server, err := start("server", cfg.Binary, args, addr, filepath.Join(dir, "server.log"))
	if err != nil {
		return nil, err
	}
	defer func() {
		if server != nil {
			server.stop()
		}
	}()
	if err := server.waitReady(ctx, "/readyz"); err != nil {
		return nil, err
	}
	// What the machine does besides this benchmark, from here on.
	busy0, own0, t0 := busySeconds(), cpuSeconds(os.Getpid())+server.cpu()+dbCPU(), time.Now()
	var baselineCPU float64
	var ceilingCPU float64 // of PostgreSQL's backends for the ceiling, whose connections are gone at the end
	var writeBaselineCPU float64

	// The reads, captured for the baseline.
	var reads []operation
	for _, op := range w.readOperations(cfg.Requests) {
		if cfg.runs(op.name) {
			reads = append(reads, op)
		}
	}
	fmt.Fprintf(cfg.Log, "capturing the server's answers to %d requests for the baseline...\n", len(reads)*cfg.Requests)
	var answers []answer
	sizes := map[string]int{}
	for _, op := range reads {
		a, err := capture(ctx, addr, op.requests)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op.name, err)
		}
		total := 0
		for _, x := range a {
			total += len(x.Body)
		}
		sizes[op.name] = total / max(1, len(a))
		answers = append(answers, a...)
	}
	answersPath := filepath.Join(dir, "answers.gob")
	if err := writeAnswers(answersPath, answers); err != nil {
		return nil, err
	}
	answers = nil
	baseAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	baseline, err := start("baseline", cfg.Binary, []string{"bench-baseline", "--addr", baseAddr, "--answers", answersPath}, baseAddr, filepath.Join(dir, "baseline.log"))
	if err != nil {
		return nil, err
	}
	defer func() {
		if baseline != nil {
			baseline.stop()
		}
	}()
	if err := baseline.waitReady(ctx, "/healthz"); err != nil {
		return nil, err
	}

	warmup := min(cfg.Duration/5, 2*time.Second)
	// load returns the load of an operation on a target.
	load := func(target *process, op operation) func(worker, n int) (step, []int) {
		wires := make([][]byte, len(op.requests))
		for n, r := range op.requests {
			wires[n] = r.wire(target.addr)
		}
		return op.steps(wires, cfg.Connections)
	}
	// profile fetches a CPU profile of the server over span after delay,
	// if asked to.
	profile := func(op operation, delay, span time.Duration) func() {
		if pprofAddr == "" {
			return func() {}
		}
		return cpuProfile(ctx, pprofAddr, delay, span, filepath.Join(cfg.ProfileDir, op.name+".cpu.pprof"), cfg.Log)
	}
	// The reads alternate between the server and the baseline in rounds of
	// about two seconds, so that other work on the machine, which comes and
	// goes, weighs on both alike.
	rounds := max(1, int(cfg.Duration/(2*time.Second)))
	slice := cfg.Duration / time.Duration(rounds)
	for _, op := range reads {
		fmt.Fprintf(cfg.Log, "load: %s...\n", op.name)
		onServer, onBaseline := load(server, op), load(baseline, op)
		wait := profile(op, warmup, 2*cfg.Duration)
		var s, b sample
		for r := range rounds {
			first := warmup // the first round warms the caches; later ones only open connections
			if r > 0 {
				first = min(warmup, 100*time.Millisecond)
			}
			s.add(measure(ctx, server, cfg.Connections, first, slice, onServer))
			b.add(measure(ctx, baseline, cfg.Connections, first, slice, onBaseline))
		}
		wait()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		o := Operation{Name: op.name, Kind: "read", Unit: "requests", Distinct: len(op.requests), ResponseBytes: sizes[op.name], Server: s.figures()}
		bf := b.figures()
		o.Baseline = &bf
		if b := o.Baseline; b.Rate > 0 {
			o.Ratio = o.Server.Rate / b.Rate
		}
		if b := o.Baseline; b.P99Ms > 0 {
			o.P99Ratio = o.Server.P99Ms / b.P99Ms
		}
		if b := o.Baseline; o.Server.CPUPerStepUs > 0 {
			o.CPURatio = b.CPUPerStepUs / o.Server.CPUPerStepUs
		}
		o.PeakRSS = server.peakRSS()
		res.Operations = append(res.Operations, o)
	}
	res.BaselinePeakRSS = baseline.peakRSS()
	baselineCPU = baseline.cpu()
	err = baseline.stop()
	baseline = nil
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}

	// The writes.
	// measureWrite runs a write's load on a target and counts, besides the
	// target's CPU, that of the database's backends, of the load generator
	// and of the whole machine.
	measureWrite := func(target *process, op operation, warmup, duration time.Duration) writeSample {
		db, own, busy, t := dbCPU(), cpuSeconds(os.Getpid()), busySeconds(), time.Now()
		s := measure(ctx, target, cfg.Connections, warmup, duration, load(target, op))
		return writeSample{s: s, db: dbCPU() - db, load: cpuSeconds(os.Getpid()) - own, busy: busySeconds() - busy, wall: time.Since(t).Seconds()}
	}
	// write measures a write on the server and, if there is one, on its
	// baseline, alternating between the two in rounds as the reads do.
	write := func(op operation, baseline *process) error {
		if !cfg.runs(op.name) {
			return nil
		}
		rounds, span, also := 1, cfg.Duration, ""
		if baseline != nil {
			rounds, span, also = max(1, int(cfg.Duration/(2*time.Second))), 2*cfg.Duration, ", in turn with its baseline"
		}
		fmt.Fprintf(cfg.Log, "load: %s%s...\n", op.name, also)
		slice := cfg.Duration / time.Duration(rounds)
		// A load that cycles through steps of its own takes one pass over
		// them first: the server's reference cache then holds what each
		// looks up, as the reads' warm-up fills their caches, and the measure
		// is of the steady state.
		if op.cycle > 0 {
			if err := pass(ctx, server.addr, cfg.Connections, op.cycle, load(server, op)); err != nil {
				return fmt.Errorf("%s, warming up: %w", op.name, err)
			}
		}
		wait := profile(op, warmup, span)
		var s, b writeSample
		for r := range rounds {
			first := warmup
			if r > 0 {
				first = min(warmup, 100*time.Millisecond)
			}
			s.add(measureWrite(server, op, first, slice))
			if baseline != nil {
				b.add(measureWrite(baseline, op, first, slice))
			}
		}
		wait()
		o := Operation{Name: op.name, Kind: "write", Unit: op.unit, Server: s.figures(), PeakRSS: server.peakRSS()}
		if baseline != nil {
			f := b.figures()
			o.WriteBaseline = &f
			if f.Rate > 0 {
				o.WriteRatio = o.Server.Rate / f.Rate
			}
		}
		res.Operations = append(res.Operations, o)
		return ctx.Err()
	}
	if err := write(w.tokenOperation(cfg.Requests), nil); err != nil {
		return nil, err
	}
	// The profile of the delivery covers the time it takes at about 500
	// events/s, the rate of the first measures.
	profileEvents := func() func() {
		return profile(operation{name: "event-delivery"}, 0, max(time.Second, time.Duration(cfg.Events)*2*time.Millisecond))
	}
	if cfg.runs("event-delivery") {
		fmt.Fprintf(cfg.Log, "events: delivering %d events to a local receiver...\n", cfg.Events)
		if res.Events, err = measureEvents(ctx, server.addr, w, cfg.Events, profileEvents); err != nil {
			return nil, fmt.Errorf("events: %w", err)
		}
	}
	// On PostgreSQL, the pairs have their baseline: the same transactions
	// behind a minimal HTTP server.
	pairs := w.pairOperation(cfg.Connections)
	var writeBaseline *process
	if cfg.runs(pairs.name) && strings.HasPrefix(store, "postgres") {
		if writeBaseline, err = startWriteBaseline(ctx, cfg, dir, dbURL, server.addr, pairs); err != nil {
			return nil, fmt.Errorf("the write baseline: %w", err)
		}
	}
	err = write(pairs, writeBaseline)
	if writeBaseline != nil {
		// Its backends are gone once it has stopped: their CPU with its own.
		db := dbCPU()
		writeBaselineCPU = writeBaseline.cpu()
		if stopErr := writeBaseline.stop(); stopErr != nil && err == nil {
			err = fmt.Errorf("the write baseline: %w", stopErr)
		}
		writeBaselineCPU += max(0, db-dbCPU())
	}
	if err != nil {
		return nil, err
	}
	if cfg.runs("enable-disable-pair") && strings.HasPrefix(store, "postgres") {
		pair := &res.Operations[len(res.Operations)-1]
		fmt.Fprintf(cfg.Log, "load: %s on PostgreSQL alone, without the server...\n", pair.Name)
		ceiling, cpu, err := measureCeiling(ctx, dbURL, w, w.pairSlots(cfg.Connections), cfg.Connections, warmup, cfg.Duration, dbCPU)
		ceilingCPU = cpu
		if err != nil {
			return nil, fmt.Errorf("the ceiling of the pairs on PostgreSQL: %w", err)
		}
		pair.Baseline = &ceiling
		if ceiling.Rate > 0 {
			pair.Ratio = pair.Server.Rate / ceiling.Rate
		}
		if ceiling.P99Ms > 0 {
			pair.P99Ratio = pair.Server.P99Ms / ceiling.P99Ms
		}
	}

	if pprofAddr != "" {
		if err := fetch(ctx, "http://"+pprofAddr+"/debug/pprof/heap", filepath.Join(cfg.ProfileDir, "heap.pprof")); err != nil {
			fmt.Fprintf(cfg.Log, "heap profile: %v\n", err)
		}
	}
	res.ServerPeakRSS = server.peakRSS()
	// Failed requests are explained in the server's log.
	for _, line := range server.errors(5) {
		fmt.Fprintf(cfg.Log, "server error: %s\n", line)
	}
	if wall := time.Since(t0).Seconds(); wall > 0 {
		others := busySeconds() - busy0 - (cpuSeconds(os.Getpid()) + server.cpu() + baselineCPU + writeBaselineCPU + ceilingCPU + dbCPU() - own0)
		res.OthersCPUShare = max(0, others/(wall*float64(runtime.NumCPU())))
	}
	err = server.stop()
	server = nil
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	res.Machine.LoadAfter = loadAverage()
	printTable(cfg.Out, res)
	return res, nil
}

// runs reports whether the run includes an operation.
func (cfg *Config) runs(name string) bool {
	if len(cfg.Only) == 0 {
		return true
	}
	for _, n := range cfg.Only {
		if n == name {
			return true
		}
	}
	return false
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// writeSample is what a write's load measured on a target: its sample,
// and the CPU seconds that the database's backends, the load generator and
// the whole machine spent meanwhile, over wall seconds.
type writeSample struct {
	s                    sample
	db, load, busy, wall float64
}

// add merges another sample of the same load.
func (w *writeSample) add(o writeSample) {
	w.s.add(o.s)
	w.db, w.load, w.busy, w.wall = w.db+o.db, w.load+o.load, w.busy+o.busy, w.wall+o.wall
}

// figures computes the figures of a write, with the CPU of each part a
// step and the share of the machine left idle.
func (w *writeSample) figures() figures {
	f := w.s.figures()
	if n := float64(w.s.done); n > 0 {
		f.DatabaseCPUPerStepUs = w.db / n * 1e6
		f.LoadCPUPerStepUs = w.load / n * 1e6
		f.MachineCPUPerStepUs = w.busy / n * 1e6
	}
	if w.wall > 0 {
		f.IdleShare = max(0, 1-w.busy/(w.wall*float64(runtime.NumCPU())))
	}
	return f
}

// measure runs a load on a target and takes the CPU time it spent.
func measure(ctx context.Context, target *process, connections int, warmup, duration time.Duration, next func(worker, n int) (step, []int)) sample {
	cpu := target.cpu()
	s := drive(ctx, target.addr, connections, warmup, duration, next)
	s.cpu = target.cpu() - cpu
	return s
}

// freshDatabase returns the URL of a new, empty database, the name of the
// store, a function that returns the CPU time of the database server's
// processes that serve it (PostgreSQL's backends; 0 for SQLite, which runs
// in the server), and a function that removes the database.
func freshDatabase(ctx context.Context, database, dir string) (dbURL, store string, cpu func() float64, cleanup func(), err error) {
	if database == "" || strings.HasPrefix(database, "sqlite:") {
		if database != "" {
			return "", "", nil, nil, errors.New("--database takes a postgres:// URL; SQLite runs in a temporary directory")
		}
		return "sqlite:" + filepath.Join(dir, "bench.db"), "sqlite", func() float64 { return 0 }, func() {}, nil
	}
	u, err := url.Parse(database)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", "", nil, nil, fmt.Errorf("--database must be a postgres:// URL")
	}
	conn, err := pgx.Connect(ctx, database)
	if err != nil {
		return "", "", nil, nil, fmt.Errorf("postgres: %w", err)
	}
	defer conn.Close(ctx)
	var version string
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
		return "", "", nil, nil, fmt.Errorf("postgres: %w", err)
	}
	name := "integrations_bench_" + randomHex(8)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", "", nil, nil, fmt.Errorf("postgres: %w", err)
	}
	// The backends of the database, when PostgreSQL runs on this machine.
	cpu = func() float64 {
		conn, err := pgx.Connect(ctx, database)
		if err != nil {
			return 0
		}
		defer conn.Close(ctx)
		rows, err := conn.Query(ctx, "SELECT pid FROM pg_stat_activity WHERE datname = $1", name)
		if err != nil {
			return 0
		}
		pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			return 0
		}
		var total float64
		for _, pid := range pids {
			total += cpuSeconds(int(pid))
		}
		return total
	}
	cleanup = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if conn, err := pgx.Connect(ctx, database); err == nil {
			conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
			conn.Close(ctx)
		}
	}
	u.Path = "/" + name
	return u.String(), "postgres " + strings.Fields(version)[0], cpu, cleanup, nil
}

// seed loads the dataset through the store's bulk path with a progress bar,
// and returns how long it took in seconds.
func seed(ctx context.Context, dbURL string, w *world, log io.Writer) (float64, error) {
	var db *sqlstore.DB
	var err error
	if strings.HasPrefix(dbURL, "sqlite:") {
		db, err = sqlite.Open(ctx, dbURL)
	} else {
		db, err = postgres.Open(ctx, dbURL, postgres.Options{StatementTimeout: time.Hour})
	}
	if err != nil {
		return 0, err
	}
	defer db.Close()
	bar := &progressBar{w: log, start: time.Now(), live: isTerminal(log)}
	t := time.Now()
	if err := db.Load(ctx, w.dataset, bar.update); err != nil {
		return 0, err
	}
	return time.Since(t).Seconds(), nil
}

// progressBar draws the progress of the seeding on one line per table,
// redrawn as it goes on a terminal, written once when done elsewhere.
type progressBar struct {
	w     io.Writer
	live  bool
	start time.Time
	last  time.Time
}

func (p *progressBar) update(table string, done, total int) {
	now := time.Now()
	if done < total && (!p.live || now.Sub(p.last) < 100*time.Millisecond) {
		return
	}
	p.last = now
	const width = 30
	filled := width
	if total > 0 {
		filled = done * width / total
	}
	pct := 100
	if total > 0 {
		pct = done * 100 / total
	}
	prefix := "\r"
	if !p.live {
		prefix = ""
	}
	fmt.Fprintf(p.w, "%s  %-32s [%s%s] %3d%% %9d/%-9d %6.1fs", prefix, table, strings.Repeat("#", filled), strings.Repeat(".", width-filled), pct, done, total, now.Sub(p.start).Seconds())
	if done == total {
		fmt.Fprintln(p.w)
	}
}

// capture sends each request once to the server, with the headers a
// client sends, and keeps the answers; each must be a success.
func capture(ctx context.Context, addr string, requests []request) ([]answer, error) {
	out := make([]answer, len(requests))
	client := &http.Client{Timeout: time.Minute}
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	next := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range next {
				r := requests[n]
				req, err := http.NewRequestWithContext(ctx, r.method, "http://"+addr+r.uri, bytes.NewReader(r.body))
				if err != nil {
					panic(err) // built from valid parts
				}
				req.Header.Set("Authorization", "Bearer "+r.token)
				if r.body != nil {
					req.Header.Set("Content-Type", "application/json")
				}
				resp, err := client.Do(req)
				var body []byte
				if err == nil {
					body, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				if err == nil && resp.StatusCode != r.want {
					err = fmt.Errorf("%s %s answered %d, want %d: %.300s", r.method, r.uri, resp.StatusCode, r.want, body)
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				out[n] = answer{Method: r.method, URI: r.uri, Token: r.token, Status: resp.StatusCode, Header: resp.Header, Body: body}
			}
		}()
	}
	for n := range requests {
		next <- n
	}
	close(next)
	wg.Wait()
	return out, firstErr
}

// cpuProfile fetches a CPU profile of the server for duration after delay,
// in the background; the returned function waits for it.
func cpuProfile(ctx context.Context, addr string, delay, duration time.Duration, path string, log io.Writer) func() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		select { // e.g. the warm-up: the profile covers the measured window
		case <-time.After(delay):
		case <-ctx.Done():
			return
		}
		secs := max(1, int(duration.Seconds()))
		if err := fetch(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs), path); err != nil {
			fmt.Fprintf(log, "cpu profile: %v\n", err)
		}
	}()
	return func() { <-done }
}

// fetch saves the body of a GET.
func fetch(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// machine describes this machine.
func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0)}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				m.CPU = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			m.MemoryMB = kb >> 10
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.LoadBefore = loadAverage()
	return m
}

// loadAverage returns the 1-minute load average, 0 where it is unknown.
func loadAverage() float64 {
	var load float64
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Sscan(string(b), &load)
	}
	return load
}

// printTable prints the results.
func printTable(w io.Writer, r *Results) {
	fmt.Fprintf(w, "\n%s, %s scale (%d space installations, %d rows), %s, %d connections, %s per operation\n",
		r.Store, r.Scale.Name, r.Scale.SpaceInstallations(), r.Rows, r.Date.Format("2006-01-02"), r.Connections, r.Duration)
	fmt.Fprintf(w, "machine: %s, %d CPUs, %d MB, %s, %s; load average %.1f before, %.1f after\n",
		r.Machine.CPU, r.Machine.CPUs, r.Machine.MemoryMB, r.Machine.OS, r.Machine.Go, r.Machine.LoadBefore, r.Machine.LoadAfter)
	fmt.Fprintf(w, "seeding: %.1fs (%.0f rows/s)\n\n", r.Seed.LoadSeconds, r.Seed.RowsPerSecond)
	fmt.Fprintf(w, "%-34s %7s %14s %9s %9s %9s %14s %9s %9s %9s %7s %9s %9s %7s %9s\n",
		"operation", "bytes", "server", "p50", "p99", "CPU/step", "baseline", "p50", "p99", "CPU/step", "ratio", "p99 ratio", "CPU ratio", "errors", "peak RSS")
	for _, o := range r.Operations {
		rate := fmt.Sprintf("%.0f %s/s", o.Server.Rate, unitAbbrev(o.Unit))
		size := "-"
		if o.ResponseBytes > 0 {
			size = fmt.Sprint(o.ResponseBytes)
		}
		line := fmt.Sprintf("%-34s %7s %14s %7.2fms %7.2fms %7.0fus", o.Name, size, rate, o.Server.P50Ms, o.Server.P99Ms, o.Server.CPUPerStepUs)
		if b := o.Baseline; b != nil {
			cpuRatio := "-"
			if o.CPURatio > 0 {
				cpuRatio = fmt.Sprintf("%.2fx", o.CPURatio)
			}
			line += fmt.Sprintf(" %14s %7.2fms %7.2fms %7.0fus %6.2fx %8.2fx %9s", fmt.Sprintf("%.0f %s/s", b.Rate, unitAbbrev(o.Unit)), b.P50Ms, b.P99Ms, b.CPUPerStepUs, o.Ratio, o.P99Ratio, cpuRatio)
		} else {
			line += fmt.Sprintf(" %14s %9s %9s %9s %7s %9s %9s", "-", "-", "-", "-", "-", "-", "-")
		}
		line += fmt.Sprintf(" %7d %7.0fMB", o.Server.Errors+baselineErrors(o), float64(o.PeakRSS)/(1<<20))
		fmt.Fprintln(w, line)
	}
	e := r.Events
	fmt.Fprintf(w, "%-34s %7s %14s   (%d events in %.2fs after %.2fs to create them; %d duplicates)\n",
		"event delivery", "-", fmt.Sprintf("%.0f ev/s", e.PerSecond), e.Count, e.Seconds, e.CreateSeconds, e.Duplicates)
	fmt.Fprintf(w, "\nserver peak RSS %.0f MB, baseline peak RSS %.0f MB; other processes used %.0f%% of the CPU meanwhile\n",
		float64(r.ServerPeakRSS)/(1<<20), float64(r.BaselinePeakRSS)/(1<<20), 100*r.OthersCPUShare)
	for _, o := range r.Operations {
		f := &o.Server
		if o.Kind != "write" || f.MachineCPUPerStepUs <= 0 {
			continue
		}
		unit := strings.TrimSuffix(o.Unit, "s")
		fmt.Fprintf(w, "%s: the server used %.0fus of CPU per %s", o.Name, f.CPUPerStepUs, unit)
		if f.DatabaseCPUPerStepUs > 0 {
			fmt.Fprintf(w, ", PostgreSQL's backends %.0fus", f.DatabaseCPUPerStepUs)
			if b := o.Baseline; b != nil {
				fmt.Fprintf(w, " (%.0fus alone)", b.CPUPerStepUs)
			}
		}
		fmt.Fprintln(w, machineCost(f, r.Machine.CPUs, unit))
	}
	for _, o := range r.Operations {
		if f := o.WriteBaseline; f != nil && f.MachineCPUPerStepUs > 0 {
			unit := strings.TrimSuffix(o.Unit, "s")
			fmt.Fprintf(w, "%s behind a minimal net/http server (the write baseline): %.0f %s/s, p50 %.2fms, p99 %.2fms, the server's %.2fx; it used %.0fus of CPU per %s, PostgreSQL's backends %.0fus%s\n",
				o.Name, f.Rate, unitAbbrev(o.Unit), f.P50Ms, f.P99Ms, o.WriteRatio, f.CPUPerStepUs, unit, f.DatabaseCPUPerStepUs, machineCost(f, r.Machine.CPUs, unit))
		}
	}
	for _, o := range r.Operations {
		for who, f := range map[string]*figures{"server": &o.Server, "baseline": o.Baseline, "write baseline": o.WriteBaseline} {
			if f != nil && f.FirstError != "" {
				fmt.Fprintf(w, "first error of %s on the %s: %s\n", o.Name, who, f.FirstError)
			}
		}
	}
}

// machineCost is the end of a write's line: the load generator's CPU a
// step, the whole machine's, the most steps a second the machine's CPUs
// make at that cost, and the share of the CPU left idle.
func machineCost(f *figures, cpus int, unit string) string {
	return fmt.Sprintf(", the load generator %.0fus; the whole machine %.0fus, so %d CPUs make at most %.0f %ss/s at that cost; %.0f%% of the CPU idle",
		f.LoadCPUPerStepUs, f.MachineCPUPerStepUs, cpus, float64(cpus)/f.MachineCPUPerStepUs*1e6, unit, 100*f.IdleShare)
}

func baselineErrors(o Operation) int {
	if o.Baseline == nil {
		return 0
	}
	return o.Baseline.Errors
}

func unitAbbrev(unit string) string {
	if unit == "requests" {
		return "req"
	}
	return unit
}
