package bench

import (
	"bytes"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A report holds only what was measured: a journal-only run has no lifecycle,
// soak, restore or replay figure, not even a zero.
func TestReportOmitsWhatWasNotMeasured(t *testing.T) {
	r := newReport(Options{Workload: "journal", Calls: 1, Concurrency: 1000, Records: 10})
	r.setAppends(AppendsResult{Records: 10, Writers: 1000, EventsPerSec: 240_000, RawEventsPerSec: 400_000, Ratio: 0.6})
	r.judge()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	for _, k := range []string{"workload", "events_per_sec", "raw_bbolt_events_per_sec", "ratio_to_raw", "go_version", "num_cpu", "started_at",
		"raw_bbolt_puts_per_sec", "raw_bbolt_from"} {
		if _, ok := m[k]; !ok {
			t.Errorf("%s missing", k)
		}
	}
	for _, k := range []string{"calls_per_sec", "p50_ms", "p99_ms", "p999_ms", "heap_bytes_per_live_call", "live_calls",
		"restore_seconds", "replay_events_per_sec", "throughput", "latency_percentiles", "errors", "allocs_per_call",
		"lifecycle_passes", "lifecycle_ratio_to_raw", "lifecycle_5000_vs_1000", "history_calls_per_sec_drop",
		"restore_alloc_bytes_per_call", "raw_bbolt_probe_puts"} {
		if v, ok := m[k]; ok {
			t.Errorf("%s present (%v) though not measured", k, v)
		}
	}
	// The targets list every target; unmeasured ones have a null value and
	// verdict.
	var passed, unmeasured int
	for _, tr := range r.Targets {
		switch {
		case tr.Value == nil && tr.Pass == nil && strings.HasPrefix(tr.Note, "not measured"):
			unmeasured++
		case tr.Figure == "events_per_sec" && tr.Pass != nil && *tr.Pass:
			passed++
		}
	}
	if passed != 1 || unmeasured != len(Targets)-1 {
		t.Errorf("targets %+v", r.Targets)
	}
}

// Targets set at a scale are judged only at that scale: another scale is
// n/a with the scale it ran at, never MISSED, however far off the figure.
func TestTargetsAreJudgedAtTheirScale(t *testing.T) {
	judge := func(live int, heap float64) TargetResult {
		r := newReport(Options{Workload: "soak"})
		r.setSoak(SoakResult{LiveCalls: live, HeapBytesPerCall: heap, Setup: time.Second})
		r.judge()
		return *r.target("heap_bytes_per_live_call")
	}
	if tr := judge(100_000, 5000); tr.Pass != nil || tr.Verdict() != "n/a: at 100,000 live calls, target set at 1,000,000" {
		t.Errorf("at 100,000 calls: %+v", tr)
	}
	if tr := judge(1_000_000, 2049); tr.Pass == nil || *tr.Pass {
		t.Errorf("at 1,000,000 calls, 2,049 B per call: %+v, want missed", tr)
	}
	if tr := judge(1_000_000, 2048); tr.Pass == nil || !*tr.Pass {
		t.Errorf("at 1,000,000 calls, 2,048 B per call: %+v, want met", tr)
	}

	// Restore at 100,000 calls in 9 s would miss the 5 s of 1,000,000:
	// it is not judged. At 1,000,000 it is, absolutely, with the restored
	// calls/s beside it as a ratio to raw bbolt.
	restore := func(calls int, elapsed time.Duration, allocPerCall uint64) *Report {
		r := newReport(Options{Workload: "restore"})
		r.setRestore(RestoreResult{LiveCalls: calls, Clients: 2000, Events: 3 * calls, Elapsed: elapsed, AllocBytes: allocPerCall * uint64(calls)})
		r.setRawProbe(RawBoltResult{Puts: 1_000_000, PerTx: 1000, Elapsed: time.Second, PutsPerSec: 1_000_000})
		r.judge()
		return r
	}
	r := restore(100_000, 9*time.Second, 9000)
	for _, f := range []string{"restore_seconds", "restore_alloc_bytes_per_call"} {
		if tr := r.target(f); tr.Pass != nil || tr.Note != "at 100,000 restored calls, target set at 1,000,000" || tr.Value == nil {
			t.Errorf("%s at 100,000 calls: %+v", f, tr)
		}
	}
	r = restore(1_000_000, 6*time.Second, 2000)
	tr := r.target("restore_seconds")
	if tr.Pass == nil || *tr.Pass || *tr.Value != 6 {
		t.Errorf("1,000,000 calls in 6 s: %+v, want missed", tr)
	}
	// Absolute, but the ratio is there for context: 166,667 calls/s ÷ 1M puts/s.
	if tr.Ratio == nil || math.Abs(*tr.Ratio-1.0/6) > 1e-9 || *tr.RawBboltPutsPerSec != 1e6 || tr.Context != "restored calls/s" {
		t.Errorf("restore context: %+v", tr)
	}
	if tr := r.target("restore_alloc_bytes_per_call"); tr.Pass == nil || !*tr.Pass || *tr.Value != 2000 {
		t.Errorf("2,000 B allocated per restored call: %+v, want met", tr)
	}
	r = restore(1_000_000, 4*time.Second, 2600)
	if tr := r.target("restore_seconds"); tr.Pass == nil || !*tr.Pass {
		t.Errorf("1,000,000 calls in 4 s: %+v, want met", tr)
	}
	if tr := r.target("restore_alloc_bytes_per_call"); tr.Pass == nil || *tr.Pass {
		t.Errorf("2,600 B allocated per restored call: %+v, want missed", tr)
	}
	var out bytes.Buffer
	r.WriteTable(&out)
	if !strings.Contains(out.String(), "4.000 s (250,000 restored calls/s = 0.25 × raw bbolt, 1,000,000 puts/s)") {
		t.Errorf("table lacks the restore's context:\n%s", out.String())
	}
}

// The webrtc target is set at 200 calls or more: fewer are n/a, never
// MISSED; at 200 or more it judges the calls carried with < 1 % loss.
func TestWebRTCTargetAtItsScale(t *testing.T) {
	judge := func(calls, carried int) TargetResult {
		r := newReport(Options{Workload: "webrtc"})
		r.setWebRTC(WebRTCResult{Calls: calls, SetUp: calls, Carried: carried, Setup: time.Second, SetupsPerSec: float64(calls),
			Window: time.Second, Sent: uint64(100 * calls), Received: uint64(99 * calls), Loss: 0.01, Load1: -1})
		r.judge()
		return *r.target("webrtc_calls_carried")
	}
	if tr := judge(10, 0); tr.Pass != nil || tr.Verdict() != "n/a: at 10 relayed calls, target set at 200 or more" {
		t.Errorf("at 10 calls: %+v", tr)
	}
	if tr := judge(200, 199); tr.Pass == nil || *tr.Pass {
		t.Errorf("200 calls, 199 carried: %+v, want missed", tr)
	}
	if tr := judge(200, 200); tr.Pass == nil || !*tr.Pass {
		t.Errorf("200 calls carried: %+v, want met", tr)
	}
	if tr := judge(300, 250); tr.Pass == nil || !*tr.Pass || *tr.Value != 250 {
		t.Errorf("300 calls, 250 carried: %+v, want met", tr)
	}
	r := newReport(Options{Workload: "webrtc"})
	r.setWebRTC(WebRTCResult{Calls: 3, SetUp: 3, Carried: 3, Setup: time.Second, SetupsPerSec: 3, SetupP50: 70 * time.Millisecond,
		SetupP99: 90 * time.Millisecond, SetupMax: 90 * time.Millisecond, Window: 2 * time.Second, Sent: 600, Received: 597,
		Loss: 0.005, PacketsPerSec: 298.5, HaveCPU: true, ServerCPU: 120 * time.Millisecond, ClientCPU: 400 * time.Millisecond,
		HaveRSS: true, RSSBefore: 1 << 20, RSSAfter: 1<<20 + 3*50_000, Load1: 1.5})
	r.judge()
	var out bytes.Buffer
	r.WriteTable(&out)
	for _, s := range []string{"3 of 3 set up (3 asked, 0 failed to set up)", "0.500 % of 600 packets in 2.0 s",
		"20.0 ms per call-second = 2.00 % of a core (server 0.06 cores, load generator 0.20 cores)", "resident 50,000 B", "1.50"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, out.String())
		}
	}
	if r.WebRTCHeapBytesPerCall != nil || r.WebRTCRelayPacketsIn != nil {
		t.Error("figures not measured are reported")
	}
}

