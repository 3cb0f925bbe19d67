package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"
)

// The load generator speaks HTTP/1.1 over keep-alive connections with
// requests serialized in advance and a minimal response parser: it costs
// the machine much less than net/http's client, so that more of the CPU,
// shared with the server, goes to the server.

// request is one HTTP request of the load.
type request struct {
	method, uri, token string
	body               []byte
	// want is the status that counts as a success.
	want int
}

// wire returns the request as sent to host.
func (r request) wire(host string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: integrations-bench\r\nAuthorization: Bearer %s\r\n", r.method, r.uri, host, r.token)
	if r.body != nil {
		fmt.Fprintf(&b, "Content-Type: application/json\r\nContent-Length: %d\r\n", len(r.body))
	}
	b.WriteString("\r\n")
	b.Write(r.body)
	return b.Bytes()
}

// client is one keep-alive connection.
type client struct {
	addr string
	conn net.Conn
	r    *bufio.Reader
	body []byte // reused for response bodies
}

func (c *client) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// do sends a serialized request and reads the answer's status and body.
// It reconnects when the server closed the connection.
func (c *client) do(req []byte) (int, []byte, error) {
	for attempt := 0; ; attempt++ {
		fresh := false
		if c.conn == nil {
			conn, err := net.Dial("tcp", c.addr)
			if err != nil {
				return 0, nil, err
			}
			c.conn, c.r, fresh = conn, bufio.NewReaderSize(conn, 64<<10), true
		}
		status, body, keep, err := c.roundTrip(req)
		if err != nil {
			c.close()
			// A kept-alive connection that the server closed meanwhile
			// fails on first use: try once more on a new one.
			if !fresh && attempt == 0 {
				continue
			}
			return 0, nil, err
		}
		if !keep {
			c.close()
		}
		return status, body, nil
	}
}

func (c *client) roundTrip(req []byte) (status int, body []byte, keep bool, err error) {
	if _, err := c.conn.Write(req); err != nil {
		return 0, nil, false, err
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, nil, false, err
	}
	// HTTP/1.1 200 OK
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, nil, false, fmt.Errorf("bad status line %q", line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, false, fmt.Errorf("bad status line %q", line)
	}
	length, chunked, keep := -1, false, true
	for {
		h, err := c.r.ReadSlice('\n')
		if err != nil {
			return 0, nil, false, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		name, value, _ := bytes.Cut(h, []byte(":"))
		value = bytes.TrimSpace(value)
		switch {
		case equalFold(name, "Content-Length"):
			if length, err = strconv.Atoi(string(value)); err != nil {
				return 0, nil, false, fmt.Errorf("bad Content-Length %q", value)
			}
		case equalFold(name, "Transfer-Encoding"):
			chunked = equalFold(value, "chunked")
		case equalFold(name, "Connection"):
			keep = !equalFold(value, "close")
		}
	}
	c.body = c.body[:0]
	switch {
	case status == 204 || status == 304 || status/100 == 1:
	case chunked:
		for {
			line, err := c.r.ReadSlice('\n')
			if err != nil {
				return 0, nil, false, err
			}
			size, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.SplitN(line, []byte(";"), 2)[0])), 16, 64)
			if err != nil {
				return 0, nil, false, fmt.Errorf("bad chunk size %q", line)
			}
			if size == 0 {
				// Trailers, then the blank line.
				for {
					t, err := c.r.ReadSlice('\n')
					if err != nil {
						return 0, nil, false, err
					}
					if len(bytes.TrimRight(t, "\r\n")) == 0 {
						break
					}
				}
				break
			}
			if err := c.read(int(size)); err != nil {
				return 0, nil, false, err
			}
			if _, err := c.r.Discard(2); err != nil {
				return 0, nil, false, err
			}
		}
	case length >= 0:
		if err := c.read(length); err != nil {
			return 0, nil, false, err
		}
	default:
		return 0, nil, false, errors.New("response without Content-Length on a keep-alive connection")
	}
	return status, c.body, keep, nil
}

// read appends n bytes of the body.
func (c *client) read(n int) error {
	start := len(c.body)
	c.body = slices.Grow(c.body, n)[:start+n]
	_, err := io.ReadFull(c.r, c.body[start:])
	return err
}

func equalFold(b []byte, s string) bool { return bytes.EqualFold(b, []byte(s)) }

