package bench

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A report holds only what was measured: a journal-only run has no lifecycle,
// soak, restore or replay figure, not even a zero.
func TestReportOmitsWhatWasNotMeasured(t *testing.T) {
	r := newReport(Options{Workload: "journal", Calls: 1, Concurrency: 1000, Records: 10})
	r.setAppends(AppendsResult{Records: 10, Writers: 1000, EventsPerSec: 200_000, RawEventsPerSec: 400_000, Ratio: 0.5})
	r.judge()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	for _, k := range []string{"workload", "events_per_sec", "raw_bbolt_events_per_sec", "ratio_to_raw", "go_version", "num_cpu", "started_at"} {
		if _, ok := m[k]; !ok {
			t.Errorf("%s missing", k)
		}
	}
	for _, k := range []string{"calls_per_sec", "p50_ms", "p99_ms", "p999_ms", "heap_bytes_per_live_call", "live_calls",
		"restore_seconds", "replay_events_per_sec", "throughput", "latency_percentiles", "errors"} {
		if v, ok := m[k]; ok {
			t.Errorf("%s present (%v) though not measured", k, v)
		}
	}
	// The targets list every target; unmeasured ones have a null value and
	// verdict.
	var passed, unmeasured int
	for _, tr := range r.Targets {
		switch {
		case tr.Value == nil && tr.Pass == nil && tr.Note == "not measured":
			unmeasured++
		case tr.Figure == "events_per_sec" && tr.Pass != nil && *tr.Pass:
			passed++
		}
	}
	if passed != 1 || unmeasured != len(Targets)-1 {
		t.Errorf("targets %+v", r.Targets)
	}
}

// Targets set at a scale are judged only at that scale.
func TestTargetsAreJudgedAtTheirScale(t *testing.T) {
	judge := func(live int) TargetResult {
		r := newReport(Options{Workload: "soak"})
		r.setSoak(SoakResult{LiveCalls: live, HeapBytesPerCall: 5000, Setup: time.Second})
		r.judge()
		return *r.target("heap_bytes_per_live_call")
	}
	if tr := judge(2000); tr.Pass != nil || !strings.Contains(tr.Note, "2,000") {
		t.Errorf("at 2,000 calls: %+v", tr)
	}
	if tr := judge(100_000); tr.Pass == nil || *tr.Pass {
		t.Errorf("at 100,000 calls, 5,000 B per call: %+v, want missed", tr)
	}
}

func TestReportTableAndJSONFile(t *testing.T) {
	r := newReport(Options{Workload: "all", Calls: 100, Concurrency: 10})
	r.setLifecycle(LifecycleResult{Calls: 100, Concurrency: 10, Events: 600, Commands: 500, Elapsed: time.Second,
		CallsPerSec: 100, EventsPerSec: 600, P50: time.Millisecond, P90: 2 * time.Millisecond, P99: 3 * time.Millisecond,
		P999: 4 * time.Millisecond, Max: 5 * time.Millisecond, Latency: NewHistogram(), Stopped: "count"})
	r.setReplay(ReplayResult{Events: 1000, Passes: 1, Streams: 10, Elapsed: time.Millisecond, EventsPerSec: 1e6, Stopped: "count"}, []string{"j"})
	r.fail("soak", errString("boom"))
	r.judge()
	var out bytes.Buffer
	if err := r.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"workload", "figure", "complete calls/s", "1.00 / 2.00 / 3.00 / 4.00 / 5.00 ms", "events folded/s", "1,000,000",
		"n/a: at 10 lifecycle concurrency", "FAILED", "boom"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, out.String())
		}
	}
	path := filepath.Join(t.TempDir(), "r.json")
	if err := r.WriteJSON(path, nil); err != nil {
		t.Fatal(err)
	}
	figs, _, err := LoadFigures(path)
	if err != nil || figs["calls_per_sec"] != 100 || figs["p99_ms"] != 3 {
		t.Errorf("figures %v, err %v", figs, err)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