// lifecycleAt is a lifecycle pass of 10,000 calls in a second at the given
// callers and events per second (6 events a call).
func lifecycleAt(callers int, eventsPerSec float64) LifecycleResult {
	return LifecycleResult{Calls: 10_000, Concurrency: callers, Events: 60_000, Elapsed: time.Second, Stopped: "count",
		CallsPerSec: eventsPerSec / 6, EventsPerSec: eventsPerSec, AllocsPerCall: 50, AllocBytesPerCall: 9000}
}

// The throughput targets are ratios to raw bbolt of the same run: the same
// absolute figure meets them on a slow disk and misses them on a fast one.
func TestRatioTargetsAreJudgedAgainstRawBbolt(t *testing.T) {
	judge := func(eventsPerSec, appendsPerSec, raw float64) *Report {
		r := newReport(Options{Workload: "all"})
		r.setLifecycle(lifecycleAt(1000, eventsPerSec), false)
		r.setAppends(AppendsResult{Records: 500_000, Writers: 1000, EventsPerSec: appendsPerSec, RawEventsPerSec: raw, Ratio: appendsPerSec / raw})
		r.judge()
		return r
	}
	r := judge(300_000, 560_000, 1_000_000)
	if *r.RawBboltPutsPerSec != 1_000_000 || r.RawBboltFrom != "journal" || *r.LifecycleRatioToRaw != 0.3 {
		t.Errorf("reference %v from %q, lifecycle ratio %v", *r.RawBboltPutsPerSec, r.RawBboltFrom, *r.LifecycleRatioToRaw)
	}
	life, appends := r.target("lifecycle_events_per_sec"), r.target("events_per_sec")
	if life.Pass == nil || !*life.Pass || *life.Ratio != 0.3 || *life.Value != 300_000 || *life.RawBboltPutsPerSec != 1_000_000 {
		t.Errorf("lifecycle at 0.30 × raw: %+v, want met", life)
	}
	if appends.Pass == nil || !*appends.Pass || *appends.Ratio != 0.56 {
		t.Errorf("appends at 0.56 × raw: %+v, want met", appends)
	}
	var out bytes.Buffer
	r.WriteTable(&out)
	for _, s := range []string{
		"300,000 events/s = 0.30 × raw bbolt (1,000,000 puts/s)",
		"560,000 events/s = 0.56 × raw bbolt (1,000,000 puts/s)",
		"raw bbolt: 1,000,000 puts/s, 1,000 puts per transaction, measured by the journal workload of this run",
	} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, out.String())
		}
	}
	// The same figures beside a faster disk miss.
	r = judge(300_000, 560_000, 1_200_000)
	life, appends = r.target("lifecycle_events_per_sec"), r.target("events_per_sec")
	if life.Pass == nil || *life.Pass || *life.Ratio != 0.25 {
		t.Errorf("lifecycle at 0.25 × raw: %+v, want missed", life)
	}
	if appends.Pass == nil || *appends.Pass {
		t.Errorf("appends at 0.47 × raw: %+v, want missed", appends)
	}
	out.Reset()
	r.WriteTable(&out)
	if !strings.Contains(out.String(), "= 0.25 × raw bbolt (1,200,000 puts/s)  MISSED") {
		t.Errorf("table lacks the missed ratio:\n%s", out.String())
	}

	// Without a journal workload the reference is the probe's.
	r = newReport(Options{Workload: "lifecycle"})
	r.setLifecycle(lifecycleAt(1000, 350_000), false)
	r.setRawProbe(RawBoltResult{Puts: 800_000, PerTx: 1000, Elapsed: time.Second, PutsPerSec: 800_000})
	r.judge()
	if tr := r.target("lifecycle_events_per_sec"); r.RawBboltFrom != "probe" || tr.Pass == nil || !*tr.Pass || *tr.Ratio != 0.4375 {
		t.Errorf("lifecycle beside the probe: from %q, %+v", r.RawBboltFrom, tr)
	}
	out.Reset()
	r.WriteTable(&out)
	if !strings.Contains(out.String(), "raw bbolt: 800,000 puts/s, 1,000 puts per transaction, measured by a probe of this run (800,000 puts)") {
		t.Errorf("table lacks the probe:\n%s", out.String())
	}

	// No raw bbolt at all: a ratio target cannot be judged.
	r = newReport(Options{Workload: "lifecycle"})
	r.setLifecycle(lifecycleAt(1000, 350_000), false)
	r.judge()
	if tr := r.target("lifecycle_events_per_sec"); tr.Pass != nil || tr.Note != "raw bbolt not measured in this run" || tr.Ratio != nil {
		t.Errorf("no raw bbolt: %+v", tr)
	}
}

