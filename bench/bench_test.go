package bench

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"integrations/e2e"
	"integrations/internal/storetest"
)

// TestBenchRuns runs the benchmark at the tiny scale for a short while on
// SQLite and on PostgreSQL, so that it cannot rot: it must seed, start both
// servers, drive every operation without an error, print its table and
// write its JSON. Its figures are not checked: they depend on the machine.
func TestBenchRuns(t *testing.T) {
	bin, err := e2e.Build(t.TempDir(), e2e.RaceEnabled)
	if err != nil {
		t.Fatal(err)
	}
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			jsonPath := filepath.Join(t.TempDir(), "results.json")
			var stdout, stderr bytes.Buffer
			// Compared with a recorded run of the same store at another scale.
			recorded := filepath.Join("results", "2026-12-06", map[string]string{"sqlite": "sqlite-default.json", "postgres": "pg-default.json"}[store])
			args := []string{"--scale", "tiny", "--duration", "1s", "--connections", "8", "--json", jsonPath, "--compare", recorded}
			if store == "postgres" {
				args = append(args, "--database", storetest.PostgresServer(t))
			}
			if err := Main(t.Context(), bin, args, &stdout, &stderr); err != nil {
				t.Fatalf("bench: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
			}
			t.Logf("table:\n%s", &stdout)

			ops := []string{"listSpaceIntegrations", "listSpaceIntegrations-search", "listSpaceIntegrationsBlocks", "getIntegrationByName",
				"createIntegrationInstallationToken", "enable-disable-pair"}
			table := stdout.String()
			for _, name := range append(ops, "event delivery", "server peak RSS") {
				if !strings.Contains(table, "\n"+name+" ") {
					t.Errorf("the table has no line for %s", name)
				}
			}
			if !strings.Contains(table, "compared with "+recorded) || !strings.Contains(table, "warning: the runs differ in scale (default, tiny)") ||
				!strings.Contains(table, "connections (64, 8)") || strings.Contains(table, "differ in store") {
				t.Errorf("the table has no comparison with the recorded run, or a wrong one")
			}
			if !strings.Contains(stderr.String(), "space_installations") {
				t.Errorf("no progress of the seeding on stderr:\n%s", &stderr)
			}

			b, err := os.ReadFile(jsonPath)
			if err != nil {
				t.Fatal(err)
			}
			var res Results
			if err := json.Unmarshal(b, &res); err != nil {
				t.Fatalf("results are not valid JSON: %v\n%s", err, b)
			}
			if !strings.HasPrefix(res.Store, store) || res.Scale.Name != "tiny" || res.Rows == 0 || res.Seed.LoadSeconds <= 0 || res.ServerPeakRSS <= 0 || res.Machine.CPUs == 0 {
				t.Errorf("incomplete results: store %q, scale %q, %d rows, seeded in %vs, peak RSS %d, %d CPUs",
					res.Store, res.Scale.Name, res.Rows, res.Seed.LoadSeconds, res.ServerPeakRSS, res.Machine.CPUs)
			}
			if len(res.Operations) != len(ops) {
				t.Fatalf("%d operations in the results, want %d", len(res.Operations), len(ops))
			}
			for n, o := range res.Operations {
				if o.Name != ops[n] {
					t.Errorf("operation %d is %s, want %s", n, o.Name, ops[n])
				}
				if o.Server.Count == 0 || o.Server.Errors > 0 {
					t.Errorf("%s: %d done, %d errors on the server (first: %s)", o.Name, o.Server.Count, o.Server.Errors, o.Server.FirstError)
				}
				// Reads have their baseline; on PostgreSQL, so do the pairs:
				// the same transactions without the server or HTTP.
				if o.Kind == "read" || (store == "postgres" && o.Name == "enable-disable-pair") {
					if o.Baseline == nil || o.Baseline.Count == 0 || o.Baseline.Errors > 0 || o.Ratio <= 0 {
						t.Errorf("%s: no baseline figures: %+v", o.Name, o.Baseline)
					}
				}
				// On PostgreSQL, the pairs have their write baseline too: the
				// same transactions behind a minimal HTTP server.
				if wantWB := store == "postgres" && o.Name == "enable-disable-pair"; (o.WriteBaseline != nil) != wantWB {
					t.Errorf("%s: write baseline %+v", o.Name, o.WriteBaseline)
				} else if f := o.WriteBaseline; wantWB {
					if f.Count == 0 || f.Errors > 0 || o.WriteRatio <= 0 || f.CPUPerStepUs <= 0 || f.DatabaseCPUPerStepUs <= 0 ||
						f.LoadCPUPerStepUs <= 0 || f.MachineCPUPerStepUs < f.LoadCPUPerStepUs {
						t.Errorf("%s: incomplete write baseline figures: %+v, ratio %v", o.Name, f, o.WriteRatio)
					}
					if line := lineWith(table, o.Name+" behind a minimal net/http server"); !strings.Contains(line, "pairs/s") || !strings.Contains(line, "; the whole machine ") {
						t.Errorf("%s: the table does not give the write baseline: %q", o.Name, line)
					}
				}
				// The writes on PostgreSQL count the database's CPU too.
				if wantDB := store == "postgres" && o.Kind == "write"; (o.Server.DatabaseCPUPerStepUs > 0) != wantDB {
					t.Errorf("%s: the database's CPU per step is %v", o.Name, o.Server.DatabaseCPUPerStepUs)
				} else if wantDB && !strings.Contains(table, "\n"+o.Name+": the server used ") {
					t.Errorf("%s: the table does not say what the write cost the server and the database", o.Name)
				}
				// Every write counts the load generator's CPU and the whole
				// machine's, and says what that cost allows.
				if f := o.Server; o.Kind == "write" {
					if f.LoadCPUPerStepUs <= 0 || f.MachineCPUPerStepUs < f.LoadCPUPerStepUs || f.IdleShare < 0 || f.IdleShare >= 1 {
						t.Errorf("%s: load generator %vus, machine %vus a step, idle share %v", o.Name, f.LoadCPUPerStepUs, f.MachineCPUPerStepUs, f.IdleShare)
					}
					if !strings.Contains(lineWith(table, o.Name+": the server used "), "; the whole machine ") {
						t.Errorf("%s: the table does not say what the write cost the whole machine", o.Name)
					}
				}
			}
			if e := res.Events; e.Count == 0 || e.PerSecond <= 0 || e.CreateErrors > 0 {
				t.Errorf("events: %+v", e)
			}
		})
	}
}

// lineWith returns the line of text that begins with prefix, or "".
func lineWith(text, prefix string) string {
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, prefix) {
			return line
		}
	}
	return ""
}
