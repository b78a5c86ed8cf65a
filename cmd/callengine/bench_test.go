package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callengine/callengine/bench"
)

func runBench(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errs bytes.Buffer
	code = run(context.Background(), append([]string{"bench"}, args...), &out, &errs)
	return code, out.String(), errs.String()
}

func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("report is not JSON: %v", err)
	}
	return m
}

// The smoke run of the test suite: every workload, the report with every
// figure the issue names, the summary table, the plot and plain progress
// lines (the output is not a terminal).
func TestBenchQuick(t *testing.T) {
	dir := t.TempDir()
	report, plot := filepath.Join(dir, "r.json"), filepath.Join(dir, "p.svg")
	code, out, errs := runBench(t, "--quick", "--json", report, "--plot", plot, "--data", filepath.Join(dir, "data"))
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	m := readJSON(t, report)
	for _, k := range []string{"workload", "calls_per_sec", "events_per_sec", "raw_bbolt_events_per_sec", "ratio_to_raw",
		"p50_ms", "p99_ms", "p999_ms", "heap_bytes_per_live_call", "live_calls", "restore_seconds",
		"replay_events_per_sec", "go_version", "num_cpu", "started_at", "targets", "throughput", "latency_percentiles",
		"allocs_per_call", "raw_bbolt_puts_per_sec", "lifecycle_ratio_to_raw", "restore_alloc_bytes_per_call", "lifecycle_passes",
		"webrtc_calls", "webrtc_calls_carried", "webrtc_loss", "webrtc_setups_per_sec", "webrtc_setup_p50_ms", "webrtc_setup_p99_ms",
		"webrtc_packets_per_sec", "webrtc_server_cpu_ms_per_call_second", "webrtc_rss_bytes_per_call", "webrtc_heap_bytes_per_call",
		"sip_calls_per_sec", "sip_calls_completed", "sip_failed_calls", "sip_setup_p50_ms", "sip_setup_p99_ms", "sip_server_cpu_cores",
		"sip_uac_cpu_cores", "sip_uas_cpu_cores", "sip_calls_journaled", "sip_calls_not_journaled"} {
		v, ok := m[k]
		if !ok || v == nil {
			t.Errorf("report lacks %s", k)
		}
	}
	for _, k := range []string{"calls_per_sec", "events_per_sec", "raw_bbolt_events_per_sec", "ratio_to_raw", "p50_ms",
		"p99_ms", "p999_ms", "restore_seconds", "replay_events_per_sec"} {
		if v, _ := m[k].(float64); v <= 0 {
			t.Errorf("%s = %v, want > 0", k, m[k])
		}
	}
	if m["workload"] != "all" || m["quick"] != true || m["live_calls"] != 2000.0 || m["webrtc_calls"] != 10.0 {
		t.Errorf("workload %v, quick %v, live_calls %v, webrtc_calls %v", m["workload"], m["quick"], m["live_calls"], m["webrtc_calls"])
	}
	// The quick webrtc run: 10 calls through a serve child (this test
	// binary, see TestMain), 3 s of audio.
	if m["webrtc_calls_set_up"] != 10.0 || m["webrtc_window_seconds"].(float64) < 3 {
		t.Errorf("webrtc: %v calls set up, window %v s", m["webrtc_calls_set_up"], m["webrtc_window_seconds"])
	}
	// The quick sip run: 50 calls/s for 2 s, none failed, all journaled.
	if m["sip_calls_completed"] != 100.0 || m["sip_failed_calls"] != 0.0 || m["sip_calls_not_journaled"] != 0.0 {
		t.Errorf("sip: %v calls completed, %v failed, %v not journaled", m["sip_calls_completed"], m["sip_failed_calls"], m["sip_calls_not_journaled"])
	}
	if _, err := time.Parse(time.RFC3339, m["started_at"].(string)); err != nil {
		t.Errorf("started_at: %v", err)
	}
	if errors, ok := m["errors"]; ok {
		t.Errorf("errors: %v", errors)
	}
	for _, s := range []string{"workload", "figure", "verdict", "complete calls/s", "command latency p50",
		"durable appends", "raw bbolt", "heap per live call", "time to reopen", "events folded/s", "report: " + report, "plot: " + plot,
		"allocations per call", "× raw bbolt", "n/a: at 100 lifecycle callers, target set at 1,000",
		"n/a: at 2,000 restored calls, target set at 1,000,000", "measured by the journal workload of this run",
		"relayed calls carried", "call setups/s", "server CPU per call", "n/a: at 10 relayed calls, target set at 200 or more",
		"complete calls/s (INVITE … BYE", "n/a: at 50 SIP calls/s offered, target set at 1,000 or more"} {
		if !strings.Contains(out, s) {
			t.Errorf("stdout lacks %q:\n%s", s, out)
		}
	}
	for _, w := range bench.Workloads {
		if !strings.Contains(errs, "\n"+w) && !strings.HasPrefix(errs, w) {
			t.Errorf("no progress line from %s:\n%s", w, errs)
		}
	}
	if strings.Contains(errs, "\r") {
		t.Error("a progress bar was drawn to something that is not a terminal")
	}
	b, err := os.ReadFile(plot)
	if err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("plot is not valid XML: %v", err)
		}
	}
	if !bytes.Contains(b, []byte("<polyline")) {
		t.Error("the plot has no curve")
	}
}

