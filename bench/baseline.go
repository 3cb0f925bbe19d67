package bench

import (
	"bufio"
	"context"
	"encoding/gob"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// The baseline is the physical limit of HTTP on the machine: a minimal
// net/http server, in a process of its own as the real server is, that
// answers the very bytes the real server gave, from memory.

// answer is a response of the real server, captured for the baseline.
type answer struct {
	Method, URI, Token string
	Status             int
	Header             http.Header
	Body               []byte
}

func answerKey(method, uri, token string) string { return method + " " + uri + " " + token }

// writeAnswers saves captured answers for the baseline process, one gob
// value each, so that neither side holds them twice in memory.
func writeAnswers(path string, answers []answer) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := gob.NewEncoder(w)
	for n := range answers {
		if err := enc.Encode(&answers[n]); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// readAnswers reads the answers of writeAnswers.
func readAnswers(path string) ([]answer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := gob.NewDecoder(bufio.NewReader(f))
	var answers []answer
	for {
		var a answer
		if err := dec.Decode(&a); err == io.EOF {
			return answers, nil
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		answers = append(answers, a)
	}
}

// ServeBaseline is the hidden command bench-baseline: it serves the answers
// of a file written by the benchmark on --addr until SIGTERM or SIGINT.
func ServeBaseline(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench-baseline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	file := fs.String("answers", "", "file of captured answers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	answers, err := readAnswers(*file)
	if err != nil {
		return err
	}
	byKey := make(map[string]*answer, len(answers))
	for n := range answers {
		a := &answers[n]
		a.Header.Del("Date") // net/http adds its own, as for the real server
		byKey[answerKey(a.Method, a.URI, a.Token)] = a
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.WriteHeader(http.StatusOK)
			return
		}
		token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		a, ok := byKey[answerKey(r.Method, r.RequestURI, token)]
		if !ok {
			http.Error(w, "no captured answer", http.StatusNotFound)
			return
		}
		h := w.Header()
		for k, v := range a.Header {
			h[k] = v
		}
		w.WriteHeader(a.Status)
		w.Write(a.Body)
	})
	return serveUntilSignal(ctx, *addr, handler)
}

// serveUntilSignal serves handler on addr until ctx ends, SIGTERM or SIGINT.
func serveUntilSignal(ctx context.Context, addr string, handler http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