// At another number of callers or appenders the ratio targets are n/a, the
// figure and its ratio shown; never MISSED.
func TestRatioTargetsAtAnotherScaleAreNotJudged(t *testing.T) {
	r := newReport(Options{Workload: "all"})
	r.setLifecycle(lifecycleAt(100, 10_000), false) // 0.01 × raw: far below, but at 100 callers
	r.setAppends(AppendsResult{Records: 20_000, Writers: 100, EventsPerSec: 10_000, RawEventsPerSec: 1_000_000, Ratio: 0.01})
	r.judge()
	life, appends := r.target("lifecycle_events_per_sec"), r.target("events_per_sec")
	if life.Pass != nil || life.Verdict() != "n/a: at 100 lifecycle callers, target set at 1,000" || *life.Ratio != 0.01 {
		t.Errorf("lifecycle at 100 callers: %+v", life)
	}
	if appends.Pass != nil || appends.Verdict() != "n/a: at 100 journal appenders, target set at 1,000" {
		t.Errorf("appends from 100 writers: %+v", appends)
	}
	var out bytes.Buffer
	r.WriteTable(&out)
	if strings.Contains(out.String(), "MISSED") || !strings.Contains(out.String(), "10,000 events/s = 0.01 × raw bbolt (1,000,000 puts/s)  n/a: at 100 lifecycle callers") {
		t.Errorf("table:\n%s", out.String())
	}
}

