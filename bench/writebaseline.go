package bench

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// The write baseline is the physical limit of the pairs over HTTP on the
// machine, as the baseline is that of the reads: a minimal net/http
// server, in a process of its own as the real server is, that answers the
// pair's two requests by sending PostgreSQL the transactions of the
// ceiling (measureCeiling: the server's statements, in batches of two
// round trips on two lanes), and answers the bytes that the real server
// gave for one pair. It checks no token and no access, keeps no cache and
// writes no log: what it costs is the part of a pair that HTTP, pgx and
// PostgreSQL take, the least that any server of this design spends, on
// the same machine as the load generator and PostgreSQL.

// ServeWriteBaseline is the hidden command bench-write-baseline: it serves
// the pairs on --addr, on the database of --database, until SIGTERM or
// SIGINT. --answers holds the real server's answers to one enable (its
// POST) and one disable (its DELETE); --callers bounds a batch, as the
// load's connections bound the server's.
func ServeWriteBaseline(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench-write-baseline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	database := fs.String("database", "", "PostgreSQL database of the benchmark (postgres://...)")
	file := fs.String("answers", "", "file of the captured answers to an enable and a disable")
	callers := fs.Int("callers", 64, "the most steps of one batch")
	if err := fs.Parse(args); err != nil {
		return err
	}
	answers, err := readAnswers(*file)
	if err != nil {
		return err
	}
	byMethod := map[string]*answer{}
	for n := range answers {
		a := &answers[n]
		a.Header.Del("Date") // net/http adds its own, as for the real server
		byMethod[a.Method] = a
	}
	if byMethod["POST"] == nil || byMethod["DELETE"] == nil {
		return fmt.Errorf("%s: no answer to an enable (POST) and a disable (DELETE)", *file)
	}

	pool, steps, stop, err := ceilingLanes(ctx, *database, *callers)
	if err != nil {
		return err
	}
	defer stop()
	// The integration and the organization of each installation, for the
	// events.
	type owner struct{ integration, organization string }
	owners := map[string]owner{}
	rows, err := pool.Query(ctx, "SELECT id, integration_id, organization_id FROM installations")
	if err != nil {
		return err
	}
	var id string
	var o owner
	if _, err := pgx.ForEachRow(rows, []any{&id, &o.integration, &o.organization}, func() error {
		owners[id] = o
		return nil
	}); err != nil {
		return err
	}

	// change runs an enable or a disable of the request's installation on
	// spaceID and answers what the real server answered to its own.
	change := func(w http.ResponseWriter, r *http.Request, c ceilingChange, spaceID string) {
		in := r.PathValue("installationId")
		o, ok := owners[in]
		if !ok {
			http.Error(w, "no such installation", http.StatusNotFound)
			return
		}
		if err := c.run(r.Context(), steps, o.integration, in, spaceID, o.organization); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		a := byMethod[r.Method]
		h := w.Header()
		for k, v := range a.Header {
			h[k] = v
		}
		w.WriteHeader(a.Status)
		w.Write(a.Body)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("POST /v1/integrations/{name}/installations/{installationId}/spaces", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Space string `json:"space"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Space == "" {
			http.Error(w, "a body with a space is required", http.StatusBadRequest)
			return
		}
		change(w, r, enableChange, body.Space)
	})
	mux.HandleFunc("DELETE /v1/integrations/{name}/installations/{installationId}/spaces/{spaceId}", func(w http.ResponseWriter, r *http.Request) {
		change(w, r, disableChange, r.PathValue("spaceId"))
	})
	return serveUntilSignal(ctx, *addr, mux)
}

// startWriteBaseline captures the real server's answers to one pair of the
// load and starts the write baseline on the database with them.
func startWriteBaseline(ctx context.Context, cfg Config, dir, dbURL, serverAddr string, pairs operation) (*process, error) {
	// The enable, then the disable: one request at a time.
	var answers []answer
	for _, r := range pairs.requests[:2] {
		a, err := capture(ctx, serverAddr, []request{r})
		if err != nil {
			return nil, err
		}
		answers = append(answers, a...)
	}
	path := filepath.Join(dir, "write-answers.gob")
	if err := writeAnswers(path, answers); err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	p, err := start("write baseline", cfg.Binary, []string{"bench-write-baseline", "--addr", addr, "--database", dbURL,
		"--answers", path, "--callers", strconv.Itoa(cfg.Connections)}, addr, filepath.Join(dir, "write-baseline.log"))
	if err != nil {
		return nil, err
	}
	if err := p.waitReady(ctx, "/healthz"); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}