// One workload reports its own figures: the others are absent, not zero.
func TestBenchOneWorkloadOmitsTheOthers(t *testing.T) {
	dir := t.TempDir()
	report, plot := filepath.Join(dir, "r.json"), filepath.Join(dir, "p.png")
	code, out, errs := runBench(t, "--workload", "lifecycle", "--calls", "200", "--concurrency", "10",
		"--json", report, "--plot", plot, "--progress", "off")
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, errs)
	}
	if errs != "" {
		t.Errorf("--progress off still wrote %q", errs)
	}
	m := readJSON(t, report)
	for _, k := range []string{"calls_per_sec", "p50_ms", "p99_ms", "p999_ms", "lifecycle_calls"} {
		if _, ok := m[k]; !ok {
			t.Errorf("%s missing", k)
		}
	}
	for _, k := range []string{"events_per_sec", "raw_bbolt_events_per_sec", "ratio_to_raw", "heap_bytes_per_live_call",
		"live_calls", "restore_seconds", "replay_events_per_sec"} {
		if v, ok := m[k]; ok {
			t.Errorf("%s = %v though not measured", k, v)
		}
	}
	// No journal workload: a probe measured the raw bbolt of the ratios.
	if m["raw_bbolt_from"] != "probe" || m["raw_bbolt_puts_per_sec"] == nil || !strings.Contains(out, "measured by a probe of this run") {
		t.Errorf("raw bbolt from %v, %v puts/s\n%s", m["raw_bbolt_from"], m["raw_bbolt_puts_per_sec"], out)
	}
	f, err := os.Open(plot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Fatalf("plot is not a PNG: %v", err)
	}
}

// --workload webrtc alone: --calls gives its calls and --duration its
// window; the server is a real `callengine serve` (this test binary run as
// the program, see TestMain); only its figures are reported.
func TestBenchWebRTC(t *testing.T) {
	dir := t.TempDir()
	report := filepath.Join(dir, "r.json")
	code, out, errs := runBench(t, "--workload", "webrtc", "--calls", "4", "--duration", "1s", "--json", report, "--progress", "lines")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	m := readJSON(t, report)
	if m["webrtc_calls"] != 4.0 || m["webrtc_calls_set_up"] != 4.0 || m["webrtc_calls_carried"] != 4.0 {
		t.Errorf("calls %v, set up %v, carried %v\n%s", m["webrtc_calls"], m["webrtc_calls_set_up"], m["webrtc_calls_carried"], out)
	}
	if w, _ := m["webrtc_window_seconds"].(float64); w < 1 || w > 2 {
		t.Errorf("window %v s, want about 1", m["webrtc_window_seconds"])
	}
	if s, _ := m["webrtc_sent_packets"].(float64); s < 4*2*25 {
		t.Errorf("%v packets sent in the window", m["webrtc_sent_packets"])
	}
	for _, k := range []string{"calls_per_sec", "events_per_sec", "live_calls", "restore_seconds", "replay_events_per_sec", "raw_bbolt_puts_per_sec"} {
		if v, ok := m[k]; ok {
			t.Errorf("%s = %v though not measured", k, v)
		}
	}
	for _, s := range []string{"serve ready on 127.0.0.1:", "8 clients logged in", "4 calls set up", "stopping serve"} {
		if !strings.Contains(errs, s) {
			t.Errorf("progress lacks %q:\n%s", s, errs)
		}
	}
	if strings.Contains(errs, "2,000 calls") || strings.Contains(errs, "100,000 calls") {
		t.Errorf("the note names the lifecycle's calls:\n%s", errs)
	}
}

