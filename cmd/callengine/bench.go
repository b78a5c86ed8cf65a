package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/callengine/callengine/bench"
)

const benchUsage = `usage: callengine bench [flags]
       callengine bench --compare OLD.json NEW.json [--threshold PCT]   (either may be -, stdin)

Runs load workloads against an in-process engine with a real journal on disk
and prints a summary table. Workloads (--workload, default all, in this order):
  lifecycle  complete calls/s (dial, ringing, answer, hold, resume, hang up),
             command latency (HDR histogram), allocations per call
  journal    durable appends/s beside raw bbolt (1,000 puts per transaction)
  soak       --calls live calls held; heap bytes per live call
  restore    time for engine.Open to bring back the soak's live calls
  replay     events/s scanned, decoded and folded from the journals
  webrtc     relayed calls between Go WebRTC peers through a real
             'callengine serve' child on loopback, 20 ms audio both ways,
             DTLS-SRTP: calls carried with < 1 % loss, packet loss, call
             setups/s, the server's CPU and memory per call
  sip        SIP calls from sipp (a phone, digest authenticated) through a
             real 'callengine serve' child out on a SIP trunk to a second
             sipp, on loopback: complete calls/s (INVITE … BYE), failed
             calls, setup time p50/p99, CPU of serve and of both sipps,
             heap per live call, every call checked in the journal (needs
             sipp: Debian's sip-tester)

The throughput targets are judged as ratios to raw bbolt measured in the same
run (the journal workload's, else a probe of about a second).

Exit status: 0 done, 1 a workload failed or --compare found a regression,
2 bad usage or a report that cannot be read. See docs/bench.md.

flags:
`

// benchDefaults are the defaults of a full run and of --quick.
// The timeouts make the promises hold by construction: a full run ends
// within 7 minutes and a quick one within 45 s, whatever the machine.
var benchDefaults = map[bool]struct {
	calls, concurrency, records, passes, webrtcCalls, sipRate int
	duration, webrtcDuration, sipDuration, sipHold, timeout   time.Duration
}{
	false: {calls: 100_000, concurrency: 1000, records: 500_000, passes: 5, webrtcCalls: 200, sipRate: 200,
		duration: 45 * time.Second, webrtcDuration: 20 * time.Second, sipDuration: 10 * time.Second, sipHold: time.Second,
		timeout: 410 * time.Second},
	true: {calls: 2_000, concurrency: 100, records: 20_000, passes: 1, webrtcCalls: 10, sipRate: 50,
		duration: 4 * time.Second, webrtcDuration: 3 * time.Second, sipDuration: 2 * time.Second, sipHold: 500 * time.Millisecond,
		timeout: 43 * time.Second},
}

