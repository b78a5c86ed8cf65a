package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is what a bench run measured, as written by `callengine bench
// --json`. A figure that the run did not measure is nil and absent from the
// JSON: never a zero that was not measured.
type Report struct {
	Workload       string    `json:"workload"` // "all" or the one workload run
	StartedAt      time.Time `json:"started_at"`
	ElapsedSeconds float64   `json:"elapsed_seconds"`
	GoVersion      string    `json:"go_version"`
	OS             string    `json:"goos"`
	Arch           string    `json:"goarch"`
	NumCPU         int       `json:"num_cpu"`
	GOMAXPROCS     int       `json:"gomaxprocs"`
	Quick          bool      `json:"quick"`
	History        bool      `json:"history,omitempty"` // the call history projection was on
	Params         Params    `json:"params"`

	// lifecycle: complete durable call life cycles.
	CallsPerSec           *float64 `json:"calls_per_sec,omitempty"`
	LifecycleCalls        *int64   `json:"lifecycle_calls,omitempty"`
	LifecycleEvents       *int64   `json:"lifecycle_events,omitempty"`
	LifecycleEventsPerSec *float64 `json:"lifecycle_events_per_sec,omitempty"`
	LifecycleSeconds      *float64 `json:"lifecycle_seconds,omitempty"`
	LifecycleStopped      string   `json:"lifecycle_stopped,omitempty"` // "count" or "duration"
	LifecycleConcurrency  *int64   `json:"lifecycle_concurrency,omitempty"`
	// Command latency, call → durable answer, from an HDR histogram.
	Commands           *int64            `json:"commands,omitempty"`
	P50Ms              *float64          `json:"p50_ms,omitempty"`
	P90Ms              *float64          `json:"p90_ms,omitempty"`
	P99Ms              *float64          `json:"p99_ms,omitempty"`
	P999Ms             *float64          `json:"p999_ms,omitempty"`
	MaxMs              *float64          `json:"max_ms,omitempty"`
	LatencyPercentiles []PercentilePoint `json:"latency_percentiles,omitempty"`

	// journal: durable appends beside raw bbolt, same run.
	EventsPerSec         *float64 `json:"events_per_sec,omitempty"`
	RawBboltEventsPerSec *float64 `json:"raw_bbolt_events_per_sec,omitempty"`
	RatioToRaw           *float64 `json:"ratio_to_raw,omitempty"`
	JournalRecords       *int64   `json:"journal_records,omitempty"`
	JournalWriters       *int64   `json:"journal_writers,omitempty"`

	// soak: live calls held.
	LiveCalls            *int64   `json:"live_calls,omitempty"`
	HeapBytesPerLiveCall *float64 `json:"heap_bytes_per_live_call,omitempty"`
	SoakSetupSeconds     *float64 `json:"soak_setup_seconds,omitempty"`
	SoakStopped          string   `json:"soak_stopped,omitempty"`

	// restore: engine.Open on the soak's journal.
	RestoreSeconds  *float64 `json:"restore_seconds,omitempty"`
	RestoredCalls   *int64   `json:"restored_calls,omitempty"`
	RestoredClients *int64   `json:"restored_clients,omitempty"`
	RestoredEvents  *int64   `json:"restored_events,omitempty"`

	// replay: scan, decode and fold.
	ReplayEventsPerSec *float64 `json:"replay_events_per_sec,omitempty"`
	ReplayEvents       *int64   `json:"replay_events,omitempty"`
	ReplayPasses       *int64   `json:"replay_passes,omitempty"`
	ReplayStreams      *int64   `json:"replay_streams,omitempty"`
	ReplayStopped      string   `json:"replay_stopped,omitempty"`
	ReplayJournals     []string `json:"replay_journals,omitempty"`

	// Throughput over time, per workload: "lifecycle" in calls/s, "soak" in
	// calls set up/s, "replay" in events folded/s.
	Throughput map[string][]Sample `json:"throughput,omitempty"`
	Targets    []TargetResult      `json:"targets,omitempty"`
	// Errors holds the workloads that failed, with why.
	Errors map[string]string `json:"errors,omitempty"`
}

// Params are the parameters of the run.
type Params struct {
	Calls           int     `json:"calls"`
	Concurrency     int     `json:"concurrency"`
	Records         int     `json:"records"`
	RecordSize      int     `json:"record_size"`
	DurationSeconds float64 `json:"duration_seconds"`
	IntervalSeconds float64 `json:"interval_seconds"`
	ReplayPasses    int     `json:"replay_passes"`
	DataDir         string  `json:"data_dir"`
}

func paramsOf(o Options) Params {
	return Params{
		Calls: o.Calls, Concurrency: o.Concurrency, Records: o.Records, RecordSize: o.RecordSize,
		DurationSeconds: o.Duration.Seconds(), IntervalSeconds: o.Interval.Seconds(),
		ReplayPasses: o.ReplayPasses, DataDir: o.DataDir,
	}
}

