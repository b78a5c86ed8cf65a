package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"text/tabwriter"
)

// Target is a figure the project aims for. The machine is shared and noisy,
// so the targets on throughput are set as ratios to raw bbolt measured in
// the same run (Ratio): the engine is judged against what the disk and the
// CPU gave at that moment, not against a number taken on a quieter day.
type Target struct {
	Workload string  // the workload that measures it
	Figure   string  // JSON name of the figure judged
	Op       string  // ">=" or "<="
	Value    float64 // the bound; for a Ratio target, a multiple of raw bbolt puts/s
	// Ratio judges Figure ÷ raw bbolt puts/s (Report.RawBboltPutsPerSec)
	// against Value.
	Ratio bool
	Text  string // how it reads
	Unit  string // of the figure: "events/s", "s", "B", "allocs", "×" (a ratio), "%" (a fraction shown in percent)
	// Scale, if set, names the figure that gives the scale the target is
	// set at, and AtScale that scale: measured at any other (100 callers
	// instead of 1,000, 100,000 restored calls instead of 1,000,000), the
	// target is not judged. ScaleText names it in the note.
	Scale     string
	AtScale   float64
	ScaleText string
	// AtLeast judges the target at any scale of AtScale or more (300
	// relayed calls attempted for a target set at 200 or more).
	AtLeast bool
	// Also are further scales, each judged "at least" (a run of 60 s or
	// more, besides a rate of 1,000 calls/s or more).
	Also []Scale
	// Context, for an absolute target, names a rate whose ratio to raw
	// bbolt is printed beside it (ContextText says what it is).
	Context     string
	ContextText string
	// Hint says how to have the figure measured, for the note of a run
	// that did not.
	Hint string
}

// Scale is a figure that gives a scale a target is set at: judged only when
// the figure is at least AtLeast.
type Scale struct {
	Figure  string
	AtLeast float64
	Text    string // names the figure in the note
}

// Targets are the project's performance targets.
var Targets = []Target{
	{Workload: "lifecycle", Figure: "lifecycle_events_per_sec", Op: ">=", Value: 0.30, Ratio: true, Unit: "events/s",
		Text:  "life cycle events/s >= 0.30 × raw bbolt, 1,000 callers",
		Scale: "lifecycle_concurrency", AtScale: 1000, ScaleText: "lifecycle callers"},
	{Workload: "lifecycle", Figure: "lifecycle_5000_vs_1000", Op: ">=", Value: 1, Unit: "×",
		Text: "life cycle events/s at 5,000 callers >= at 1,000", Hint: "run with --callers 1000,5000"},
	{Workload: "lifecycle", Figure: "allocs_per_call", Op: "<=", Value: 60, Unit: "allocs",
		Text: "<= 60 allocations per call life cycle"},
	{Workload: "journal", Figure: "events_per_sec", Op: ">=", Value: 0.55, Ratio: true, Unit: "events/s",
		Text:  "durable appends >= 0.55 × raw bbolt, 1,000 appenders",
		Scale: "journal_writers", AtScale: 1000, ScaleText: "journal appenders"},
	{Workload: "lifecycle", Figure: "history_calls_per_sec_drop", Op: "<=", Value: 0.15, Unit: "%",
		Text: "calls/s with the call history on <= 15 % below off", Hint: "run with --history-pass"},
	{Workload: "restore", Figure: "restore_seconds", Op: "<=", Value: 5, Unit: "s",
		Text:  "restore of 1,000,000 live calls <= 5 s",
		Scale: "restored_calls", AtScale: 1_000_000, ScaleText: "restored calls",
		Context: "restored_calls_per_sec", ContextText: "restored calls/s"},
	{Workload: "restore", Figure: "restore_alloc_bytes_per_call", Op: "<=", Value: 2560, Unit: "B",
		Text:  "<= 2.5 KiB allocated per restored call, 1,000,000 calls",
		Scale: "restored_calls", AtScale: 1_000_000, ScaleText: "restored calls"},
	{Workload: "soak", Figure: "heap_bytes_per_live_call", Op: "<=", Value: 2048, Unit: "B",
		Text:  "<= 2,048 B heap per live call, 1,000,000 calls",
		Scale: "live_calls", AtScale: 1_000_000, ScaleText: "live calls"},
	{Workload: "replay", Figure: "replay_events_per_sec", Op: ">=", Value: 1_000_000, Unit: "events/s",
		Text: ">= 1,000,000 replay events/s", Context: "replay_events_per_sec", ContextText: "replay events/s"},
	{Workload: "webrtc", Figure: "webrtc_calls_carried", Op: ">=", Value: 200, Unit: "calls",
		Text:  ">= 200 concurrent relayed calls with < 1 % loss",
		Scale: "webrtc_calls", AtScale: 200, AtLeast: true, ScaleText: "relayed calls"},
	{Workload: "sip", Figure: "sip_calls_per_sec", Op: ">=", Value: 1000, Unit: "calls/s",
		Text:  ">= 1,000 complete SIP calls/s for 60 s, sipp included",
		Scale: "sip_rate", AtScale: 1000, AtLeast: true, ScaleText: "SIP calls/s offered",
		Also: []Scale{{Figure: "sip_duration_seconds", AtLeast: 60, Text: "s of SIP calls"}},
		Hint: "run with --workload sip --sip-rate 1050 --sip-duration 60s"},
	{Workload: "sip", Figure: "sip_failed_calls", Op: "<=", Value: 0, Unit: "calls",
		Text: "0 failed SIP calls"},
	{Workload: "sip", Figure: "sip_calls_not_journaled", Op: "<=", Value: 0, Unit: "calls",
		Text: "every complete SIP call journaled durably (ended in the journal)"},
}