// figures are the measures of one operation against one server.
type figures struct {
	Count  int     `json:"count"`
	Errors int     `json:"errors"`
	Rate   float64 `json:"rate"`
	P50Ms  float64 `json:"p50Ms"`
	P99Ms  float64 `json:"p99Ms"`
	// CPUPerStepUs is the CPU time the target process spent per step
	// (request, pair or token), in microseconds: unlike the rate, it does
	// not depend much on what else runs on the machine.
	CPUPerStepUs float64 `json:"cpuPerStepUs"`
	// DatabaseCPUPerStepUs is, for the server's writes on PostgreSQL, the
	// CPU time of the database's backends per step, in microseconds: the
	// other half of what a write costs (the ceiling's CPUPerStepUs is that
	// of the same backends).
	DatabaseCPUPerStepUs float64 `json:"databaseCpuPerStepUs,omitempty"`
	// For the server's writes: the CPU time of the benchmark's own load
	// generator per step, that of the whole machine per step (every
	// process and the kernel's own work, such as loopback networking),
	// and the share of the machine's CPU left idle meanwhile. CPUs over the
	// machine's CPU per step is the most steps a second that the machine
	// could make at that cost.
	LoadCPUPerStepUs    float64 `json:"loadCpuPerStepUs,omitempty"`
	MachineCPUPerStepUs float64 `json:"machineCpuPerStepUs,omitempty"`
	IdleShare           float64 `json:"idleShare,omitempty"`
	// FirstError describes the first failure, if any.
	FirstError string `json:"firstError,omitempty"`
}

// step is one unit of an operation's load: a request, or a sequence such
// as an enable-then-disable pair, timed as a whole.
type step [][]byte

// sample is what one run of the load measured.
type sample struct {
	lat        []time.Duration // of each successful step
	errors     int
	firstError string
	window     time.Duration // the measured time
	done       int           // steps completed, warm-up included
	cpu        float64       // CPU seconds of the target over the whole run
}

// add merges another sample of the same load.
func (s *sample) add(o sample) {
	s.lat = append(s.lat, o.lat...)
	s.errors += o.errors
	if s.firstError == "" {
		s.firstError = o.firstError
	}
	s.window += o.window
	s.done += o.done
	s.cpu += o.cpu
}

// figures computes the rate and percentiles of a sample.
func (s *sample) figures() figures {
	slices.Sort(s.lat)
	f := figures{Count: len(s.lat), Errors: s.errors, FirstError: s.firstError,
		P50Ms: percentile(s.lat, 0.50), P99Ms: percentile(s.lat, 0.99)}
	if s.window > 0 {
		f.Rate = float64(len(s.lat)) / s.window.Seconds()
	}
	if s.done > 0 {
		f.CPUPerStepUs = s.cpu / float64(s.done) * 1e6
	}
	return f
}

// drive runs the load: connections workers, each on its own connection,
// each taking the steps of next(worker, n) in turn, for warmup and then for
// duration; only what starts and ends in the measured window counts.
func drive(ctx context.Context, addr string, connections int, warmup, duration time.Duration, next func(worker, n int) (step, []int)) sample {
	results := make([]sample, connections)
	start := time.Now().Add(warmup)
	end := start.Add(duration)
	var wg sync.WaitGroup
	for w := range connections {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &client{addr: addr}
			defer c.close()
			res := &results[w]
			for n := 0; ; n++ {
				if ctx.Err() != nil {
					return
				}
				s, want := next(w, n)
				t := time.Now()
				if !t.Before(end) {
					return
				}
				var fail error
				for k, req := range s {
					status, body, err := c.do(req)
					if err == nil && status != want[k] {
						err = fmt.Errorf("status %d, want %d: %.200s", status, want[k], body)
					}
					if err != nil {
						fail = err
						break
					}
				}
				done := time.Now()
				res.done++
				if t.Before(start) || done.After(end) {
					continue
				}
				if fail != nil {
					if res.errors == 0 {
						res.firstError = fail.Error()
					}
					res.errors++
					continue
				}
				res.lat = append(res.lat, done.Sub(t))
			}
		}()
	}
	wg.Wait()
	all := sample{window: duration}
	for _, r := range results {
		all.add(r)
	}
	return all
}

// pass sends the first n steps of next(worker, k) once on each of
// connections connections, unmeasured, to warm the server up: what they
// answer does not matter (the measure counts the failures), only an error
// of the connections or the context does.
func pass(ctx context.Context, addr string, connections, n int, next func(worker, n int) (step, []int)) error {
	errs := make([]error, connections)
	var wg sync.WaitGroup
	for w := range connections {
		wg.Go(func() {
			c := &client{addr: addr}
			defer c.close()
			for k := 0; k < n && ctx.Err() == nil; k++ {
				s, _ := next(w, k)
				for _, req := range s {
					if _, _, err := c.do(req); err != nil {
						errs[w] = err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(append(errs, ctx.Err())...)
}

// percentile returns the p-th quantile of sorted durations, in milliseconds.
func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return float64(sorted[i].Microseconds()) / 1000
}