func newReport(o Options) *Report {
	return &Report{
		Workload: o.Workload, StartedAt: time.Now().UTC().Truncate(time.Millisecond),
		GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
		NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), Quick: o.Quick, History: o.History,
		Params: paramsOf(o),
	}
}

func f64(v float64) *float64 { return &v }
func i64(v int64) *int64     { return &v }
func ms(d time.Duration) *float64 {
	return f64(float64(d) / float64(time.Millisecond))
}

func (r *Report) fail(workload string, err error) {
	if r.Errors == nil {
		r.Errors = make(map[string]string)
	}
	r.Errors[workload] = err.Error()
}

func (r *Report) series(workload string, s []Sample) {
	if len(s) == 0 {
		return
	}
	if r.Throughput == nil {
		r.Throughput = make(map[string][]Sample)
	}
	r.Throughput[workload] = s
}

func (r *Report) setLifecycle(l LifecycleResult) {
	if l.Calls == 0 {
		return // nothing completed: nothing measured
	}
	r.CallsPerSec = f64(l.CallsPerSec)
	r.LifecycleCalls = i64(int64(l.Calls))
	r.LifecycleEvents = i64(int64(l.Events))
	r.LifecycleEventsPerSec = f64(l.EventsPerSec)
	r.LifecycleSeconds = f64(l.Elapsed.Seconds())
	r.LifecycleStopped = l.Stopped
	r.LifecycleConcurrency = i64(int64(l.Concurrency))
	if l.Commands > 0 {
		r.Commands = i64(l.Commands)
		r.P50Ms, r.P90Ms, r.P99Ms, r.P999Ms, r.MaxMs = ms(l.P50), ms(l.P90), ms(l.P99), ms(l.P999), ms(l.Max)
		r.LatencyPercentiles = PercentileCurve(l.Latency)
	}
	r.series("lifecycle", l.Throughput)
}

func (r *Report) setAppends(a AppendsResult) {
	r.EventsPerSec = f64(a.EventsPerSec)
	r.RawBboltEventsPerSec = f64(a.RawEventsPerSec)
	r.RatioToRaw = f64(a.Ratio)
	r.JournalRecords = i64(int64(a.Records))
	r.JournalWriters = i64(int64(a.Writers))
}

func (r *Report) setSoak(s SoakResult) {
	r.SoakSetupSeconds = f64(s.Setup.Seconds())
	r.SoakStopped = s.Stopped
	r.LiveCalls = i64(int64(s.LiveCalls))
	if s.LiveCalls > 0 {
		r.HeapBytesPerLiveCall = f64(s.HeapBytesPerCall)
	}
	r.series("soak", s.Throughput)
}

func (r *Report) setRestore(x RestoreResult) {
	r.RestoreSeconds = f64(x.Elapsed.Seconds())
	r.RestoredCalls = i64(int64(x.LiveCalls))
	r.RestoredClients = i64(int64(x.Clients))
	r.RestoredEvents = i64(int64(x.Events))
}

func (r *Report) setReplay(x ReplayResult, paths []string) {
	r.ReplayEvents = i64(x.Events)
	r.ReplayPasses = i64(int64(x.Passes))
	r.ReplayStreams = i64(int64(x.Streams))
	r.ReplayStopped = x.Stopped
	r.ReplayJournals = paths
	if x.Events > 0 {
		r.ReplayEventsPerSec = f64(x.EventsPerSec)
	}
	r.series("replay", x.Throughput)
}

// Target is a figure the project aims for.
type Target struct {
	Figure string  // JSON name of the figure
	Op     string  // ">=" or "<="
	Value  float64 // the bound
	Text   string  // how it reads
	// Scale, if set, names the figure that must reach MinScale for the
	// target to apply (heap per live call is judged at 100,000 calls).
	Scale    string
	MinScale float64
}

// Targets are the project's performance targets (docs/performance.md).
var Targets = []Target{
	{Figure: "events_per_sec", Op: ">=", Value: 150_000, Text: ">= 150,000 durable events/s, 1,000 writers",
		Scale: "journal_writers", MinScale: 1000},
	{Figure: "calls_per_sec", Op: ">=", Value: 20_000, Text: ">= 20,000 calls/s, 1,000 callers",
		Scale: "lifecycle_concurrency", MinScale: 1000},
	{Figure: "heap_bytes_per_live_call", Op: "<=", Value: 4096, Text: "<= 4 KiB per live call at 100,000 calls",
		Scale: "live_calls", MinScale: 100_000},
	{Figure: "restore_seconds", Op: "<=", Value: 2, Text: "<= 2 s for 100,000 live calls",
		Scale: "restored_calls", MinScale: 100_000},
	{Figure: "replay_events_per_sec", Op: ">=", Value: 1_000_000, Text: ">= 1,000,000 events/s"},
}

// TargetResult judges one target. Pass is null when the figure was not
// measured, or not at the scale the target is set for.
type TargetResult struct {
	Figure string   `json:"figure"`
	Target string   `json:"target"`
	Value  *float64 `json:"value"`
	Pass   *bool    `json:"pass"`
	Note   string   `json:"note,omitempty"`
}

