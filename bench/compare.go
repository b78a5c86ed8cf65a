package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"text/tabwriter"
)

// Direction tells which way a figure improves.
type Direction int

const (
	HigherIsBetter Direction = iota
	LowerIsBetter
	// Informational figures are shown but never a regression: the raw
	// bbolt ceiling measures the machine, live_calls is a parameter.
	Informational
)

// Figure is a figure that Compare looks at.
type Figure struct {
	Name string // JSON name
	Dir  Direction
	Unit string
}

// CompareFigures are the figures Compare looks at, in the order it prints
// them.
var CompareFigures = []Figure{
	{"calls_per_sec", HigherIsBetter, "calls/s"},
	{"lifecycle_events_per_sec", HigherIsBetter, "events/s"},
	{"lifecycle_ratio_to_raw", HigherIsBetter, ""},
	{"lifecycle_5000_vs_1000", HigherIsBetter, ""},
	{"history_calls_per_sec_drop", LowerIsBetter, ""},
	{"allocs_per_call", LowerIsBetter, "allocs"},
	{"p50_ms", LowerIsBetter, "ms"},
	{"p90_ms", LowerIsBetter, "ms"},
	{"p99_ms", LowerIsBetter, "ms"},
	{"p999_ms", LowerIsBetter, "ms"},
	{"events_per_sec", HigherIsBetter, "events/s"},
	{"raw_bbolt_events_per_sec", Informational, "events/s"},
	{"ratio_to_raw", HigherIsBetter, ""},
	{"raw_bbolt_puts_per_sec", Informational, "puts/s"},
	{"live_calls", Informational, "calls"},
	{"heap_bytes_per_live_call", LowerIsBetter, "B"},
	{"restore_seconds", LowerIsBetter, "s"},
	{"restore_alloc_bytes_per_call", LowerIsBetter, "B"},
	{"replay_events_per_sec", HigherIsBetter, "events/s"},
	{"webrtc_calls", Informational, "calls"},
	{"webrtc_calls_carried", HigherIsBetter, "calls"},
	{"webrtc_loss", LowerIsBetter, ""},
	{"webrtc_setups_per_sec", HigherIsBetter, "calls/s"},
	{"webrtc_setup_p99_ms", LowerIsBetter, "ms"},
	{"webrtc_server_cpu_ms_per_call_second", LowerIsBetter, "ms"},
	{"webrtc_rss_bytes_per_call", LowerIsBetter, "B"},
	{"webrtc_heap_bytes_per_call", LowerIsBetter, "B"},
	{"sip_rate", Informational, "calls/s"},
	{"sip_calls_per_sec", HigherIsBetter, "calls/s"},
	{"sip_failed_calls", LowerIsBetter, "calls"},
	{"sip_setup_p99_ms", LowerIsBetter, "ms"},
	{"sip_server_cpu_ms_per_call", LowerIsBetter, "ms"},
	{"sip_heap_bytes_per_live_call", LowerIsBetter, "B"},
}

// CompareRow is one figure of two reports.
type CompareRow struct {
	Figure     Figure
	Old, New   *float64 // nil: missing from that report
	ChangePct  *float64 // (new-old)/old × 100; nil when it cannot be computed
	Regression bool     // worse by more than the threshold
	Verdict    string   // "better", "worse", "REGRESSION", "same", "info", "missing in old", …
}

// Comparison is the result of Compare.
type Comparison struct {
	Rows        []CompareRow
	Regressions int
	Threshold   float64  // percent
	Notes       []string // why two runs may not be comparable
}

// LoadFigures reads a report written by --json and returns its top-level
// numeric figures and its parameters.
func LoadFigures(path string) (figs map[string]float64, params map[string]any, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, nil, fmt.Errorf("%s: not a bench report: %w", path, err)
	}
	if _, ok := m["workload"].(string); !ok {
		return nil, nil, fmt.Errorf("%s: not a bench report (no workload)", path)
	}
	params, _ = m["params"].(map[string]any)
	return numericFields(b), params, nil
}