// --callers runs a lifecycle pass per count and --history-pass one more;
// the report lists them and judges the history's cost.
func TestBenchLifecyclePasses(t *testing.T) {
	dir := t.TempDir()
	report := filepath.Join(dir, "r.json")
	code, out, errs := runBench(t, "--workload", "lifecycle", "--calls", "100", "--callers", "5,10", "--history-pass",
		"--json", report, "--progress", "lines")
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, errs)
	}
	m := readJSON(t, report)
	passes, _ := m["lifecycle_passes"].([]any)
	if len(passes) != 3 || m["lifecycle_concurrency"] != 5.0 {
		t.Fatalf("passes %v, concurrency %v", passes, m["lifecycle_concurrency"])
	}
	if p, _ := passes[2].(map[string]any); p["callers"] != 5.0 || p["history"] != true {
		t.Errorf("history pass %v", passes[2])
	}
	if _, ok := m["history_calls_per_sec_drop"].(float64); !ok {
		t.Errorf("history_calls_per_sec_drop %v", m["history_calls_per_sec_drop"])
	}
	for _, s := range []string{"pass: 10 callers, call history off", "pass: 5 callers, call history on",
		"n/a: not measured (run with --callers 1000,5000)"} {
		if !strings.Contains(out, s) {
			t.Errorf("stdout lacks %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, "n/a: not measured (run with --history-pass)") {
		t.Errorf("the history target not judged:\n%s", out)
	}
	if !strings.Contains(errs, "pass 3 of 3: 5 callers, call history on") {
		t.Errorf("no progress line of the third pass:\n%s", errs)
	}
}

// The --timeout bounds the whole run: a workload still running then fails,
// the others are reported, and the exit status says so.
func TestBenchTimeout(t *testing.T) {
	dir := t.TempDir()
	report := filepath.Join(dir, "r.json")
	code, out, errs := runBench(t, "--workload", "lifecycle", "--calls", "10000000", "--concurrency", "10",
		"--timeout", "300ms", "--json", report)
	if code != 1 || !strings.Contains(errs, "--timeout of 300ms") || !strings.Contains(out, "FAILED") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	m := readJSON(t, report)
	if _, ok := m["calls_per_sec"]; ok {
		t.Error("a run cut by the timeout reported calls/s")
	}
	if e, _ := m["errors"].(map[string]any); e["lifecycle"] == nil {
		t.Errorf("errors %v", m["errors"])
	}
}

func writeReport(t *testing.T, dir, name string, figs map[string]any) string {
	t.Helper()
	figs["workload"] = "all"
	b, _ := json.Marshal(figs)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBenchCompare(t *testing.T) {
	dir := t.TempDir()
	old := writeReport(t, dir, "old.json", map[string]any{"calls_per_sec": 20000, "p99_ms": 20, "heap_bytes_per_live_call": 1800, "replay_events_per_sec": 1.5e6})
	worse := writeReport(t, dir, "worse.json", map[string]any{"calls_per_sec": 15000, "p99_ms": 19, "heap_bytes_per_live_call": 1800})
	better := writeReport(t, dir, "better.json", map[string]any{"calls_per_sec": 24000, "p99_ms": 15, "heap_bytes_per_live_call": 1700, "replay_events_per_sec": 1.6e6})

	code, out, errs := runBench(t, "--compare", old, worse)
	if code != 1 || !strings.Contains(out, "REGRESSION") || !strings.Contains(out, "-25.0 %") || !strings.Contains(out, "1 regression(s)") {
		t.Errorf("regression: exit %d\n%s%s", code, out, errs)
	}
	// A figure missing from the new report is shown, not counted.
	if !strings.Contains(out, "missing in new") {
		t.Errorf("missing figure not shown:\n%s", out)
	}
	code, out, errs = runBench(t, "--compare", old, better)
	if code != 0 || strings.Contains(out, "REGRESSION") || !strings.Contains(out, "better") || !strings.Contains(out, "no regression") {
		t.Errorf("improvement: exit %d\n%s%s", code, out, errs)
	}
	// The threshold may follow the files.
	if code, out, _ := runBench(t, "--compare", old, worse, "--threshold", "30"); code != 0 {
		t.Errorf("threshold 30 %%: exit %d\n%s", code, out)
	}
	raw, err := os.ReadFile(worse)
	if err != nil {
		t.Fatal(err)
	}
	if code, out, errs := runWithStdin(t, raw, "bench", "--compare", old, "-"); code != 1 || !strings.Contains(out, "REGRESSION") {
		t.Errorf("--compare OLD -: exit %d, want 1 (the report on stdin is worse)\n%s%s", code, out, errs)
	}
	if code, _, errs := runBench(t, "--compare", "-", "-"); code != 2 || !strings.Contains(errs, "give - once") {
		t.Errorf("--compare - -: exit %d, %q", code, errs)
	}
	if code, _, errs := runBench(t, "--compare", old, filepath.Join(dir, "absent.json")); code != 2 || errs == "" {
		t.Errorf("absent report: exit %d, %q", code, errs)
	}
}

func TestBenchBadFlags(t *testing.T) {
	dir := t.TempDir()
	rep := writeReport(t, dir, "r.json", map[string]any{"calls_per_sec": 1})
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--workload", "nope"}, "unknown workload"},
		{[]string{"--calls", "0"}, "--calls"},
		{[]string{"--concurrency", "-1"}, "--concurrency"},
		{[]string{"--callers", "1000,x"}, `--callers: "x" is not a count`},
		{[]string{"--callers", "0"}, "--callers"},
		{[]string{"--callers", "1000,,5000"}, "--callers"},
		{[]string{"--live-calls", "-1"}, "--live-calls"},
		{[]string{"--webrtc-calls", "0"}, "--webrtc-calls"},
		{[]string{"--workload", "webrtc", "--calls", "5001"}, "--webrtc-calls (or --calls with --workload webrtc)"},
		{[]string{"--records", "0"}, "--records"},
		{[]string{"--duration", "0s"}, "--duration"},
		{[]string{"--duration", "soon"}, "invalid value"},
		{[]string{"--timeout", "-1s"}, "--timeout"},
		{[]string{"--interval", "1ms"}, "--interval"},
		{[]string{"--replay-passes", "0"}, "--replay-passes"},
		{[]string{"--plot", "out.jpg"}, ".svg or .png"},
		{[]string{"--progress", "fancy"}, "--progress"},
		{[]string{"--journal", filepath.Join(dir, "j.db")}, "--journal needs --workload replay"},
		{[]string{"--workload", "replay", "--journal", filepath.Join(dir, "absent.db")}, "--journal"},
		{[]string{"--frobnicate"}, "flag provided but not defined"},
		{[]string{"extra"}, "unexpected argument"},
		{[]string{"--compare", rep}, "two reports"},
		{[]string{"--compare", rep, rep, rep}, "two reports"},
		{[]string{"--compare", rep, rep, "--threshold", "-5"}, "--threshold"},
	} {
		code, _, errs := runBench(t, c.args...)
		if code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, errs, c.want)
		}
	}
	if code, out, errs := runBench(t, "-h"); code != 0 || !strings.Contains(errs+out, "--compare OLD.json NEW.json") {
		t.Errorf("-h: exit %d", code)
	}
}