// figures returns the report's figures by JSON name (measured ones only).
func (r *Report) figures() map[string]float64 {
	b, err := json.Marshal(r)
	if err != nil {
		return nil
	}
	return numericFields(b)
}

// numericFields returns the top-level numbers of a JSON object.
func numericFields(b []byte) map[string]float64 {
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	out := make(map[string]float64)
	for k, v := range m {
		if f, ok := v.(float64); ok {
			out[k] = f
		}
	}
	return out
}

func (r *Report) judge() {
	figs := r.figures()
	r.Targets = r.Targets[:0]
	for _, t := range Targets {
		tr := TargetResult{Figure: t.Figure, Target: t.Text}
		v, ok := figs[t.Figure]
		if !ok {
			tr.Note = "not measured"
			r.Targets = append(r.Targets, tr)
			continue
		}
		tr.Value = f64(v)
		if t.Scale != "" && figs[t.Scale] < t.MinScale {
			// Judged only at the scale the target is set for.
			tr.Note = fmt.Sprintf("at %s %s, target set at %s", count(int64(figs[t.Scale])),
				strings.ReplaceAll(t.Scale, "_", " "), count(int64(t.MinScale)))
			r.Targets = append(r.Targets, tr)
			continue
		}
		pass := v >= t.Value
		if t.Op == "<=" {
			pass = v <= t.Value
		}
		tr.Pass = &pass
		r.Targets = append(r.Targets, tr)
	}
}

func (r *Report) target(figure string) *TargetResult {
	for i := range r.Targets {
		if r.Targets[i].Figure == figure {
			return &r.Targets[i]
		}
	}
	return nil
}

// WriteJSON writes the report, indented, to path ("-" for w).
func (r *Report) WriteJSON(path string, w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = w.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// WriteTable writes the summary table: one line per figure, with its target
// and verdict where there is one.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "workload\tfigure\tvalue\ttarget\tverdict\n")
	row := func(workload, figure, value, targetFigure string) {
		tgt, verdict := "", ""
		if t := r.target(targetFigure); t != nil && targetFigure != "" {
			tgt = t.Target
			switch {
			case t.Pass == nil:
				verdict = "n/a: " + t.Note
			case *t.Pass:
				verdict = "met"
			default:
				verdict = "MISSED"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", workload, figure, value, tgt, verdict)
	}
	num := func(p *float64) string { return count(int64(*p + 0.5)) }
	if r.CallsPerSec != nil {
		row("lifecycle", "complete calls/s", num(r.CallsPerSec), "calls_per_sec")
		row("lifecycle", "durable events/s", num(r.LifecycleEventsPerSec), "")
		row("lifecycle", "calls, time", fmt.Sprintf("%s in %.2f s (stopped by %s)", count(*r.LifecycleCalls), *r.LifecycleSeconds, r.LifecycleStopped), "")
	}
	if r.P50Ms != nil {
		row("lifecycle", "command latency p50 / p90 / p99 / p99.9 / max",
			fmt.Sprintf("%s / %s / %s / %s / %s ms", sig3(*r.P50Ms), sig3(*r.P90Ms), sig3(*r.P99Ms), sig3(*r.P999Ms), sig3(*r.MaxMs)), "")
	}
	if r.EventsPerSec != nil {
		row("journal", "durable appends (events/s)", num(r.EventsPerSec), "events_per_sec")
		row("journal", "raw bbolt, 1,000 puts/tx (events/s)", num(r.RawBboltEventsPerSec), "")
		row("journal", "ratio to raw bbolt", fmt.Sprintf("%.2f", *r.RatioToRaw), "")
	}
	if r.LiveCalls != nil {
		row("soak", "live calls held", count(*r.LiveCalls), "")
	}
	if r.HeapBytesPerLiveCall != nil {
		row("soak", "heap per live call (bytes)", num(r.HeapBytesPerLiveCall), "heap_bytes_per_live_call")
	}
	if r.RestoreSeconds != nil {
		row("restore", "time to reopen", fmt.Sprintf("%.3f s (%s live calls, %s clients, %s events)",
			*r.RestoreSeconds, count(*r.RestoredCalls), count(*r.RestoredClients), count(*r.RestoredEvents)), "restore_seconds")
	}
	if r.ReplayEventsPerSec != nil {
		row("replay", "events folded/s", num(r.ReplayEventsPerSec), "replay_events_per_sec")
		row("replay", "events, passes", fmt.Sprintf("%s in %d pass(es) over %s streams (stopped by %s)",
			count(*r.ReplayEvents), *r.ReplayPasses, count(*r.ReplayStreams), r.ReplayStopped), "")
	}
	for _, name := range Workloads {
		if msg, ok := r.Errors[name]; ok {
			row(name, "FAILED", msg, "")
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	history := "call history off"
	if r.History {
		history = "call history on"
	}
	_, err := fmt.Fprintf(w, "%s, %d CPUs, %s/%s, %s; %.1f s in all\n", r.GoVersion, r.NumCPU, r.OS, r.Arch, history, r.ElapsedSeconds)
	return err
}