// The scaling and call history targets compare lifecycle passes of the same
// run; without those passes they are n/a, not measured.
func TestLifecyclePassTargets(t *testing.T) {
	r := newReport(Options{Workload: "lifecycle"})
	r.setLifecycle(lifecycleAt(1000, 300_000), false)
	r.judge()
	for f, hint := range map[string]string{"lifecycle_5000_vs_1000": "--callers 1000,5000", "history_calls_per_sec_drop": "--history-pass"} {
		if tr := r.target(f); tr.Pass != nil || tr.Value != nil || tr.Note != "not measured (run with "+hint+")" {
			t.Errorf("%s with one pass: %+v", f, tr)
		}
	}
	if tr := r.target("allocs_per_call"); tr.Pass == nil || !*tr.Pass || *tr.Value != 50 {
		t.Errorf("50 allocations per call: %+v, want met", tr)
	}

	passes := func(at5000, historyOnEventsPerSec float64) *Report {
		r := newReport(Options{Workload: "lifecycle"})
		r.setLifecycle(lifecycleAt(1000, 300_000), false)
		r.setLifecycle(lifecycleAt(5000, at5000), false)
		r.setLifecycle(lifecycleAt(1000, historyOnEventsPerSec), true)
		r.judge()
		return r
	}
	r = passes(330_000, 270_000) // 1.1 × at 5,000; 10 % below with the history
	if *r.CallsPerSec != 50_000 || *r.LifecycleConcurrency != 1000 || len(r.LifecyclePasses) != 3 {
		t.Errorf("the first pass gives the figures: %v calls/s at %v callers, %d passes", *r.CallsPerSec, *r.LifecycleConcurrency, len(r.LifecyclePasses))
	}
	if tr := r.target("lifecycle_5000_vs_1000"); tr.Pass == nil || !*tr.Pass || math.Abs(*tr.Value-1.1) > 1e-9 {
		t.Errorf("1.1 × at 5,000 callers: %+v, want met", tr)
	}
	if tr := r.target("history_calls_per_sec_drop"); tr.Pass == nil || !*tr.Pass || math.Abs(*tr.Value-0.1) > 1e-9 {
		t.Errorf("10 %% below with the history: %+v, want met", tr)
	}
	r = passes(290_000, 240_000) // lower at 5,000; 20 % below with the history
	if tr := r.target("lifecycle_5000_vs_1000"); tr.Pass == nil || *tr.Pass {
		t.Errorf("lower at 5,000 callers: %+v, want missed", tr)
	}
	if tr := r.target("history_calls_per_sec_drop"); tr.Pass == nil || *tr.Pass || math.Abs(*tr.Value-0.2) > 1e-9 {
		t.Errorf("20 %% below with the history: %+v, want missed", tr)
	}
	var out bytes.Buffer
	r.WriteTable(&out)
	for _, s := range []string{"pass: 5,000 callers, call history off", "pass: 1,000 callers, call history on", "0.97 ×", "20.0 %"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, out.String())
		}
	}
	// The main pass with the history on: the pass without it is the base.
	r = newReport(Options{Workload: "lifecycle", History: true})
	r.setLifecycle(lifecycleAt(1000, 258_000), true)
	r.setLifecycle(lifecycleAt(1000, 300_000), false)
	r.judge()
	if tr := r.target("history_calls_per_sec_drop"); tr.Value == nil || math.Abs(*tr.Value-0.14) > 1e-9 || !*tr.Pass {
		t.Errorf("14 %% below, history on in the main pass: %+v", tr)
	}
	if r.target("lifecycle_5000_vs_1000").Value != nil {
		t.Error("scaling judged without a pass at 5,000 callers")
	}
	r = newReport(Options{Workload: "lifecycle"})
	r.setLifecycle(LifecycleResult{Calls: 10, Concurrency: 10, Events: 60, Elapsed: time.Second, CallsPerSec: 10, EventsPerSec: 60, AllocsPerCall: 147}, false)
	r.judge()
	if tr := r.target("allocs_per_call"); tr.Pass == nil || *tr.Pass {
		t.Errorf("147 allocations per call: %+v, want missed", tr)
	}
}

func TestReportTableAndJSONFile(t *testing.T) {
	r := newReport(Options{Workload: "all", Calls: 100, Concurrency: 10})
	r.setLifecycle(LifecycleResult{Calls: 100, Concurrency: 10, Events: 600, Commands: 500, Elapsed: time.Second,
		CallsPerSec: 100, EventsPerSec: 600, P50: time.Millisecond, P90: 2 * time.Millisecond, P99: 3 * time.Millisecond,
		P999: 4 * time.Millisecond, Max: 5 * time.Millisecond, Latency: NewHistogram(), Stopped: "count"}, false)
	r.setReplay(ReplayResult{Events: 1000, Passes: 1, Streams: 10, Elapsed: time.Millisecond, EventsPerSec: 1e6, Stopped: "count"}, []string{"j"})
	r.fail("soak", errString("boom"))
	r.judge()
	var out bytes.Buffer
	if err := r.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"workload", "figure", "complete calls/s", "1.00 / 2.00 / 3.00 / 4.00 / 5.00 ms", "events folded/s", "1,000,000",
		"n/a: at 10 lifecycle callers, target set at 1,000", "raw bbolt: not measured in this run", "FAILED", "boom"} {
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
