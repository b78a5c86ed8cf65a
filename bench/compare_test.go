package bench

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func row(t *testing.T, c Comparison, name string) CompareRow {
	t.Helper()
	for _, r := range c.Rows {
		if r.Figure.Name == name {
			return r
		}
	}
	t.Fatalf("no row for %s in %+v", name, c.Rows)
	return CompareRow{}
}

// Compare knows which way each figure improves, and flags only changes for
// the worse beyond the threshold.
func TestCompareIsDirectionAware(t *testing.T) {
	old := map[string]float64{
		"calls_per_sec": 20_000, "events_per_sec": 500_000, "p50_ms": 5, "p99_ms": 20, "p999_ms": 30,
		"heap_bytes_per_live_call": 1800, "restore_seconds": 1.0, "replay_events_per_sec": 1_500_000,
		"raw_bbolt_events_per_sec": 1_000_000, "ratio_to_raw": 0.5, "live_calls": 100_000,
	}
	new := map[string]float64{
		"calls_per_sec":            15_000,    // −25 %: regression
		"events_per_sec":           480_000,   // −4 %: within the threshold
		"p50_ms":                   4,         // lower latency: better
		"p99_ms":                   25,        // +25 % latency: regression
		"heap_bytes_per_live_call": 1700,      // less heap: better
		"restore_seconds":          1.05,      // +5 %: within the threshold
		"replay_events_per_sec":    1_500_000, // same
		"raw_bbolt_events_per_sec": 500_000,   // the machine: never a regression
		"ratio_to_raw":             0.96,
		"live_calls":               2_000,
		// p999_ms missing in new
	}
	c := Compare(old, new, 10)
	want := map[string]string{
		"calls_per_sec": "REGRESSION", "events_per_sec": "worse (within threshold)", "p50_ms": "better",
		"p99_ms": "REGRESSION", "heap_bytes_per_live_call": "better", "restore_seconds": "worse (within threshold)",
		"replay_events_per_sec": "same", "raw_bbolt_events_per_sec": "info", "ratio_to_raw": "better",
		"live_calls": "info", "p999_ms": "missing in new",
	}
	for name, v := range want {
		if r := row(t, c, name); r.Verdict != v {
			t.Errorf("%s: verdict %q, want %q", name, r.Verdict, v)
		}
	}
	if c.Regressions != 2 {
		t.Errorf("%d regressions, want 2", c.Regressions)
	}
	if r := row(t, c, "calls_per_sec"); r.ChangePct == nil || *r.ChangePct != -25 {
		t.Errorf("calls_per_sec change %v, want -25", r.ChangePct)
	}
	// Figures in neither report are not listed.
	for _, r := range c.Rows {
		if r.Figure.Name == "lifecycle_events_per_sec" {
			t.Error("a figure in neither report is listed")
		}
	}
	// A wider threshold forgives both.
	if c := Compare(old, new, 30); c.Regressions != 0 {
		t.Errorf("threshold 30 %%: %d regressions", c.Regressions)
	}
	var out bytes.Buffer
	if err := c.Write(&out); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"figure", "old", "new", "change", "-25.0 %", "REGRESSION", "missing in new", "2 regression(s) beyond 10.0 %"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("output lacks %q:\n%s", s, out.String())
		}
	}
}

func TestCompareFromZeroAndMissingInOld(t *testing.T) {
	c := Compare(map[string]float64{"p99_ms": 0}, map[string]float64{"p99_ms": 3, "calls_per_sec": 1}, 10)
	if r := row(t, c, "p99_ms"); r.ChangePct != nil || !r.Regression {
		t.Errorf("0 → 3 ms: %+v, want a regression with no percentage", r)
	}
	if r := row(t, c, "calls_per_sec"); r.Verdict != "missing in old" || r.Regression {
		t.Errorf("missing in old: %+v", r)
	}
}

func TestCompareFilesRejectsWhatIsNotAReport(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	os.WriteFile(good, []byte(`{"workload":"all","calls_per_sec":1,"params":{"calls":5}}`), 0o644)
	for name, content := range map[string]string{"bad.json": "{", "other.json": `{"x":1}`} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		if _, err := CompareFiles(good, p, 10); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if _, err := CompareFiles(good, filepath.Join(dir, "absent.json"), 10); err == nil {
		t.Error("absent file accepted")
	}
	if _, err := CompareFiles(good, good, -1); err == nil {
		t.Error("negative threshold accepted")
	}
	other := filepath.Join(dir, "other-params.json")
	os.WriteFile(other, []byte(`{"workload":"all","calls_per_sec":1,"params":{"calls":7}}`), 0o644)
	c, err := CompareFiles(good, other, 10)
	if err != nil || len(c.Notes) != 1 || !strings.Contains(c.Notes[0], "calls differs") {
		t.Errorf("notes %v, err %v", c.Notes, err)
	}
}

// A report of an earlier version (without the ratio figures, the lifecycle
// passes or the new target fields) still compares with a new one: what one
// of them lacks is missing, never a regression; lists in the parameters are
// compared without a crash.
func TestCompareReadsReportsOfEarlierVersions(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "old.json")
	os.WriteFile(old, []byte(`{"workload":"all","calls_per_sec":25000,"events_per_sec":500000,"raw_bbolt_events_per_sec":1000000,
		"ratio_to_raw":0.5,"restore_seconds":0.8,"params":{"calls":100000,"concurrency":1000},
		"targets":[{"figure":"calls_per_sec","target":">= 20,000 calls/s, 1,000 callers","value":25000,"pass":true}]}`), 0o644)
	r := newReport(Options{Workload: "all", Calls: 100_000, Concurrency: 1000, Callers: []int{1000, 5000}})
	r.setLifecycle(lifecycleAt(1000, 150_000), false)
	r.setLifecycle(lifecycleAt(5000, 160_000), false)
	r.setAppends(AppendsResult{Records: 500_000, Writers: 1000, EventsPerSec: 500_000, RawEventsPerSec: 1_000_000, Ratio: 0.5})
	r.judge()
	newPath := filepath.Join(dir, "new.json")
	if err := r.WriteJSON(newPath, nil); err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2]string{{old, newPath}, {newPath, old}} {
		c, err := CompareFiles(pair[0], pair[1], 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"allocs_per_call", "lifecycle_ratio_to_raw", "lifecycle_5000_vs_1000", "raw_bbolt_puts_per_sec"} {
			if r := row(t, c, name); r.Regression || !strings.HasPrefix(r.Verdict, "missing in") {
				t.Errorf("%s: %+v", name, r)
			}
		}
		if r := row(t, c, "restore_seconds"); r.Regression || !strings.HasPrefix(r.Verdict, "missing in") {
			t.Errorf("restore_seconds: %+v", r)
		}
		if r := row(t, c, "calls_per_sec"); r.Verdict != "same" || c.Regressions != 0 {
			t.Errorf("calls_per_sec %+v, %d regressions", r, c.Regressions)
		}
	}
	// Two new reports whose lifecycle ran at other callers say so.
	other := filepath.Join(dir, "other.json")
	r.Params.Callers = []int{1000}
	if err := r.WriteJSON(other, nil); err != nil {
		t.Fatal(err)
	}
	c, err := CompareFiles(newPath, other, 10)
	if err != nil || len(c.Notes) != 1 || c.Notes[0] != "callers differs: [1000 5000] → [1000]" {
		t.Errorf("notes %q, err %v", c.Notes, err)
	}
}