// Compare compares the figures of an old and a new report. A figure that
// got worse by more than threshold percent is a regression; a figure missing
// from either report is shown as missing, never as a regression.
func Compare(old, new map[string]float64, threshold float64) Comparison {
	c := Comparison{Threshold: threshold}
	for _, f := range CompareFigures {
		row := CompareRow{Figure: f}
		if v, ok := old[f.Name]; ok {
			row.Old = f64(v)
		}
		if v, ok := new[f.Name]; ok {
			row.New = f64(v)
		}
		switch {
		case row.Old == nil && row.New == nil:
			continue
		case row.Old == nil:
			row.Verdict = "missing in old"
		case row.New == nil:
			row.Verdict = "missing in new"
		default:
			o, n := *row.Old, *row.New
			if o != 0 {
				row.ChangePct = f64((n - o) / math.Abs(o) * 100)
			}
			row.Verdict = verdict(f.Dir, o, n, row.ChangePct, threshold)
			row.Regression = row.Verdict == "REGRESSION"
		}
		if row.Regression {
			c.Regressions++
		}
		c.Rows = append(c.Rows, row)
	}
	return c
}

func verdict(dir Direction, o, n float64, change *float64, threshold float64) string {
	if dir == Informational {
		return "info"
	}
	if o == n {
		return "same"
	}
	better := n > o
	if dir == LowerIsBetter {
		better = n < o
	}
	if better {
		return "better"
	}
	// Worse: beyond the threshold is a regression. A change from zero has
	// no percentage and is worse without bound.
	if change == nil || math.Abs(*change) > threshold {
		return "REGRESSION"
	}
	return "worse (within threshold)"
}

// ParamNotes lists the parameters that differ between two runs: their
// figures are then not strictly comparable.
func ParamNotes(old, new map[string]any) []string {
	var notes []string
	for _, k := range []string{"calls", "concurrency", "records", "record_size", "replay_passes", "callers", "live_calls", "history_pass"} {
		// Compared as printed: a list (callers) is not comparable with !=.
		o, n := old[k], new[k]
		if o != nil && n != nil && fmt.Sprint(o) != fmt.Sprint(n) {
			notes = append(notes, fmt.Sprintf("%s differs: %v → %v", k, o, n))
		}
	}
	return notes
}

// Write prints the comparison as a table, then a verdict line.
func (c Comparison) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\told\tnew\tchange\tverdict")
	for _, r := range c.Rows {
		val := func(p *float64) string {
			if p == nil {
				return "—"
			}
			return formatFigure(*p) + unitSuffix(r.Figure.Unit)
		}
		change := "—"
		if r.ChangePct != nil {
			change = fmt.Sprintf("%+.1f %%", *r.ChangePct)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Figure.Name, val(r.Old), val(r.New), change, r.Verdict)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range c.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	var err error
	if c.Regressions > 0 {
		_, err = fmt.Fprintf(w, "%d regression(s) beyond %.1f %%\n", c.Regressions, c.Threshold)
	} else {
		_, err = fmt.Fprintf(w, "no regression beyond %.1f %%\n", c.Threshold)
	}
	return err
}

func unitSuffix(u string) string {
	if u == "" {
		return ""
	}
	return " " + u
}

// formatFigure prints large figures with separators, small ones with 3
// significant digits.
func formatFigure(v float64) string {
	if math.Abs(v) >= 1000 {
		return count(int64(math.Round(v)))
	}
	return sig3(v)
}

// CompareFiles loads two reports and compares them.
func CompareFiles(oldPath, newPath string, threshold float64) (Comparison, error) {
	if threshold < 0 || math.IsNaN(threshold) {
		return Comparison{}, errors.New("threshold must be a percentage ≥ 0")
	}
	of, op, err := LoadFigures(oldPath)
	if err != nil {
		return Comparison{}, err
	}
	nf, np, err := LoadFigures(newPath)
	if err != nil {
		return Comparison{}, err
	}
	c := Compare(of, nf, threshold)
	c.Notes = ParamNotes(op, np)
	return c, nil
}