// benchCmd runs `callengine bench`. Exit status: 0 done, 1 a workload failed
// or --compare found a regression, 2 bad flags or unreadable reports.
func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("bench", benchUsage, stderr)
	full := benchDefaults[false]
	workload := fs.String("workload", "all", "workload to run: all, "+strings.Join(bench.Workloads, ", "))
	calls := fs.Int("calls", full.calls, "lifecycle: complete calls to run; soak: live calls to hold (and restore); with --workload webrtc, as --webrtc-calls")
	webrtcCalls := fs.Int("webrtc-calls", full.webrtcCalls, "webrtc: relayed calls held at once, 2 clients each (quick: 10)")
	sipRate := fs.Int("sip-rate", full.sipRate, "sip: SIP calls started per second by the phone's sipp (quick: 50; the target is judged at 1000 for 60s)")
	sipDuration := fs.Duration("sip-duration", full.sipDuration, "sip: how long calls are started (--sip-rate × this calls in all; quick: 2s)")
	sipHold := fs.Duration("sip-hold", full.sipHold, "sip: how long each call stays up before the phone's BYE (quick: 500ms)")
	concurrency := fs.Int("concurrency", full.concurrency, "concurrent callers (lifecycle, soak) and appenders (journal)")
	duration := fs.Duration("duration", full.duration, "time cap of each workload's measured loop (then it stops and measures what it did); webrtc: its measured window (default 20s, quick 3s)")
	timeout := fs.Duration("timeout", full.timeout, "hard bound of the whole run: what is still running then fails")
	data := fs.String("data", "", "data directory for the journals (default: a temporary directory, removed afterwards)")
	records := fs.Int("records", full.records, "journal: durable 1-record appends (and as many raw bbolt puts)")
	recordSize := fs.Int("record-size", 64, "journal: bytes per record")
	passes := fs.Int("replay-passes", full.passes, "replay: times every journal is folded from scratch")
	var replayJournals stringList
	fs.Var(&replayJournals, "journal", "replay: fold this journal file (read-only) instead of the run's own; repeatable")
	interval := fs.Duration("interval", 250*time.Millisecond, "throughput sampling interval")
	quick := fs.Bool("quick", false, "small counts for a smoke run (under 45 s); explicit flags still win")
	withHistory := fs.Bool("history", false, "run the engines with the call history projection on (it follows the journal and competes for the CPU)")
	callersFlag := fs.String("callers", "", "lifecycle: callers of each pass, comma-separated (`LIST`, e.g. 1000,5000); the first pass gives the lifecycle figures (default: --concurrency)")
	historyPass := fs.Bool("history-pass", false, "lifecycle: one more pass with the call history the other way (judges its cost)")
	liveCalls := fs.Int("live-calls", 0, "soak: live calls to hold, which restore then reopens (default: --calls)")
	jsonPath := fs.String("json", "", "write the report as JSON to `FILE` (- for stdout)")
	plotPath := fs.String("plot", "", "draw throughput over time and latency percentiles to `FILE` (.svg or .png)")
	progress := fs.String("progress", "auto", "progress display: auto (a bar on a terminal, lines otherwise), bar, lines or off")
	compare := fs.Bool("compare", false, "compare two reports given as OLD.json NEW.json; exit 1 on a regression")
	threshold := fs.Float64("threshold", 10, "compare: a figure worse by more than this `percent` is a regression")

	positional, code, ok := parseFlags(fs, args, stdout, true)
	if !ok {
		return code
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "callengine bench: "+format+"\n", a...)
		fmt.Fprintln(stderr, "run 'callengine bench -h' for the flags")
		return 2
	}

	if *compare {
		if len(positional) != 2 {
			return usageErr("--compare takes two reports, OLD.json NEW.json (got %d)", len(positional))
		}
		if *threshold < 0 {
			return usageErr("--threshold must be ≥ 0")
		}
		if positional[0] == "-" && positional[1] == "-" {
			return usageErr("--compare: stdin (-) holds one report: give - once")
		}
		reports := positional[:2]
		for i, p := range reports {
			f, done, err := stdinFile(p)
			if err != nil {
				fmt.Fprintln(stderr, "callengine bench:", err)
				return 2
			}
			defer done()
			reports[i] = f
		}
		c, err := bench.CompareFiles(reports[0], reports[1], *threshold)
		if err != nil {
			fmt.Fprintln(stderr, "callengine bench:", err)
			return 2
		}
		if err := c.Write(stdout); err != nil {
			fmt.Fprintln(stderr, "callengine bench:", err)
			return 1
		}
		if c.Regressions > 0 {
			return 1
		}
		return 0
	}
	if len(positional) > 0 {
		return usageErr("unexpected argument %q (reports to compare need --compare)", positional[0])
	}

	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *quick {
		q := benchDefaults[true]
		if !set["calls"] {
			*calls = q.calls
		}
		if !set["concurrency"] {
			*concurrency = q.concurrency
		}
		if !set["records"] {
			*records = q.records
		}
		if !set["replay-passes"] {
			*passes = q.passes
		}
		if !set["duration"] {
			*duration = q.duration
		}
		if !set["timeout"] {
			*timeout = q.timeout
		}
		if !set["webrtc-calls"] {
			*webrtcCalls = q.webrtcCalls
		}
		if !set["sip-rate"] {
			*sipRate = q.sipRate
		}
		if !set["sip-duration"] {
			*sipDuration = q.sipDuration
		}
		if !set["sip-hold"] {
			*sipHold = q.sipHold
		}
	}
	webrtcWindow := benchDefaults[*quick].webrtcDuration
	if set["duration"] {
		webrtcWindow = *duration
	}
	if *workload == "webrtc" && set["calls"] && !set["webrtc-calls"] {
		*webrtcCalls = *calls
	}
	switch {
	case *workload != "all" && !slices.Contains(bench.Workloads, *workload):
		return usageErr("unknown workload %q (want all, %s)", *workload, strings.Join(bench.Workloads, ", "))
	case *calls < 1 || *calls > 10_000_000:
		return usageErr("--calls must be between 1 and 10,000,000")
	case *concurrency < 1 || *concurrency > 100_000:
		return usageErr("--concurrency must be between 1 and 100,000")
	case *webrtcCalls < 1 || *webrtcCalls > 5000:
		return usageErr("--webrtc-calls (or --calls with --workload webrtc) must be between 1 and 5,000")
	case *sipRate < 1 || *sipRate > 20_000:
		return usageErr("--sip-rate must be between 1 and 20,000 calls/s")
	case *sipDuration < 100*time.Millisecond || *sipDuration > 24*time.Hour:
		return usageErr("--sip-duration must be between 100ms and 24h")
	case *sipHold < 10*time.Millisecond || *sipHold > time.Hour:
		return usageErr("--sip-hold must be between 10ms and 1h")
	case float64(*sipRate)*sipDuration.Seconds() < 1:
		return usageErr("--sip-rate × --sip-duration must be at least one call")
	case *liveCalls < 0 || *liveCalls > 10_000_000:
		return usageErr("--live-calls must be between 1 and 10,000,000 (0: as --calls)")
	case *records < 1 || *records > 100_000_000:
		return usageErr("--records must be between 1 and 100,000,000")
	case *recordSize < 1 || *recordSize > 1<<20:
		return usageErr("--record-size must be between 1 and 1 MiB")
	case *passes < 1 || *passes > 1000:
		return usageErr("--replay-passes must be between 1 and 1,000")
	case *duration <= 0:
		return usageErr("--duration must be positive")
	case *timeout <= 0:
		return usageErr("--timeout must be positive")
	case *interval < 10*time.Millisecond:
		return usageErr("--interval must be at least 10ms")
	case *plotPath != "" && !slices.Contains([]string{".svg", ".png"}, strings.ToLower(filepath.Ext(*plotPath))):
		return usageErr("--plot %s: the name must end in .svg or .png", *plotPath)
	case !slices.Contains([]string{"auto", "bar", "lines", "off"}, *progress):
		return usageErr("--progress must be auto, bar, lines or off")
	case len(replayJournals) > 0 && *workload != "replay":
		return usageErr("--journal needs --workload replay")
	}
	callers, err := parseCallers(*callersFlag)
	if err != nil {
		return usageErr("--callers: %v", err)
	}
	for _, p := range replayJournals {
		if _, err := os.Stat(p); err != nil {
			return usageErr("--journal: %v", err)
		}
	}

	dir := *data
	if dir == "" {
		tmp, err := os.MkdirTemp("", "callengine-bench-")
		if err != nil {
			fmt.Fprintln(stderr, "callengine bench:", err)
			return 1
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	view := newProgressView(stderr, *progress)
	opts := bench.Options{
		Workload: *workload, Calls: *calls, Concurrency: *concurrency, Records: *records, RecordSize: *recordSize,
		Duration: *duration, Interval: *interval, ReplayPasses: *passes, ReplayJournals: replayJournals,
		DataDir: dir, Quick: *quick, History: *withHistory, Progress: view.update,
		Callers: callers, HistoryPass: *historyPass, LiveCalls: *liveCalls,
		WebRTCCalls: *webrtcCalls, WebRTCDuration: webrtcWindow,
		SIPRate: *sipRate, SIPDuration: *sipDuration, SIPHold: *sipHold,
	}
	note := fmt.Sprintf("callengine bench: workload %s", *workload)
	if *workload != "webrtc" && *workload != "sip" {
		note += fmt.Sprintf(", %s calls, concurrency %s", bench.Count(int64(*calls)), bench.Count(int64(*concurrency)))
	}
	if *workload == "all" || *workload == "journal" {
		note += fmt.Sprintf(", %s journal records", bench.Count(int64(*records)))
	}
	if *workload == "all" || *workload == "webrtc" {
		note += fmt.Sprintf(", %s webrtc calls for %v", bench.Count(int64(*webrtcCalls)), webrtcWindow)
	}
	if *workload == "all" || *workload == "sip" {
		note += fmt.Sprintf(", %s SIP calls/s for %v held %v", bench.Count(int64(*sipRate)), *sipDuration, *sipHold)
	}
	view.note(fmt.Sprintf("%s, cap %v per workload; data in %s", note, *duration, dir))
	runCtx, cancel := context.WithTimeout(ctx, *timeout)
	rep, runErr := bench.Run(runCtx, opts)
	timedOut := errors.Is(runCtx.Err(), context.DeadlineExceeded)
	cancel()
	view.close()

	code = 0
	// With --json -, stdout carries the report alone; the table goes to stderr.
	tableOut := stdout
	if *jsonPath == "-" {
		tableOut = stderr
	}
	fmt.Fprintln(tableOut)
	if err := rep.WriteTable(tableOut); err != nil {
		fmt.Fprintln(stderr, "callengine bench:", err)
		code = 1
	}
	if *jsonPath != "" {
		if err := rep.WriteJSON(*jsonPath, stdout); err != nil {
			fmt.Fprintln(stderr, "callengine bench: --json:", err)
			code = 1
		} else if *jsonPath != "-" {
			fmt.Fprintln(stdout, "report:", *jsonPath)
		}
	}
	if *plotPath != "" {
		if err := bench.WritePlot(*plotPath, rep); err != nil {
			fmt.Fprintln(stderr, "callengine bench: --plot:", err)
			code = 1
		} else {
			fmt.Fprintln(tableOut, "plot:", *plotPath)
		}
	}
	if runErr != nil {
		if timedOut {
			fmt.Fprintf(stderr, "callengine bench: the run reached its --timeout of %v\n", *timeout)
		}
		fmt.Fprintln(stderr, "callengine bench:", runErr)
		code = 1
	}
	return code
}

// parseCallers reads --callers: counts between 1 and 100,000, separated by
// commas; "" is none.
func parseCallers(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(strings.ReplaceAll(f, "_", "")))
		if err != nil || n < 1 || n > 100_000 {
			return nil, fmt.Errorf("%q is not a count of callers between 1 and 100,000", strings.TrimSpace(f))
		}
		out = append(out, n)
	}
	return out, nil
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// progressView shows bench.Progress: a single redrawn line on a terminal,
// plain lines otherwise (at most one a second per phase, plus the start and
// end of each phase).
type progressView struct {
	w    io.Writer
	mode string // "bar", "lines" or "off"

	mu        sync.Mutex
	cur       bench.Progress
	curAt     time.Time // when cur's phase started
	drawn     bool      // a bar line is on screen
	lastLine  time.Time
	quit      chan struct{}
	done      chan struct{}
	spinnerAt int
}

