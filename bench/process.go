package bench

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is a server process that the benchmark started: the real server
// or the baseline.
type process struct {
	name string
	cmd  *exec.Cmd
	addr string // host:port it listens on
	log  *os.File
	done chan error
}

// freeAddr returns a loopback address with a port that nothing listens on.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// start runs the binary with args; its output goes to logPath. The
// environment loses the server's own variables, so that a developer's
// settings never change what is measured.
func start(name, binary string, args []string, addr, logPath string) (*process, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = log, log
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "INTEGRATIONS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, addr: addr, log: log, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	return p, nil
}

// startTimeout bounds how long a process may take to answer; it only turns
// a hung start into an error.
const startTimeout = 2 * time.Minute

// waitReady polls path until it answers 200, the process exits or the
// timeout passes.
func (p *process) waitReady(ctx context.Context, path string) error {
	deadline := time.Now().Add(startTimeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get("http://" + p.addr + path)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-p.done:
			p.done <- err
			return fmt.Errorf("%s exited before it was ready (%v); its output:\n%s", p.name, err, p.output())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer %s within %v; its output:\n%s", p.name, path, startTimeout, p.output())
		}
	}
}

// output returns the end of the process's output, for error messages.
func (p *process) output() string {
	b, _ := os.ReadFile(p.log.Name())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// errors returns up to n lines of the process's output that log an error.
func (p *process) errors(n int) []string {
	b, _ := os.ReadFile(p.log.Name())
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, `"level":"ERROR"`) && len(out) < n {
			out = append(out, line)
		}
	}
	return out
}

// peakRSS returns the process's peak resident memory (VmHWM), in bytes.
func (p *process) peakRSS() int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// stop ends the process with SIGTERM, or SIGKILL if it does not exit in
// time, and reports how it ended.
func (p *process) stop() error {
	defer p.log.Close()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		return err
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not exit within 30s of SIGTERM; killed", p.name)
	}
}

// clockTicks is the unit of the CPU times of /proc: USER_HZ, 100 on every
// Linux that Go supports.
const clockTicks = 100

// cpuSeconds returns the CPU time (user and system) that the process with
// pid has used, 0 where it is unknown.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: the fields that
	// follow it are numbered from the closing one.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / clockTicks
}

// busySeconds returns the CPU time that the whole machine has spent busy,
// summed over its CPUs.
func busySeconds() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	var busy float64
	for n, f := range fields[1:] {
		if n == 3 || n == 4 { // idle, iowait
			continue
		}
		if n > 7 { // guest times are counted in user already
			break
		}
		v, _ := strconv.ParseFloat(f, 64)
		busy += v
	}
	return busy / clockTicks
}

// cpu returns the CPU time the process has used.
func (p *process) cpu() float64 { return cpuSeconds(p.cmd.Process.Pid) }
