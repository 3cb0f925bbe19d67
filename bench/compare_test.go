package bench

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func fakeRun(store, scale string, ops ...Operation) *Results {
	return &Results{Date: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC), Store: store, Scale: Scale{Name: scale},
		Machine: Machine{CPU: "CPU", CPUs: 2}, Duration: "10s", Connections: 64, Operations: ops,
		Events: Events{Count: 1000, PerSecond: 100}, Seed: Seed{LoadSeconds: 1}, ServerPeakRSS: 100 << 20}
}

func fakeRead(name string, rate, ratio float64) Operation {
	return Operation{Name: name, Kind: "read", Unit: "requests", Server: figures{Rate: rate, P99Ms: 5, CPUPerStepUs: 40}, Ratio: ratio}
}

// lineOf returns the line of the comparison that begins with name.
func lineOf(out, name string) []string {
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == name {
			return f
		}
	}
	return nil
}

func TestCompare(t *testing.T) {
	pair := Operation{Name: "enable-disable-pair", Kind: "write", Unit: "pairs", Server: figures{Rate: 3000, P99Ms: 50, CPUPerStepUs: 400}}
	tests := []struct {
		name     string
		old, cur *Results
		want     map[string][]string // operation -> its fields
		warning  string              // "" for none
	}{
		{
			name: "same kind of run",
			old:  fakeRun("sqlite", "default", fakeRead("list", 20000, 0.80), pair),
			cur:  fakeRun("sqlite", "default", fakeRead("list", 30000, 0.90), pair),
			want: map[string][]string{
				"list":                {"list", "20000", "req/s", "30000", "req/s", "1.50x", "0.80x", "0.90x", "5.00ms", "5.00ms", "40us", "40us"},
				"enable-disable-pair": {"enable-disable-pair", "3000", "pairs/s", "3000", "pairs/s", "1.00x", "-", "-", "50.00ms", "50.00ms", "400us", "400us"},
				"event":               {"event", "delivery", "100", "ev/s", "100", "ev/s", "1.00x"},
			},
		},
		{
			name: "operations of one run only, another store and scale",
			old:  fakeRun("sqlite", "default", fakeRead("list", 20000, 0.80)),
			cur:  fakeRun("postgres 15.20", "large", fakeRead("blocks", 10000, 0.70)),
			want: map[string][]string{
				"list":   {"list", "20000", "req/s", "-", "-", "0.80x", "-", "5.00ms", "-", "40us", "-"},
				"blocks": {"blocks", "-", "10000", "req/s", "-", "-", "0.70x", "-", "5.00ms", "-", "40us"},
			},
			warning: "warning: the runs differ in store (sqlite, postgres), scale (default, large);",
		},
		{
			name:    "the same store on another server version",
			old:     fakeRun("postgres 15.20", "default", fakeRead("list", 20000, 0.80)),
			cur:     fakeRun("postgres 16.4", "default", fakeRead("list", 10000, 0.75)),
			want:    map[string][]string{"list": {"list", "20000", "req/s", "10000", "req/s", "0.50x", "0.80x", "0.75x", "5.00ms", "5.00ms", "40us", "40us"}},
			warning: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			Compare(&out, tt.old, tt.cur)
			for name, want := range tt.want {
				if got := lineOf(out.String(), name); strings.Join(got, " ") != strings.Join(want, " ") {
					t.Errorf("the line of %s:\n got %q\nwant %q", name, got, want)
				}
			}
			if got := strings.Contains(out.String(), "warning:"); got != (tt.warning != "") || !strings.Contains(out.String(), tt.warning) {
				t.Errorf("want the warning %q in:\n%s", tt.warning, &out)
			}
		})
	}
	// Runs that measured no delivery (--only other operations) get no line
	// for it.
	old, cur := fakeRun("sqlite", "default", fakeRead("list", 1, 1)), fakeRun("sqlite", "default", fakeRead("list", 1, 1))
	old.Events, cur.Events = Events{}, Events{}
	var out bytes.Buffer
	Compare(&out, old, cur)
	if lineOf(out.String(), "event") != nil {
		t.Errorf("a line for the delivery that neither run measured:\n%s", &out)
	}
}

func TestCompareCommand(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	a := write("a.json", fakeRun("sqlite", "default", fakeRead("list", 20000, 0.80)))
	b := write("b.json", fakeRun("sqlite", "default", fakeRead("list", 25000, 0.85)))
	empty := write("empty.json", map[string]any{"store": "sqlite"})
	text := filepath.Join(dir, "text.json")
	if err := os.WriteFile(text, []byte("not JSON"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args    []string
		wantErr string // "" for success
	}{
		{[]string{"compare", a, b}, ""},
		{[]string{"compare", a}, "got 1 arguments"},
		{[]string{"compare", a, b, b}, "got 3 arguments"},
		{[]string{"compare", a, filepath.Join(dir, "missing.json")}, "missing.json"},
		{[]string{"compare", text, b}, "not the JSON results of a run"},
		{[]string{"compare", a, empty}, "no operations"},
		{[]string{"--compare", text}, "not the JSON results of a run"}, // before any run begins
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		err := Main(t.Context(), "/nonexistent/integrations", tt.args, &stdout, &stderr)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%q: %v", tt.args, err)
		case tt.wantErr == "" && strings.Join(lineOf(stdout.String(), "list"), " ") != "list 20000 req/s 25000 req/s 1.25x 0.80x 0.85x 5.00ms 5.00ms 40us 40us":
			t.Errorf("%q: no comparison in:\n%s", tt.args, &stdout)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%q: error %v, want one that says %q", tt.args, err, tt.wantErr)
		}
	}
}