func newProgressView(w io.Writer, mode string) *progressView {
	if mode == "auto" {
		mode = "lines"
		if isTerminal(w) {
			mode = "bar"
		}
	}
	v := &progressView{w: w, mode: mode, quit: make(chan struct{}), done: make(chan struct{})}
	if mode == "bar" {
		go v.redraw()
	} else {
		close(v.done)
	}
	return v
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// redraw keeps the bar's clock moving during phases that report nothing
// until they end (journal appends, engine.Open).
func (v *progressView) redraw() {
	defer close(v.done)
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-v.quit:
			return
		case <-t.C:
			v.mu.Lock()
			if v.cur.Workload != "" {
				v.spinnerAt++
				v.drawBar()
			}
			v.mu.Unlock()
		}
	}
}

func (v *progressView) note(s string) {
	if v.mode == "off" {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.clearBar()
	fmt.Fprintln(v.w, s)
}

func (v *progressView) update(p bench.Progress) {
	if v.mode == "off" {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	newPhase := p.Workload != v.cur.Workload || p.Phase != v.cur.Phase
	if newPhase {
		v.curAt = time.Now()
	}
	if p.Final {
		v.clearBar()
		fmt.Fprintf(v.w, "%-9s %s\n", p.Workload, p.Message)
		v.cur = bench.Progress{}
		return
	}
	v.cur = p
	switch v.mode {
	case "bar":
		v.drawBar()
	case "lines":
		if newPhase || time.Since(v.lastLine) >= time.Second {
			v.lastLine = time.Now()
			fmt.Fprintf(v.w, "%-9s %s\n", p.Workload, v.describe(p, false))
		}
	}
}

// describe renders a progress report; with bar, a bar of the done share.
func (v *progressView) describe(p bench.Progress, bar bool) string {
	elapsed := time.Since(v.curAt)
	var b strings.Builder
	b.WriteString(p.Phase)
	if p.Total > 0 {
		share := min(float64(p.Done)/float64(p.Total), 1)
		if bar {
			const width = 20
			n := int(share * width)
			fmt.Fprintf(&b, " [%s%s] %3.0f%%", strings.Repeat("#", n), strings.Repeat("-", width-n), share*100)
		}
		fmt.Fprintf(&b, "  %s/%s", bench.Count(p.Done), bench.Count(p.Total))
		if p.Rate <= 0 {
			b.WriteString(" " + p.Unit)
		}
	} else if bar {
		b.WriteString(" " + string(`|/-\`[v.spinnerAt%4]))
	}
	if p.Rate > 0 {
		fmt.Fprintf(&b, "  %s %s/s", bench.Count(int64(p.Rate)), p.Unit)
	}
	if elapsed >= 50*time.Millisecond || bar {
		fmt.Fprintf(&b, "  %.1fs", elapsed.Seconds())
	}
	return b.String()
}

func (v *progressView) drawBar() {
	line := fmt.Sprintf("%-9s %s", v.cur.Workload, v.describe(v.cur, true))
	// A line longer than the terminal would wrap, and \r would then redraw
	// only its last part.
	width := 80
	if c, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && c > 20 {
		width = c
	}
	if len(line) > width-1 {
		line = line[:width-1]
	}
	fmt.Fprintf(v.w, "\r\033[K%s", line)
	v.drawn = true
}

func (v *progressView) clearBar() {
	if v.drawn {
		fmt.Fprint(v.w, "\r\033[K")
		v.drawn = false
	}
}

func (v *progressView) close() {
	select {
	case <-v.quit:
	default:
		close(v.quit)
	}
	<-v.done
	v.mu.Lock()
	v.clearBar()
	v.mu.Unlock()
}