// TargetResult judges one target. Pass is null when the figure was not
// measured, or not at the scale the target is set for, or (a ratio target)
// when raw bbolt was not measured.
type TargetResult struct {
	Figure string   `json:"figure"`
	Target string   `json:"target"`
	Value  *float64 `json:"value"`
	Pass   *bool    `json:"pass"`
	Note   string   `json:"note,omitempty"`
	// Ratio is, for a ratio target, Value ÷ RawBboltPutsPerSec, the figure
	// judged; for an absolute target with a context, the context figure ÷
	// RawBboltPutsPerSec, shown beside it and not judged.
	Ratio              *float64 `json:"ratio,omitempty"`
	RawBboltPutsPerSec *float64 `json:"raw_bbolt_puts_per_sec,omitempty"`
	Context            string   `json:"context,omitempty"`       // what Ratio divides when it is not Value
	ContextValue       *float64 `json:"context_value,omitempty"` // its value
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

// derive computes the figures made of others: the raw bbolt reference (the
// journal workload's raw bbolt when it ran, else the probe's), the ratios to
// it, and what the lifecycle passes compare.
func (r *Report) derive() {
	if r.RawBboltEventsPerSec != nil {
		r.RawBboltPutsPerSec, r.RawBboltFrom = f64(*r.RawBboltEventsPerSec), "journal"
	}
	r.LifecycleRatioToRaw = nil
	if r.LifecycleEventsPerSec != nil && r.RawBboltPutsPerSec != nil && *r.RawBboltPutsPerSec > 0 {
		r.LifecycleRatioToRaw = f64(*r.LifecycleEventsPerSec / *r.RawBboltPutsPerSec)
	}
	r.LifecycleScaling, r.HistoryCallsPerSecDrop = nil, nil
	if len(r.LifecyclePasses) == 0 {
		return
	}
	// Scaling: events/s at 5,000 callers over 1,000, the call history as in
	// the main pass.
	var at1k, at5k *LifecyclePass
	for i := range r.LifecyclePasses {
		p := &r.LifecyclePasses[i]
		if p.History != r.LifecyclePasses[0].History {
			continue
		}
		if p.Callers == 1000 && at1k == nil {
			at1k = p
		}
		if p.Callers == 5000 && at5k == nil {
			at5k = p
		}
	}
	if at1k != nil && at5k != nil && at1k.EventsPerSec > 0 {
		r.LifecycleScaling = f64(at5k.EventsPerSec / at1k.EventsPerSec)
	}
	// The call history's cost: the main pass and the pass at the same
	// callers with the history the other way.
	main := r.LifecyclePasses[0]
	for _, p := range r.LifecyclePasses[1:] {
		if p.Callers == main.Callers && p.History != main.History {
			on, off := p, main
			if main.History {
				on, off = main, p
			}
			if off.CallsPerSec > 0 {
				r.HistoryCallsPerSecDrop = f64(1 - on.CallsPerSec/off.CallsPerSec)
			}
			break
		}
	}
}

func (r *Report) judge() {
	r.derive()
	figs := r.figures()
	raw, haveRaw := figs["raw_bbolt_puts_per_sec"]
	haveRaw = haveRaw && raw > 0
	r.Targets = r.Targets[:0]
	for _, t := range Targets {
		r.Targets = append(r.Targets, t.judge(figs, raw, haveRaw))
	}
}

func (t Target) judge(figs map[string]float64, raw float64, haveRaw bool) TargetResult {
	tr := TargetResult{Figure: t.Figure, Target: t.Text}
	v, ok := figs[t.Figure]
	if !ok {
		tr.Note = "not measured"
		if t.Hint != "" {
			tr.Note += " (" + t.Hint + ")"
		}
		return tr
	}
	tr.Value = f64(v)
	if haveRaw && (t.Ratio || t.Context != "") {
		tr.RawBboltPutsPerSec = f64(raw)
		if t.Ratio {
			tr.Ratio = f64(v / raw)
		} else if c, ok := figs[t.Context]; ok {
			tr.Ratio, tr.Context, tr.ContextValue = f64(c/raw), t.ContextText, f64(c)
		}
	}
	if t.Scale != "" {
		if at, ok := figs[t.Scale]; !ok || at != t.AtScale && !(t.AtLeast && at > t.AtScale) {
			// Judged only at the scale the target is set for.
			tr.Note = fmt.Sprintf("at %s %s, target set at %s", count(int64(at)), t.ScaleText, count(int64(t.AtScale)))
			if t.AtLeast {
				tr.Note += " or more"
			}
			return tr
		}
		for _, a := range t.Also {
			if at, ok := figs[a.Figure]; !ok || at < a.AtLeast {
				tr.Note = fmt.Sprintf("at %s %s, target set at %s or more", formatFigure(at), a.Text, formatFigure(a.AtLeast))
				return tr
			}
		}
	}
	judged := v
	if t.Ratio {
		if !haveRaw {
			tr.Note = "raw bbolt not measured in this run"
			return tr
		}
		judged = *tr.Ratio
	}
	pass := judged >= t.Value
	if t.Op == "<=" {
		pass = judged <= t.Value
	}
	tr.Pass = &pass
	return tr
}

func (r *Report) target(figure string) *TargetResult {
	for i := range r.Targets {
		if r.Targets[i].Figure == figure {
			return &r.Targets[i]
		}
	}
	return nil
}

// Verdict is how the table reads a judged target: "met", "MISSED" or
// "n/a: " and why.
func (tr TargetResult) Verdict() string {
	switch {
	case tr.Pass == nil:
		return "n/a: " + tr.Note
	case *tr.Pass:
		return "met"
	default:
		return "MISSED"
	}
}

// writeTargets writes the targets table: each target, the figure it judged
// (with its ratio to raw bbolt and the raw figure used, for a ratio target
// or an absolute one with a context) and the verdict.
func (r *Report) writeTargets(w io.Writer) error {
	unit, workload := map[string]string{}, map[string]string{}
	for _, t := range Targets {
		unit[t.Figure], workload[t.Figure] = t.Unit, t.Workload
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "workload\ttarget\tmeasured\tverdict\n")
	for _, tr := range r.Targets {
		value := "—"
		if tr.Value != nil {
			value = formatTargetValue(*tr.Value, unit[tr.Figure])
		}
		if tr.Ratio != nil {
			raw := count(int64(*tr.RawBboltPutsPerSec + 0.5))
			switch {
			case tr.Context == "":
				value += fmt.Sprintf(" = %.2f × raw bbolt (%s puts/s)", *tr.Ratio, raw)
			case tr.ContextValue != nil && tr.Value != nil && *tr.ContextValue != *tr.Value:
				value += fmt.Sprintf(" (%s %s = %.2f × raw bbolt, %s puts/s)", count(int64(*tr.ContextValue+0.5)), tr.Context, *tr.Ratio, raw)
			default:
				value += fmt.Sprintf(" (%.2f × raw bbolt, %s puts/s)", *tr.Ratio, raw)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", workload[tr.Figure], tr.Target, value, tr.Verdict())
	}
	return tw.Flush()
}

func formatTargetValue(v float64, unit string) string {
	switch unit {
	case "s":
		return fmt.Sprintf("%.3f s", v)
	case "×":
		return fmt.Sprintf("%.2f ×", v)
	case "%":
		return fmt.Sprintf("%.1f %%", v*100)
	case "":
		return formatFigure(v)
	}
	if math.Abs(v) >= 1000 {
		return count(int64(math.Round(v))) + " " + unit
	}
	return sig3(v) + " " + unit
}
