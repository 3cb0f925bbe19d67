package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// Comparing runs. Every run can write its results as JSON (--json); the
// figures recorded in the repository are such files (bench/results/). A
// comparison puts two runs side by side, operation by operation: the new
// rate over the old, and each run's ratio to its own baseline, which moves
// far less than the rates when the machine's speed does.

// ReadResults reads the JSON results of a run.
func ReadResults(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: not the JSON results of a run: %w", path, err)
	}
	if len(r.Operations) == 0 {
		return nil, fmt.Errorf("%s: no operations: not the JSON results of a run", path)
	}
	return &r, nil
}

// compareMain is `integrations bench compare OLD.json NEW.json`.
func compareMain(args []string, stdout io.Writer) error {
	if len(args) != 2 {
		return fmt.Errorf("compare takes two files of results, OLD.json and NEW.json; got %d arguments", len(args))
	}
	old, err := ReadResults(args[0])
	if err != nil {
		return err
	}
	cur, err := ReadResults(args[1])
	if err != nil {
		return err
	}
	Compare(stdout, old, cur)
	return nil
}

// Compare prints the run cur against the run old: for each operation of
// either, both rates and their quotient (cur over old), both ratios to the
// baseline, both p99 latencies and the server's CPU per step. Runs of
// another store, scale or machine are compared all the same, under a
// warning that says how they differ.
func Compare(w io.Writer, old, cur *Results) {
	fmt.Fprintf(w, "old: %s\nnew: %s\n", describeRun(old), describeRun(cur))
	if diff := runDifferences(old, cur); len(diff) > 0 {
		fmt.Fprintf(w, "warning: the runs differ in %s; their figures compare only roughly\n", strings.Join(diff, ", "))
	}
	fmt.Fprintf(w, "\n%-34s %14s %14s %8s %9s %9s %9s %9s %10s %10s\n",
		"operation", "old", "new", "new/old", "old ratio", "new ratio", "old p99", "new p99", "old CPU", "new CPU")
	for _, name := range operationNames(old, cur) {
		o, c := old.operation(name), cur.operation(name)
		quotient := "-"
		if o != nil && c != nil && o.Server.Rate > 0 {
			quotient = fmt.Sprintf("%.2fx", c.Server.Rate/o.Server.Rate)
		}
		fmt.Fprintf(w, "%-34s %14s %14s %8s %9s %9s %9s %9s %10s %10s\n", name,
			rateOf(o), rateOf(c), quotient, ratioOf(o), ratioOf(c), p99Of(o), p99Of(c), cpuOf(o), cpuOf(c))
	}
	if old.Events.Count > 0 || cur.Events.Count > 0 { // not in runs --only other operations
		evQuotient := "-"
		if old.Events.PerSecond > 0 && cur.Events.PerSecond > 0 {
			evQuotient = fmt.Sprintf("%.2fx", cur.Events.PerSecond/old.Events.PerSecond)
		}
		fmt.Fprintf(w, "%-34s %14s %14s %8s\n", "event delivery",
			fmt.Sprintf("%.0f ev/s", old.Events.PerSecond), fmt.Sprintf("%.0f ev/s", cur.Events.PerSecond), evQuotient)
	}
	fmt.Fprintf(w, "\nseeding: %.1fs old, %.1fs new; server peak RSS: %.0f MB old, %.0f MB new\n",
		old.Seed.LoadSeconds, cur.Seed.LoadSeconds, float64(old.ServerPeakRSS)/(1<<20), float64(cur.ServerPeakRSS)/(1<<20))
}

// describeRun says which run it is, in one line.
func describeRun(r *Results) string {
	return fmt.Sprintf("%s, %s scale, %s, %s (%d CPUs), %s, %s per operation, %d connections",
		r.Store, r.Scale.Name, r.Date.Format("2006-01-02 15:04"), r.Machine.CPU, r.Machine.CPUs, r.Machine.Go, r.Duration, r.Connections)
}

// runDifferences names what differs between two runs beyond their figures.
func runDifferences(a, b *Results) []string {
	var diff []string
	add := func(what string, x, y any) {
		if x != y {
			diff = append(diff, fmt.Sprintf("%s (%v, %v)", what, x, y))
		}
	}
	add("store", storeKind(a.Store), storeKind(b.Store))
	add("scale", a.Scale.Name, b.Scale.Name)
	add("machine", a.Machine.CPU, b.Machine.CPU)
	add("CPUs", a.Machine.CPUs, b.Machine.CPUs)
	add("connections", a.Connections, b.Connections)
	add("duration", a.Duration, b.Duration)
	return diff
}

// storeKind is the store without the details of where it ran.
func storeKind(s string) string {
	kind, _, _ := strings.Cut(s, " ")
	return kind
}

// operationNames are the operations of a, then those only b has.
func operationNames(a, b *Results) []string {
	var names []string
	seen := map[string]bool{}
	for _, r := range []*Results{a, b} {
		for _, o := range r.Operations {
			if !seen[o.Name] {
				seen[o.Name] = true
				names = append(names, o.Name)
			}
		}
	}
	return names
}

// operation returns the figures of the named operation, or nil.
func (r *Results) operation(name string) *Operation {
	for i := range r.Operations {
		if r.Operations[i].Name == name {
			return &r.Operations[i]
		}
	}
	return nil
}

func rateOf(o *Operation) string {
	if o == nil {
		return "-"
	}
	return fmt.Sprintf("%.0f %s/s", o.Server.Rate, unitAbbrev(o.Unit))
}

func ratioOf(o *Operation) string {
	if o == nil || o.Ratio == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", o.Ratio)
}

func p99Of(o *Operation) string {
	if o == nil {
		return "-"
	}
	return fmt.Sprintf("%.2fms", o.Server.P99Ms)
}

func cpuOf(o *Operation) string {
	if o == nil || o.Server.CPUPerStepUs == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0fus", o.Server.CPUPerStepUs)
}