// On a terminal the progress is one line redrawn with \r; elsewhere, lines.
func TestProgressView(t *testing.T) {
	var b bytes.Buffer
	v := newProgressView(&b, "bar")
	v.update(bench.Progress{Workload: "lifecycle", Phase: "calls", Total: 1000, Unit: "calls"})
	v.update(bench.Progress{Workload: "lifecycle", Phase: "calls", Done: 500, Total: 1000, Unit: "calls", Rate: 2000})
	v.update(bench.Progress{Workload: "lifecycle", Phase: "calls", Final: true, Message: "1,000 calls"})
	v.close()
	out := b.String()
	for _, s := range []string{"\r\033[K", "lifecycle calls [##########----------]  50%  500/1,000  2,000 calls/s", "0/1,000 calls", "lifecycle 1,000 calls\n"} {
		if !strings.Contains(out, s) {
			t.Errorf("bar output lacks %q: %q", s, out)
		}
	}
	b.Reset()
	v = newProgressView(&b, "auto") // a buffer is not a terminal
	for i := 0; i < 5; i++ {
		v.update(bench.Progress{Workload: "replay", Phase: "fold", Done: int64(i), Total: 5, Unit: "events"})
	}
	v.update(bench.Progress{Workload: "replay", Phase: "fold", Final: true, Message: "done"})
	v.close()
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if strings.Contains(b.String(), "\r") || len(lines) != 2 {
		t.Errorf("plain progress: %q (want the phase start and its end only: at most a line a second)", b.String())
	}
}
